import type { Command } from '../command.js'
import { aacidNew, aacidParse } from './aacid.js'
import { demoCommand, getCommand, scanCommand, validateCommand } from './catalog.js'

/** Every CLI command, in the order `aacseed --help` lists them. */
export const commands: Command[] = [scanCommand, validateCommand, getCommand, demoCommand, aacidParse, aacidNew]
