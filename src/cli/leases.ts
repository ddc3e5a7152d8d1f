/**
 * The CLI's side of the leases (src/jobs/leases.ts): every command that takes one accepts
 * `--wait` (wait for the holder, polling at growing intervals up to 5 s, instead of exiting 2)
 * and `--wait-timeout SECONDS` (how long, default an hour; then exit 2 naming the holder).
 */
import type { Db } from '../db/index.js'
import { Leases } from '../jobs/leases.js'
import { UsageError } from '../errors.js'
import { stringFlag, type CommandContext, type OptionSpec } from './command.js'

export const WAIT_OPTIONS: OptionSpec = {
  wait: { type: 'boolean' },
  'wait-timeout': { type: 'string' },
}

export const WAIT_USAGE = '[--wait [--wait-timeout SECONDS]]'

export const WAIT_HELP = [
  '--wait     when serve or another command holds this job (or the catalog), wait until it ends',
  '           instead of exiting 2; --wait-timeout SECONDS bounds the wait (default 3600)',
]

const DEFAULT_WAIT_S = 3600

/** The leases of a CLI command, waiting as its `--wait` says. */
export function cliLeases(db: Db, ctx: CommandContext, signal?: AbortSignal): Leases {
  const timeout = stringFlag(ctx.values['wait-timeout'])
  if (timeout !== undefined && !ctx.values.wait) throw new UsageError('--wait-timeout needs --wait')
  if (!ctx.values.wait) return new Leases(db, { holder: 'cli' })
  const seconds = timeout === undefined ? DEFAULT_WAIT_S : Number(timeout)
  if (!Number.isFinite(seconds) || seconds < 0)
    throw new UsageError(`--wait-timeout must be a number of seconds, not ${JSON.stringify(timeout)}`)
  return new Leases(db, {
    holder: 'cli',
    wait: {
      timeoutMs: seconds * 1000,
      onWait: (held) =>
        ctx.err.write(
          `aacseed: waiting (up to ${seconds} s): ${held.job} is running in ${held.holder === 'serve' ? 'serve' : 'aacseed'} (pid ${held.pid})\n`,
        ),
      ...(signal ? { signal } : {}),
    },
  })
}
