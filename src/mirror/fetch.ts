/**
 * Getting upstream bytes (a list or a .torrent) from an http(s) URL or a file, within a size
 * limit and a timeout, retrying with backoff (`withRetry`). Failures are `MirrorError`s naming what
 * was fetched; a body larger than the limit is cut off as it streams, never buffered whole.
 *
 * With a host policy, requests go through a dispatcher of their own (an Agent of the host
 * fetch's undici, `hostAgentClass`) whose connections resolve names through `pinnedLookup`: the
 * addresses a connection is made to are the ones checked, so a name that resolves to a public
 * address when checked and to 127.0.0.1 when connected (DNS rebinding) is refused.
 */
import { lookup } from 'node:dns/promises'
import { lstat, open } from 'node:fs/promises'
import { isIP, type LookupFunction } from 'node:net'
import { errorMessage } from '../errors.js'
import { type Dispatcher, hostAgentClass } from '../host-agent.js'
import { withRetry } from '../retry.js'
import { MirrorError } from './errors.js'
import { displayLocation, isRemote } from './location.js'

export { displayLocation, isRemote }

export interface FetchOptions {
  maxBytes: number
  timeoutMs: number
  /** Further attempts after the first. */
  retries: number
  retryBaseMs: number
  /** Which hosts a URL (and every redirect) may name; absent: any. */
  hosts?: HostPolicy
  signal?: AbortSignal
  /** Told about each failed attempt that will be retried. */
  onRetry?: (attempt: number, error: MirrorError, delayMs: number) => void
}

export async function fetchBytes(location: string, opts: FetchOptions): Promise<Buffer> {
  if (!isRemote(location)) return readLocal(location, opts.maxBytes)
  return withRetry(
    async () => {
      try {
        return await fetchOnce(location, opts)
      } catch (e) {
        if (e instanceof MirrorError) throw e
        throw new MirrorError('fetch-failed', `${displayLocation(location)}: ${errorMessage(e)}`, {
          transient: true,
        })
      }
    },
    {
      attempts: opts.retries + 1,
      backoff: { baseMs: opts.retryBaseMs, maxMs: MAX_FETCH_DELAY_MS },
      retryable: (e) => e instanceof MirrorError && e.transient,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onRetry: (n, e, delay) => opts.onRetry?.(n, e as MirrorError, delay),
    },
  )
}

/** Within one sync a request waits at most this long between tries; later passes retry further apart. */
const MAX_FETCH_DELAY_MS = 60_000

async function fetchOnce(location: string, opts: FetchOptions): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of openStream(location, opts)) {
    chunks.push(Buffer.from(chunk))
    size += chunk.length
  }
  return Buffer.concat(chunks, size)
}

/** One request's whole transfer may take this many `timeoutMs`. */
export const TOTAL_TIMEOUTS = 10

/** Redirects followed at most; each one is checked like the first URL. */
const MAX_REDIRECTS = 5

/**
 * The body of one http(s) GET, chunk by chunk, cut off (`too-large`) as soon as it passes
 * `maxBytes`. Redirects are followed by hand so that each target is checked against the host
 * policy before it is asked, and so that no raw `Location` (which may carry a token) reaches
 * a message: every URL shown goes through `displayLocation`.
 */
export async function* openStream(location: string, opts: FetchOptions): AsyncGenerator<Uint8Array> {
  // `timeoutMs` bounds the wait for the response, then each wait for the next piece of the body.
  // The whole transfer gets `TOTAL_TIMEOUTS` times as long: a list of a million entries is paced
  // by how fast it is stored and may rightly take longer than one timeout, but an upstream that
  // drips a byte at a time must still end.
  const dispatcher = opts.hosts && !opts.hosts.allowPrivate ? pinnedAgent(opts.hosts) : undefined
  const timeout = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const arm = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => timeout.abort(new DOMException('timed out', 'TimeoutError')), opts.timeoutMs)
  }
  const signal = AbortSignal.any([
    ...(opts.signal ? [opts.signal] : []),
    timeout.signal,
    AbortSignal.timeout(opts.timeoutMs * TOTAL_TIMEOUTS),
  ])
  arm()
  try {
    yield* stream(location, opts, signal, arm, dispatcher)
  } finally {
    clearTimeout(timer)
  }
}

async function* stream(
  location: string,
  opts: FetchOptions,
  signal: AbortSignal,
  arm: () => void,
  dispatcher: Dispatcher | undefined,
): AsyncGenerator<Uint8Array> {
  let current = location
  let res: Response
  for (let hops = 0; ; hops++) {
    const url = displayLocation(current)
    // Early and with a plain message; an IP literal is checked only here (a connection to one
    // resolves nothing). For a name, the check that counts is on the connection (`pinnedLookup`).
    if (opts.hosts) await checkHost(current, opts.hosts, url)
    try {
      res = await fetch(current, {
        signal,
        redirect: 'manual',
        headers: { accept: 'application/json, application/x-bittorrent, */*' },
        // The host fetch's own Agent, typed by aacseed only as far as it uses it.
        ...(dispatcher
          ? { dispatcher: dispatcher as unknown as NonNullable<RequestInit['dispatcher']> }
          : {}),
      })
    } catch (e) {
      const refused = privateAddressOf(e)
      if (refused !== null) throw privateHostError(url, refused, ' when connecting')
      throw new MirrorError('fetch-failed', `${url}: ${describeFetchError(e)}`, { transient: true })
    }
    if (res.status < 300 || res.status > 399 || res.status === 304) break
    await res.body?.cancel().catch(() => {})
    const target = res.headers.get('location')
    if (hops >= MAX_REDIRECTS)
      throw new MirrorError('fetch-failed', `${url}: more than ${MAX_REDIRECTS} redirects`, {
        transient: true,
      })
    let next: URL | null = null
    try {
      next = target ? new URL(target, current) : null
    } catch {
      next = null
    }
    if (next === null || (next.protocol !== 'http:' && next.protocol !== 'https:'))
      // The target is not shown: it is upstream's text, may hold a token, and is not a URL we would ask.
      throw new MirrorError('fetch-failed', `${url}: HTTP ${res.status} redirects to an unusable location`)
    current = next.href
  }
  const url = displayLocation(current)
  if (!res.ok) {
    await res.body?.cancel().catch(() => {})
    // 4xx may be a mirror's CDN hiccup as much as a missing file: retried like 5xx, and recorded.
    throw new MirrorError(
      'fetch-failed',
      `${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`,
      { transient: true },
    )
  }
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > opts.maxBytes) {
    await res.body?.cancel().catch(() => {})
    throw new MirrorError('too-large', `${url}: ${declared} bytes, more than the limit of ${opts.maxBytes}`)
  }
  let size = 0
  const reader = res.body?.getReader()
  if (!reader) return
  try {
    for (;;) {
      let r: Awaited<ReturnType<typeof reader.read>>
      arm()
      try {
        r = await reader.read()
      } catch (e) {
        throw new MirrorError('fetch-failed', `${url}: ${describeFetchError(e)}`, { transient: true })
      }
      if (r.done) return
      size += r.value.length
      if (size > opts.maxBytes)
        throw new MirrorError('too-large', `${url}: more than the limit of ${opts.maxBytes} bytes`)
      yield r.value
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
}

/**
 * Where URLs from upstream may point. A remote list must not make aacseed ask a host on the
 * machine or its network (a cloud metadata service at 169.254.169.254, an admin page on
 * 127.0.0.1): such hosts are refused unless the list itself is served from one, or the
 * operator allows them (`mirror.allow_private_hosts`).
 */
export interface HostPolicy {
  allowPrivate: boolean
  /** Tests replace the resolver and the rule; the real ones are `dns.lookup` and `isPrivateAddress`. */
  resolve?: (host: string) => Promise<string[]>
  isPrivate?: (address: string) => boolean
}

/** Loopback, private (RFC 1918, ULA), link-local, CGNAT, unspecified and multicast addresses. */
export function isPrivateAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase()
  if (isIP(a) === 4) {
    const [p, q] = a.split('.').map(Number) as [number, number]
    return (
      p === 0 ||
      p === 10 ||
      p === 127 ||
      (p === 100 && q >= 64 && q <= 127) ||
      (p === 169 && q === 254) ||
      (p === 172 && q >= 16 && q <= 31) ||
      (p === 192 && q === 168) ||
      p >= 224
    )
  }
  if (isIP(a) === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a)
    if (mapped) return isPrivateAddress(mapped[1]!)
    return a === '::' || a === '::1' || /^f[cd]/.test(a) || /^fe[89ab]/.test(a) || a.startsWith('ff')
  }
  return false
}

/** Whether a location is on this machine or its network (a file counts: it is the operator's own). */
export async function isPrivateLocation(
  location: string,
  policy: Omit<HostPolicy, 'allowPrivate'> = {},
): Promise<boolean> {
  if (!isRemote(location)) return true
  try {
    const addrs = await addressesOf(new URL(location).hostname, policy)
    return addrs.some(policy.isPrivate ?? isPrivateAddress)
  } catch {
    return false
  }
}

async function addressesOf(hostname: string, policy: Omit<HostPolicy, 'allowPrivate'>): Promise<string[]> {
  const host = hostname.replace(/^\[|\]$/g, '')
  if (isIP(host)) return [host]
  return (policy.resolve ?? defaultResolve)(host)
}

async function checkHost(location: string, policy: HostPolicy, shown: string): Promise<void> {
  if (policy.allowPrivate) return
  let addrs: string[]
  try {
    addrs = await addressesOf(new URL(location).hostname, policy)
  } catch (e) {
    throw new MirrorError('fetch-failed', `${shown}: ${describeFetchError(e)}`, { transient: true })
  }
  const bad = addrs.find(policy.isPrivate ?? isPrivateAddress)
  if (bad !== undefined) throw privateHostError(shown, bad)
}

function privateHostError(shown: string, address: string, when = ''): MirrorError {
  return new MirrorError(
    'private-host',
    `${shown}: names a loopback, private or link-local address (${address})${when}; set mirror.allow_private_hosts = true to allow it`,
  )
}

/** What `pinnedLookup` fails a connection with; `stream` turns it into a `private-host` error. */
class PrivateAddressError extends Error {
  constructor(readonly address: string) {
    super(`refused to connect to a loopback, private or link-local address (${address})`)
  }
}

/** The refused address when a request failed on `pinnedLookup`'s refusal (undici wraps it as a cause). */
function privateAddressOf(e: unknown): string | null {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++)
    if (c instanceof PrivateAddressError) return c.address
  return null
}

/**
 * The resolver a connection uses under a host policy: it resolves the name itself (through the
 * policy's resolver) and refuses the connection when any address is private, so the address
 * connected to is one that was checked. Handles both of `net.connect`'s calling forms: one
 * address, or (with `autoSelectFamily`, Node's default) all of them.
 */
function pinnedLookup(policy: Omit<HostPolicy, 'allowPrivate'>): LookupFunction {
  return (hostname, options, callback) => {
    addressesOf(hostname, policy).then(
      (addrs) => {
        const isPrivate = policy.isPrivate ?? isPrivateAddress
        const bad = addrs.find((a) => isPrivate(a))
        if (bad !== undefined) return callback(new PrivateAddressError(bad), '', 0)
        const family = options.family === 4 || options.family === 6 ? options.family : 0
        const usable = addrs
          .map((address) => ({ address, family: isIP(address) }))
          .filter((a) => a.family !== 0 && (family === 0 || a.family === family))
        if (usable.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`${hostname}: no usable address`)
          err.code = 'ENOTFOUND'
          return callback(err, '', 0)
        }
        if (options.all) return (callback as unknown as AllCallback)(null, usable)
        callback(null, usable[0]!.address, usable[0]!.family)
      },
      (e: NodeJS.ErrnoException) => callback(e, '', 0),
    )
  }
}

type AllCallback = (
  err: NodeJS.ErrnoException | null,
  addresses: Array<{ address: string; family: number }>,
) => void

/**
 * One connection pool per resolver and rule (the real ones, or a test's), so keep-alive
 * connections are reused across requests; every new connection goes through `pinnedLookup`.
 * Without the host's Agent class (`hostAgentClass`: never so on the Node versions aacseed
 * supports) connections resolve names themselves, and only the check before each request holds.
 */
const agents = new WeakMap<object, WeakMap<object, Dispatcher>>()
function pinnedAgent(policy: HostPolicy): Dispatcher | undefined {
  const Agent = hostAgentClass()
  if (!Agent) return undefined
  const byResolver = policy.resolve ?? defaultResolve
  const byRule = policy.isPrivate ?? isPrivateAddress
  let inner = agents.get(byResolver)
  if (!inner) agents.set(byResolver, (inner = new WeakMap()))
  let agent = inner.get(byRule)
  if (!agent) {
    const lookup = pinnedLookup({
      resolve: byResolver,
      isPrivate: byRule,
    })
    inner.set(byRule, (agent = new Agent({ connect: { lookup } })))
  }
  return agent
}

async function defaultResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address)
}

function describeFetchError(e: unknown): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError'))
    return 'timed out or aborted'
  const cause = e instanceof Error ? (e.cause as NodeJS.ErrnoException | undefined) : undefined
  return cause?.code ? `${cause.code}${cause.message ? ` (${cause.message})` : ''}` : errorMessage(e)
}

/** A regular file (never a symlink, device or FIFO) no larger than the limit. */
async function readLocal(path: string, maxBytes: number): Promise<Buffer> {
  let st
  try {
    st = await lstat(path)
  } catch (e) {
    throw new MirrorError(
      'fetch-failed',
      `${path}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`,
      { transient: true, path },
    )
  }
  if (!st.isFile()) throw new MirrorError('fetch-failed', `${path}: not a regular file`, { path })
  if (st.size > maxBytes)
    throw new MirrorError('too-large', `${path}: ${st.size} bytes, more than the limit of ${maxBytes}`, {
      path,
    })
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.alloc(st.size)
    const { bytesRead } = await fh.read(buf, 0, st.size, 0)
    return buf.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
}
