/**
 * Logging: pino JSON lines on stdout (journald stores them as they are; `journalctl -u aacseed
 * -o cat | pino-pretty` reads them back), or pino-pretty when a person watches a terminal.
 * Each area logs through a child logger tagged `area` (`logger.child({ area: 'scan' })`).
 * Secrets are redacted by field name, and `redactUrl` (redact.ts) hides the ones inside URLs.
 */
import { fstatSync } from 'node:fs'
import { createRequire } from 'node:module'
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino'
import type PinoPretty from 'pino-pretty'

// pino-pretty (and its colour and date libraries) is loaded only when a person watches a
// terminal: every CLI command imports this module, and start-up time is part of each command.
const require = createRequire(import.meta.url)

export { redactUrl, redactUrlsIn, REDACTED } from './redact.js'

export type Logger = PinoLogger
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface LoggerOptions {
  level: LogLevel
  /**
   * Human-readable lines instead of JSON. Default: when stdout is a terminal (and no destination is given).
   */
  pretty?: boolean
  /** Where lines go: a stream, or a file descriptor. Default: stdout (fd 1). */
  destination?: NodeJS.WritableStream | number
  /**
   * Prefix each line with its syslog priority (`<4>` for warn) so `journalctl -p warning` works;
   * journald strips the prefix, so the stored message is the plain JSON line. Default: when stdout
   * is journald's stream (systemd sets JOURNAL_STREAM to its device:inode) and no destination is given.
   */
  journald?: boolean
}

const CENSOR = '[redacted]'

/** Field paths whose values never reach a log line (fast-redact syntax; `*` is one level). */
export const REDACT_PATHS: readonly string[] = [
  'password',
  'token',
  'authorization',
  '*.password',
  '*.token',
  '*.authorization',
  '*.*.password',
  '*.*.token',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
]

export function createLogger(opts: LoggerOptions): Logger {
  const toStdout = opts.destination === undefined || opts.destination === 1
  const usePretty = opts.pretty ?? (toStdout && process.stdout.isTTY === true)
  const useJournald = !usePretty && (opts.journald ?? (toStdout && stdoutIsJournal()))
  const options = {
    level: opts.level,
    // journald already records the pid and host of every line.
    base: null,
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACT_PATHS], censor: CENSOR },
  }
  const dest = opts.destination ?? 1
  if (usePretty) {
    // In this thread, not a transport worker: start-up stays fast and every line is out
    // before the process exits.
    const pretty = require('pino-pretty') as typeof PinoPretty
    const stream = pretty({
      destination: dest,
      sync: true,
      colorize: toStdout && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'area',
      messageFormat: (log, messageKey) =>
        (typeof log.area === 'string' ? `[${log.area}] ` : '') +
        (typeof log[messageKey] === 'string' ? log[messageKey] : ''),
    })
    return pino(options, stream)
  }
  const out: DestinationStream =
    typeof dest === 'number' ? pino.destination({ dest, sync: true }) : (dest as DestinationStream)
  return pino(options, useJournald ? withSyslogPriority(out) : out)
}

// pino levels to syslog priorities (sd-daemon(3)): fatal crit, error err, warn warning, info, debug.
function syslogPriority(level: number): number {
  if (level >= 60) return 2
  if (level >= 50) return 3
  if (level >= 40) return 4
  if (level >= 30) return 6
  return 7
}

function withSyslogPriority(out: DestinationStream): DestinationStream {
  // pino fills in lastLevel before each write to a stream that asks for metadata.
  const stream = {
    [pino.symbols.needsMetadataGsym]: true as const,
    lastLevel: 30,
    lastTime: '',
    lastMsg: '',
    lastObj: {},
    lastLogger: undefined as unknown as Logger,
    write(line: string): void {
      out.write(`<${syslogPriority(stream.lastLevel)}>${line}`)
    },
    flush(cb: (err?: Error) => void): void {
      const f = (out as { flush?: (cb: (err?: Error) => void) => void }).flush
      if (typeof f === 'function') f.call(out, cb)
      else cb()
    },
  }
  return stream
}

/** systemd connects stdout to journald and sets JOURNAL_STREAM=<device>:<inode> of that socket. */
function stdoutIsJournal(): boolean {
  const want = process.env.JOURNAL_STREAM
  if (!want) return false
  try {
    const st = fstatSync(1, { bigint: true })
    return want === `${st.dev}:${st.ino}`
  } catch {
    return false
  }
}
