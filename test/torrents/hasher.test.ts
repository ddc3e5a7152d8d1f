import assert from 'node:assert/strict'
import { truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { idleHashWorker, idleHashWorkers, prestartHashWorkers } from '../../src/torrents/hash-pool.js'
import { headStartState, startHeadStart } from '../../src/torrents/hasher.js'
import { hashPieces, TorrentError, type HashFile } from '../../src/torrents/index.js'
import { tempDir } from '../helpers.js'
import { referencePieces, writeFiles } from './fixtures.js'

// Empty files at the start, middle and end; sizes that are not multiples of anything used below.
const SIZES: Record<string, number> = {
  'a-empty': 0,
  b: 100_003,
  'c-empty': 0,
  d: 1,
  e: 65_536,
  f: 333_333,
  g: 7,
  h: 250_000,
  'z-empty': 0,
}

function folder(t: Parameters<typeof tempDir>[0]): { dir: string; files: HashFile[] } {
  const dir = tempDir(t)
  writeFiles(dir, SIZES)
  return { dir, files: Object.entries(SIZES).map(([name, length]) => ({ path: join(dir, name), length })) }
}

test('worker and inline hashing both equal the obvious concatenate-then-hash', async (t) => {
  const { files } = folder(t)
  for (const pieceLength of [1000, 16_384, 32_768, 1 << 20]) {
    const want = referencePieces(
      files.map((f) => f.path),
      pieceLength,
    )
    const cases = [
      { inlineBelow: Infinity },
      { inlineBelow: Infinity, readSize: 777 },
      { inlineBelow: 0, workers: 1 },
      // Spans much smaller than the input, shared by more workers than cores, with read sizes
      // that cut pieces and files at odd places.
      { inlineBelow: 0, workers: 3, spanSize: 40_000, readSize: 4_099 },
      { inlineBelow: 0, workers: 2, spanSize: 1, readSize: 1 << 16 },
      // The calling thread as a lane beside workers (the CLI's way), and as the only lane.
      { inlineBelow: 0, workers: 3, spanSize: 40_000, readSize: 4_099, callerHashes: true },
      { inlineBelow: 0, workers: 1, spanSize: 40_000, callerHashes: true },
    ]
    for (const opts of cases) {
      const got = await hashPieces(files, pieceLength, opts)
      assert.ok(got.equals(want), `piece length ${pieceLength}, ${JSON.stringify(opts)}`)
    }
  }
})

test('reports progress up to the total, never going back', async (t) => {
  const { files } = folder(t)
  const total = files.reduce((n, f) => n + f.length, 0)
  for (const opts of [
    { inlineBelow: Infinity, readSize: 50_000 },
    { inlineBelow: 0, workers: 2, spanSize: 100_000, readSize: 50_000 },
    { inlineBelow: 0, workers: 2, spanSize: 100_000, readSize: 50_000, callerHashes: true },
  ]) {
    const seen: number[] = []
    await hashPieces(files, 32_768, { ...opts, onProgress: (n) => seen.push(n) })
    assert.ok(seen.length > 5, `${seen.length} progress calls`)
    assert.deepEqual(
      [...seen].sort((a, b) => a - b),
      seen,
    )
    assert.equal(seen.at(-1), total)
  }
})

async function assertFileChanged(p: Promise<unknown>, path: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TorrentError, String(e))
    assert.equal(e.code, 'file-changed')
    assert.equal(e.location.path, path)
    assert.match(e.message, message)
    return true
  })
}

test('a file whose size differs from the cataloged one is file-changed, naming it', async (t) => {
  const { dir, files } = folder(t)
  const grown = files.map((f) => (f.path.endsWith('/f') ? { ...f, length: f.length - 1 } : f))
  for (const opts of [
    { inlineBelow: Infinity },
    { inlineBelow: 0, workers: 2, spanSize: 65_536 },
    // A lane on the calling thread meets the change itself (the only lane: no worker to report it).
    { inlineBelow: 0, workers: 1, spanSize: 65_536, callerHashes: true },
  ]) {
    await assertFileChanged(hashPieces(grown, 32_768, opts), join(dir, 'f'), /333333 bytes, expected 333332/)
  }
  truncateSync(join(dir, 'h'), 10)
  await assertFileChanged(
    hashPieces(files, 32_768, { inlineBelow: 0, workers: 2 }),
    join(dir, 'h'),
    /10 bytes, expected 250000/,
  )
})

test('an empty file that gained bytes, or a missing file, is file-changed too', async (t) => {
  const { dir, files } = folder(t)
  writeFileSync(join(dir, 'c-empty'), 'x')
  await assertFileChanged(hashPieces(files, 32_768), join(dir, 'c-empty'), /1 bytes, expected 0/)
  const missing = [
    ...files.filter((f) => !f.path.endsWith('c-empty')),
    { path: join(dir, 'nope'), length: 5 },
  ]
  for (const opts of [{ inlineBelow: Infinity }, { inlineBelow: 0, workers: 2 }]) {
    await assertFileChanged(hashPieces(missing, 32_768, opts), join(dir, 'nope'), /is missing/)
  }
})

test('an abort stops the workers', async (t) => {
  const { files } = folder(t)
  const ac = new AbortController()
  ac.abort(new Error('shutting down'))
  await assert.rejects(hashPieces(files, 32_768, { inlineBelow: 0, signal: ac.signal }), /shutting down/)
  const late = new AbortController()
  const p = hashPieces(files, 1000, {
    inlineBelow: 0,
    workers: 2,
    spanSize: 1000,
    signal: late.signal,
    onProgress: () => late.abort(new Error('stop now')),
  })
  await assert.rejects(p, /stop now/)
  const withCaller = new AbortController()
  await assert.rejects(
    hashPieces(files, 1000, {
      inlineBelow: 0,
      workers: 2,
      spanSize: 1000,
      callerHashes: true,
      signal: withCaller.signal,
      onProgress: () => withCaller.abort(new Error('stop the caller too')),
    }),
    /stop the caller too/,
  )
})

test('pre-started workers take the next job, and idle ones do not keep a process alive', async (t) => {
  const { files } = folder(t)
  prestartHashWorkers(2)
  assert.equal(idleHashWorkers(), 2)
  const got = await hashPieces(files, 16_384, { inlineBelow: 0, workers: 3, spanSize: 40_000 })
  assert.ok(
    got.equals(
      referencePieces(
        files.map((f) => f.path),
        16_384,
      ),
    ),
  )
  assert.equal(idleHashWorkers(), 0, 'the job took both pre-started workers')
  // A command that ends with nothing to hash exits without stopping them itself.
  const pool = new URL('../../src/torrents/hash-pool.js', import.meta.url).href
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `(await import(${JSON.stringify(pool)})).prestartHashWorkers(2)`],
    { encoding: 'utf8', timeout: 60_000 },
  )
  assert.equal(r.signal, null, 'the process was killed by the timeout: idle workers kept it alive')
  assert.equal(r.status, 0, r.stderr)
})

/** Waits (at most 30 s) until the head start's worker has hashed every span. */
async function headStartFinished(): Promise<void> {
  for (let i = 0; i < 3000 && !headStartState()?.finished && !headStartState()?.failed; i++)
    await new Promise((r) => setTimeout(r, 10))
}

describe('a head start (hashing begun before the job is confirmed)', () => {
  const opts = { inlineBelow: 0, workers: 2, spanSize: 40_000, callerHashes: true }
  // Beyond any worker's start-up on a loaded machine: only the time-limit test meets its limit.
  const LONG = 120_000

  test('the same job adopts it: nothing is hashed again, and the pieces are right', async (t) => {
    const { files } = folder(t)
    const total = files.reduce((n, f) => n + f.length, 0)
    prestartHashWorkers(1)
    assert.equal(startHeadStart(files, 16_384, opts, LONG), true)
    await headStartFinished()
    assert.deepEqual(headStartState(), { bytes: total, finished: true, failed: false })
    const seen: number[] = []
    const got = await hashPieces(files, 16_384, { ...opts, onProgress: (n) => seen.push(n) })
    const want = referencePieces(
      files.map((f) => f.path),
      16_384,
    )
    assert.ok(got.equals(want))
    // The head start's worker had hashed it all; the job only took its pieces.
    assert.deepEqual(seen, [total])
    assert.equal(headStartState(), null)
  })

  test('the same job joins it half way, and the pieces are right', async (t) => {
    const { files } = folder(t)
    prestartHashWorkers(1)
    assert.equal(startHeadStart(files, 1000, { ...opts, spanSize: 2_000 }, LONG), true)
    const got = await hashPieces(files, 1000, { ...opts, spanSize: 2_000 })
    assert.ok(
      got.equals(
        referencePieces(
          files.map((f) => f.path),
          1000,
        ),
      ),
    )
    assert.equal(headStartState(), null)
  })

  test('another job stops it and hashes its own pieces', async (t) => {
    const { files } = folder(t)
    const total = files.reduce((n, f) => n + f.length, 0)
    prestartHashWorkers(1)
    assert.equal(startHeadStart(files, 16_384, opts, LONG), true)
    await headStartFinished()
    const seen: number[] = []
    // Another piece length, then the same files in another order: neither is the head start's job.
    for (const [pieceLength, input] of [
      [32_768, files],
      [16_384, [...files].reverse()],
    ] as const) {
      seen.length = 0
      const got = await hashPieces(input, pieceLength, { ...opts, onProgress: (n) => seen.push(n) })
      assert.ok(
        got.equals(
          referencePieces(
            input.map((f) => f.path),
            pieceLength,
          ),
        ),
      )
      assert.equal(headStartState(), null)
      assert.ok(seen.length > 1 && seen[0]! < total, `hashed afresh: ${seen.join(', ')}`)
      prestartHashWorkers(1)
      startHeadStart(files, 16_384, opts, LONG)
      await headStartFinished()
    }
  })

  test('one that met a changed file is not adopted: the job meets the change itself', async (t) => {
    const { dir, files } = folder(t)
    truncateSync(join(dir, 'f'), 1000)
    prestartHashWorkers(1)
    assert.equal(startHeadStart(files, 16_384, opts, LONG), true)
    await headStartFinished()
    assert.equal(headStartState()?.failed, true)
    await assertFileChanged(hashPieces(files, 16_384, opts), join(dir, 'f'), /1000 bytes, expected 333333/)
    assert.equal(headStartState(), null)
  })

  test('one not adopted in time is stopped', async (t) => {
    const { files } = folder(t)
    prestartHashWorkers(1)
    assert.equal(startHeadStart(files, 1000, { ...opts, spanSize: 2_000 }, 50), true)
    for (let i = 0; i < 3000 && headStartState() !== null; i++) await new Promise((r) => setTimeout(r, 10))
    assert.equal(headStartState(), null)
  })

  test('it needs an idle pre-started worker, and the job hashes alone without one', async (t) => {
    const { files } = folder(t)
    for (let w = idleHashWorker(); w !== undefined; w = idleHashWorker()) void w.terminate()
    assert.equal(startHeadStart(files, 16_384, opts, LONG), false)
    assert.equal(headStartState(), null)
    const got = await hashPieces(files, 16_384, opts)
    assert.ok(
      got.equals(
        referencePieces(
          files.map((f) => f.path),
          16_384,
        ),
      ),
    )
  })
})
