/**
 * Getting upstream bytes (a list or a .torrent) from an http(s) URL or a file, within a size
 * limit and a timeout, retrying with backoff (`withRetry`). Failures are `MirrorError`s naming what
 * was fetched; a body larger than the limit is cut off as it streams, never buffered whole.
 */
import { lstat, open } from 'node:fs/promises'
import { errorMessage } from '../errors.js'
import { redactUrl } from '../log/index.js'
import { withRetry } from '../retry.js'
import { MirrorError } from './errors.js'

export interface FetchOptions {
  maxBytes: number
  timeoutMs: number
  /** Further attempts after the first. */
  retries: number
  retryBaseMs: number
  signal?: AbortSignal
  /** Told about each failed attempt that will be retried. */
  onRetry?: (attempt: number, error: MirrorError, delayMs: number) => void
}

/**
 * A location as shown in messages, logs and the API: a URL through the one redactor (a private
 * upstream's `?key=…` becomes `?key=***`), a file as it is.
 */
export function displayLocation(location: string): string {
  return isRemote(location) ? redactUrl(location) : location
}

export function isRemote(location: string): boolean {
  return /^https?:\/\//i.test(location)
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
  const url = displayLocation(location)
  const signal = opts.signal
    ? AbortSignal.any([opts.signal, AbortSignal.timeout(opts.timeoutMs)])
    : AbortSignal.timeout(opts.timeoutMs)
  let res: Response
  try {
    res = await fetch(location, {
      signal,
      redirect: 'follow',
      headers: { accept: 'application/json, application/x-bittorrent, */*' },
    })
  } catch (e) {
    throw new MirrorError('fetch-failed', `${url}: ${describeFetchError(e)}`, { transient: true })
  }
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
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.length
      if (size > opts.maxBytes) {
        await res.body?.cancel().catch(() => {})
        throw new MirrorError('too-large', `${url}: more than the limit of ${opts.maxBytes} bytes`)
      }
      chunks.push(Buffer.from(chunk))
    }
  } catch (e) {
    if (e instanceof MirrorError) throw e
    throw new MirrorError('fetch-failed', `${url}: ${describeFetchError(e)}`, { transient: true })
  }
  return Buffer.concat(chunks, size)
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
