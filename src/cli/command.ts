import type { ParseArgsConfig } from 'node:util'
import type { Config } from '../config/index.js'

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

export interface CommandIO {
  out: NodeJS.WritableStream & { isTTY?: boolean }
  err: NodeJS.WritableStream & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
  cwd: string
}

export interface CommandContext extends CommandIO {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>
  positionals: string[]
  /** The configuration from `--config`/AACSEED_CONFIG, loaded on first use. */
  config(opts?: { checkRoots?: boolean }): Config
}

export interface Command {
  /** One or two words: `scan`, `torrents make`. */
  name: string
  /** Argument synopsis after the name, e.g. `[ROOT...] [--db PATH] [--json]`. */
  usage: string
  options: OptionSpec
  /** Longer help: one line per option or note. */
  help?: string[]
  run(ctx: CommandContext): Promise<number>
}

export function defineCommand(c: Command): Command {
  return c
}

export function writeJson(io: CommandIO, value: unknown): void {
  io.out.write(JSON.stringify(value, null, 2) + '\n')
}

/** A parsed option value that is a string, or undefined (absent, or a boolean flag given bare). */
export function stringFlag(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}
