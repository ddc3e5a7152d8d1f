/**
 * The one retry helper: the delay doubles from the base, never exceeds the cap even with
 * jitter, and `withRetry` stops at the bound, on a non-retryable error and on abort.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { backoffDelay, withRetry } from '../src/retry.js'

test('backoff doubles from the base, is capped, and jitter only shortens it', () => {
  const b = { baseMs: 100, maxMs: 1000, jitter: 0 }
  assert.deepEqual(
    [1, 2, 3, 4, 5, 60].map((n) => backoffDelay(n, b)),
    [100, 200, 400, 800, 1000, 1000],
  )
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(1 + (i % 8), { baseMs: 100, maxMs: 1000 })
    assert.ok(d <= Math.min(1000, 100 * 2 ** (i % 8)) && d >= 0.8 * Math.min(1000, 100 * 2 ** (i % 8)) - 1)
  }
})

test('withRetry tries at most `attempts` times, with the backoff between tries', async () => {
  const waits: number[] = []
  let calls = 0
  await assert.rejects(
    withRetry(
      async () => {
        calls++
        throw new Error('boom')
      },
      {
        attempts: 4,
        backoff: { baseMs: 10, maxMs: 25, jitter: 0 },
        sleep: async (ms) => void waits.push(ms),
      },
    ),
    /boom/,
  )
  assert.equal(calls, 4)
  assert.deepEqual(waits, [10, 20, 25])
})

test('withRetry stops at once on a non-retryable error and after an abort', async () => {
  let calls = 0
  await assert.rejects(
    withRetry(
      async () => {
        calls++
        throw new Error('final')
      },
      { attempts: 5, backoff: { baseMs: 1, maxMs: 1 }, retryable: () => false },
    ),
    /final/,
  )
  assert.equal(calls, 1)
  const ac = new AbortController()
  calls = 0
  await assert.rejects(
    withRetry(
      async () => {
        calls++
        ac.abort()
        throw new Error('aborted')
      },
      { attempts: 5, backoff: { baseMs: 1000, maxMs: 1000 }, signal: ac.signal },
    ),
    /aborted/,
  )
  assert.equal(calls, 1)
  assert.equal(
    await withRetry(async (n) => (n < 3 ? Promise.reject(new Error('x')) : n), {
      attempts: 3,
      backoff: { baseMs: 1, maxMs: 1 },
    }),
    3,
  )
})
