import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { Config } from '../config/index.js'
import { databaseEnvironmentError } from '../db/failure.js'
import { AacseedError, ConfigError, EnvironmentError, UsageError } from '../errors.js'
import { errnoEnvironmentError } from '../fs.js'
import type { Command, CommandIO, OptionSpec } from './command.js'
import { visibleStream } from './terminal.js'
import { asksForHelp, commandEntries, findCommand } from './commands/index.js'

export type { Command, CommandContext, CommandIO } from './command.js'

const GLOBAL_OPTIONS: OptionSpec = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  debug: { type: 'boolean' },
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

let exitWhenDone = false

/**
 * Whether the command that `main` ran asks to end the process as soon as it returns
 * (CommandEntry.exitWhenDone): bin/aacseed.js then calls process.exit. Only for commands that
 * leave nothing behind; others (serve, seed) end when their last handle closes.
 */
export function exitsWhenDone(): boolean {
  return exitWhenDone
}

/**
 * Runs one CLI invocation and returns its exit code: 0 ok, 1 problems found, 2 usage or
 * configuration error, 3 environment failure (disk full, read-only, permission, I/O).
 */
export async function main(argv: string[], io: Partial<CommandIO> = {}): Promise<number> {
  // Every human-readable line may hold a stranger's file name: shown visibly (src/cli/terminal.ts).
  const ctxIO: CommandIO = {
    out: visibleStream(io.out ?? process.stdout),
    err: visibleStream(io.err ?? process.stderr),
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    ctxIO.out.write(await overview())
    return argv.length === 0 ? 2 : 0
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    const { SCHEMA_VERSION } = await import('../db/migrations/index.js')
    ctxIO.out.write(`aacseed ${version()} (catalog schema ${SCHEMA_VERSION})\n`)
    return 0
  }
  const [entry, rest] = findCommand(argv)
  const group = commandEntries.filter((c) => c.name.startsWith(`${argv[0]} `))
  // `aacseed torrents`, `aacseed torrents --help`: the group's commands, not "unknown command".
  if (!entry && group.length > 0 && (argv.length === 1 || ['--help', '-h', 'help'].includes(argv[1]!))) {
    const width = Math.max(...group.map((c) => c.name.length))
    ;(argv.length === 1 ? ctxIO.err : ctxIO.out).write(
      [
        `usage: aacseed ${argv[0]} COMMAND [options]    (aacseed ${argv[0]} COMMAND --help for details)`,
        '',
        ...group.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
        '',
      ].join('\n'),
    )
    return argv.length === 1 ? 2 : 0
  }
  if (!entry) {
    ctxIO.err.write(
      `aacseed: unknown command ${JSON.stringify(argv.slice(0, 2).join(' '))}\n\n${await overview()}`,
    )
    return 2
  }
  // Only a head start: if it fails, the command does the same work itself when it needs it.
  if (entry.prestart && !asksForHelp(rest)) {
    const prestarted = entry.prestart({ args: rest, env: ctxIO.env, cwd: ctxIO.cwd }).catch(() => {})
    if (entry.prestartFirst) await prestarted
  }
  // The config's modules (the schema, zod, the TOML parser) load beside the command's: the loader
  // compiles one graph while it waits on the other's file reads.
  const configModule = import('../config/index.js')
  configModule.catch(() => {})
  const command = await entry.load()
  exitWhenDone = entry.exitWhenDone === true
  try {
    let parsed
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...GLOBAL_OPTIONS, ...command.options },
        allowPositionals: true,
        strict: true,
      })
    } catch (e) {
      throw new UsageError(
        `${(e as Error).message.split('\n')[0]}\nusage: aacseed ${command.name} ${command.usage}`,
      )
    }
    const configPath = typeof parsed.values.config === 'string' ? parsed.values.config : undefined
    // Loaded once a command runs: `aacseed --help` needs no schema (zod) or TOML parser.
    const { describeConfigLocation, loadConfig, locateConfig } = await configModule
    if (parsed.values.help) {
      const where = describeConfigLocation(
        locateConfig({ path: configPath, env: ctxIO.env, cwd: ctxIO.cwd }),
        ctxIO.env,
      )
      ctxIO.out.write(commandHelp(command, entry.summary, where))
      return 0
    }
    let config: Config | undefined
    return await command.run({
      ...ctxIO,
      values: parsed.values,
      positionals: parsed.positionals,
      config: (opts) =>
        (config ??= loadConfig({ path: configPath, env: ctxIO.env, cwd: ctxIO.cwd, ...opts })),
    })
  } catch (e) {
    return reportError(e, ctxIO, rest.includes('--debug'))
  }
}

/** Exit codes, as the README's table documents them. */
export const EXIT = { ok: 0, problems: 1, usage: 2, environment: 3 } as const

function reportError(e: unknown, io: CommandIO, debug: boolean): number {
  const stack = (x: unknown): string =>
    debug && x instanceof Error && x.stack
      ? `\n${x.stack}${x.cause ? `\ncaused by: ${stack(x.cause)}` : ''}`
      : ''
  if (e instanceof UsageError || e instanceof ConfigError) {
    io.err.write(`aacseed: ${e.message}${stack(e)}\n`)
    return EXIT.usage
  }
  const env = e instanceof EnvironmentError ? e : (databaseEnvironmentError(e) ?? errnoEnvironmentError(e))
  if (env) {
    io.err.write(`aacseed: ${env.message}${stack(env.cause ?? env)}\n`)
    return EXIT.environment
  }
  if (e instanceof AacseedError) {
    const where = e.location.path
      ? ` (${e.location.path}${e.location.line ? `:${e.location.line}` : ''})`
      : ''
    io.err.write(`aacseed: ${e.code}: ${e.message}${where}${stack(e)}\n`)
    return EXIT.problems
  }
  // A bug: the stack is what a report needs, so it is shown without --debug too.
  io.err.write(`aacseed: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  return EXIT.problems
}

async function overview(): Promise<string> {
  // From the entries alone: listing the commands loads none of them.
  const commands = commandEntries
  const width = Math.max(...commands.map((c) => c.name.length))
  return [
    `aacseed ${version()}: catalog, torrent and seed Anna's Archive Container (AAC) releases`,
    '',
    'usage: aacseed COMMAND [options]    (aacseed COMMAND --help for details)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'global options:',
    '  --config PATH   TOML configuration (default: the first of $AACSEED_CONFIG, ./aacseed.toml,',
    '                  $XDG_CONFIG_HOME/aacseed/aacseed.toml, /etc/aacseed/aacseed.toml; else built-in',
    '                  defaults with data in $XDG_DATA_HOME/aacseed; `aacseed config` shows which)',
    '  --debug         show the stack of an error',
    '  -h, --help      help',
    '  -V, --version   print the version',
    '',
    'exit codes: 0 ok, 1 problems found, 2 usage or configuration error,',
    '            3 environment failure (disk full, read-only, permission denied, I/O error)',
    '',
  ].join('\n')
}

function commandHelp(c: Command, summary: string, configLine: string): string {
  return [
    `usage: aacseed ${c.name} ${c.usage}`,
    '',
    summary,
    ...(c.help ? ['', ...c.help.map((l) => `  ${l}`)] : []),
    '',
    configLine,
    '',
  ].join('\n')
}
