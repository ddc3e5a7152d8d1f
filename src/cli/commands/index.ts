import type { Command } from '../command.js'
import { aacidNew, aacidParse } from './aacid.js'
import { demoCommand, getCommand, scanCommand, validateCommand } from './catalog.js'
import { coverageCommand } from './coverage.js'
import { fleetApply, fleetPlan, fleetStatus, healthCommand } from './fleet.js'
import { jobsCommand, runCommand, seedCommand, serveCommand } from './service.js'
import { torrentsList, torrentsMake } from './torrents.js'

/** Every CLI command, in the order `aacseed --help` lists them. */
export const commands: Command[] = [scanCommand, validateCommand, getCommand, torrentsMake, torrentsList, coverageCommand, serveCommand, seedCommand, jobsCommand, runCommand, fleetPlan, fleetApply, fleetStatus, healthCommand, demoCommand, aacidParse, aacidNew]
