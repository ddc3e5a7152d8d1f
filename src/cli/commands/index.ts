import type { Command } from '../command.js'
import { aacidNew, aacidParse } from './aacid.js'

/** Every CLI command, in the order `aacseed --help` lists them. */
export const commands: Command[] = [aacidParse, aacidNew]
