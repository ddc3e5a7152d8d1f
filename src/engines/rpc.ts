/**
 * What the four daemon clients share: their settings, one HTTP exchange with a timeout that
 * turns every failure into an `EngineError` (with no credentials in its message), and one
 * bounded retry of the failures worth retrying (a daemon restarting).
 *
 * The clients are written here rather than taken from @ctrl/transmission, @ctrl/qbittorrent
 * and @ctrl/deluge: each of those brings its own transport (ofetch) with its own retries and
 * error shapes, @ctrl/transmission's retries HTTP 409 without a limit and turns a refused
 * connection into an unrelated TypeError, and @ctrl/qbittorrent 9.16 declares Node >= 22. What
 * aacseed asks of a daemon is a dozen calls; one transport for all four keeps one retry bound,
 * one error vocabulary and one place where credentials live.
 */
import { posix } from 'node:path'
import { errorMessage } from '../errors.js'
import { redactUrl } from '../log/redact.js'
import { withRetry } from '../retry.js'
import { EngineError, type EngineLogger, type RemoteKind } from './engine.js'

export interface RetryPolicy {
  /** Tries in all, including the first (default 5). */
  attempts: number
  /** Wait before the second try; doubled for each further try (default 250 ms). */
  baseDelayMs: number
  /** Longest wait between tries (default 4 s). */
  maxDelayMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 4000 }

/** How to reach one daemon. The password is here, and nowhere in a config object or a message. */
export interface RemoteSettings {
  /** The RPC URL without credentials (`scgi://host:port` for rTorrent's SCGI). */
  url: string
  username: string
  password: string
  /** Local path prefix → the daemon's path (for `[engine]`; seedboxes give the daemon's path directly). */
  pathMap: Readonly<Record<string, string>>
  labels: readonly string[]
  timeoutMs: number
  /**
   * Deluge: the daemon deluge-web should be connected to, `host:port`; '' keeps its current one, or its only
   * one.
   */
  daemon?: string
}

/** The calls of a health poll, as `RemoteEngineOptions.wireTap` names them. */
export type WireCall = 'info' | 'list' | 'freeSpace'

export interface RemoteEngineOptions {
  logger?: EngineLogger
  retry?: Partial<RetryPolicy>
  /**
   * Called with each health-poll answer as decoded from the wire, before it is mapped. The
   * contract suite records real daemons' answers with it, so the fleet benchmark's fakes can be
   * held to the same shape (test/fixtures/wire/).
   */
  wireTap?: (call: WireCall, answer: unknown) => void
}

/**
 * Splits credentials off a configured URL: fetch refuses them in a URL, and the URL is shown in
 * messages. Configured username and password win over the URL's.
 */
export function splitCredentials(
  raw: string,
  username: string,
  password: string | undefined,
): { url: URL; username: string; password: string } {
  const url = new URL(raw)
  const user = username || decodeURIComponent(url.username)
  const pass = password || decodeURIComponent(url.password)
  url.username = ''
  url.password = ''
  url.search = ''
  url.hash = ''
  return { url, username: user, password: pass }
}

/** The URL as messages show it: no credentials, no token in its path. */
export function displayUrl(url: URL): string {
  return redactUrl(url.toString())
}

/**
 * Runs `fn` until it succeeds, fails with a non-transient error, or `policy.attempts` are used up
 * (src/retry.ts).
 */
export async function retrying<T>(
  kind: RemoteKind,
  what: string,
  policy: RetryPolicy,
  log: EngineLogger,
  fn: () => Promise<T>,
): Promise<T> {
  return await withRetry(fn, {
    attempts: policy.attempts,
    backoff: { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs },
    retryable: (e) => e instanceof EngineError && e.transient,
    // Debug: a retry that works is a blip, and one that does not ends in an error its caller
    // reports (the job's failure, the torrent the seed job could not add, the seedbox down). A
    // daemon restarting while 10,000 torrents are added was a warning per torrent per retry.
    onRetry: (attempt, e, delayMs) =>
      log.debug?.({ what, attempt, delayMs, err: errorMessage(e) }, `${kind}: retrying`),
  })
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
])

export interface HttpAnswer {
  status: number
  headers: Headers
  text: string
}

/**
 * One HTTP request; a failure to get any answer is an `EngineError` (transient when the daemon may be
 * restarting).
 */
export async function httpExchange(
  kind: RemoteKind,
  display: string,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  what: string,
): Promise<HttpAnswer> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
    return { status: res.status, headers: res.headers, text: await res.text() }
  } catch (e) {
    throw networkError(kind, display, what, timeoutMs, e)
  }
}

export function networkError(
  kind: RemoteKind,
  display: string,
  what: string,
  timeoutMs: number,
  e: unknown,
): EngineError {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError'))
    return new EngineError(
      'engine-timeout',
      `${kind}: ${display}: no answer to ${what} within ${timeoutMs} ms`,
    )
  const code = errnoCode(e)
  return new EngineError(
    'engine-unreachable',
    `${kind}: cannot reach ${display}: ${code ?? errorMessage(e)}`,
    {
      transient: code !== undefined && TRANSIENT_CODES.has(code),
    },
  )
}

/** The error for an HTTP status other than success; `auth` says what a 401/403 means for this daemon. */
export function statusError(
  kind: RemoteKind,
  display: string,
  status: number,
  what: string,
  auth = 'wrong username or password',
): EngineError {
  if (status === 401 || status === 403)
    return new EngineError('engine-auth', `${kind}: ${display}: HTTP ${status} for ${what}: ${auth}`)
  if (status >= 500)
    return new EngineError('engine-unreachable', `${kind}: ${display}: HTTP ${status} for ${what}`, {
      transient: status >= 502,
    })
  return new EngineError('engine-rejected', `${kind}: ${display}: HTTP ${status} for ${what}`)
}

/** The errno-like code of a failed fetch or socket: undici puts it on `cause`, or on `cause.errors[]`. */
export function errnoCode(e: unknown): string | undefined {
  const direct = (e as { code?: unknown } | null)?.code
  if (typeof direct === 'string' && /^E[A-Z]+$/.test(direct)) return direct
  const cause = (e as { cause?: unknown } | null)?.cause as
    { code?: unknown; errors?: Array<{ code?: unknown }> } | undefined
  if (typeof cause?.code === 'string') return cause.code
  const inner = cause?.errors?.find((x) => typeof x.code === 'string')?.code
  return typeof inner === 'string' ? inner : undefined
}

/**
 * Maps a local path to the daemon's view of it: the longest `path_map` prefix wins, matched
 * on whole path components (`/srv/rel` does not map `/srv/release`). Unmapped paths pass as they are.
 */
export function mapPath(local: string, pathMap: Readonly<Record<string, string>>): string {
  const path = stripSlash(posix.normalize(local))
  let best: { from: string; to: string } | null = null
  for (const [rawFrom, to] of Object.entries(pathMap)) {
    const from = stripSlash(posix.normalize(rawFrom))
    const matches = from === '/' || path === from || path.startsWith(`${from}/`)
    if (matches && (best === null || from.length > best.from.length)) best = { from, to }
  }
  if (!best) return path
  const rest = best.from === '/' ? path : path.slice(best.from.length)
  return stripSlash(posix.normalize(`${stripSlash(best.to)}/${rest}`))
}

export function stripSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.replace(/\/+$/, '') || '/' : p
}

export const num = (v: unknown, dflt = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : dflt)

export const HEX40_ANY_CASE = /^[0-9a-fA-F]{40}$/
