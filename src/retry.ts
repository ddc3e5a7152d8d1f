/**
 * Retry with backoff, written once: the delay rule (doubling from a base, capped, with jitter)
 * and the bound on attempts live here, so every caller (mirror fetches, mirror download
 * attempts across passes, engine RPC) backs off the same way.
 *
 * Jitter takes up to `jitter` × the delay off (never adds): the cap stays a cap, and many
 * clients that failed together do not retry together.
 */

export interface Backoff {
  /** Delay after the first failure; doubled for each further one. */
  baseMs: number
  /** Longest delay. */
  maxMs: number
  /** Fraction of the delay that is randomised away, 0..1 (default 0.2). */
  jitter?: number
}

/** The delay after failure number `failures` (1 = the first failure). */
export function backoffDelay(failures: number, b: Backoff, random: () => number = Math.random): number {
  const exp = b.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 52))
  const capped = Math.min(b.maxMs, exp)
  const jitter = Math.min(1, Math.max(0, b.jitter ?? 0.2))
  return Math.max(0, Math.round(capped * (1 - jitter * random())))
}

export interface RetryOptions {
  /** Tries in all, including the first (at least 1). */
  attempts: number
  backoff: Backoff
  /** Whether an error is worth another try (default: every error). */
  retryable?: (e: unknown) => boolean
  /** Stops waiting and retrying; the last error is thrown. */
  signal?: AbortSignal
  /** Told about each failed try that will be retried. */
  onRetry?: (failures: number, error: unknown, delayMs: number) => void
  /** Tests replace the wait and the randomness. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  random?: () => number
}

/** Runs `fn` until it succeeds, the error is not retryable, the attempts are spent, or the signal aborts. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const wait = opts.sleep ?? sleep
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (e) {
      const retryable = opts.retryable ? opts.retryable(e) : true
      if (!retryable || attempt >= Math.max(1, opts.attempts) || opts.signal?.aborted) throw e
      const delay = backoffDelay(attempt, opts.backoff, opts.random)
      opts.onRetry?.(attempt, e, delay)
      await wait(delay, opts.signal)
    }
  }
}

/** Resolves after `ms`, or at once when the signal aborts (the caller then sees `signal.aborted`). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
