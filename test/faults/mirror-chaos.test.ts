/**
 * Fault (#12, mirror downloads that can never succeed must end): a property test. A FAKE
 * engine (ChaosEngine, below; test/support/fake-engine.ts underneath) fails at random moments
 * with random errors: adding, listing, removing, a torrent going into an error state, data
 * arriving corrupt. Seeded PRNG, many runs. Every run ends (each release done or rejected
 * within a bounded number of passes), and after every pass no row that failed is left in a
 * non-final state without a future `next_attempt_at` (but a download the engine still holds,
 * which the next pass looks at again).
 */
import assert from 'node:assert/strict'
import { readdirSync, statSync, writeFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { configSchema } from '../../src/config/index.js'
import { openDatabase } from '../../src/db/index.js'
import type { AddResult, EngineTorrent, EngineTorrentStatus } from '../../src/engines/index.js'
import { MirrorStore, MirrorSync } from '../../src/mirror/index.js'
import { tempDir } from '../helpers.js'
import { FakeEngine } from '../support/fake-engine.js'
import { buildUpstream } from '../mirror/fixtures.js'

/** mulberry32: small, seeded, good enough to pick failures. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ERRORS = ['ECONNRESET', 'engine exploded', 'disk I/O error', 'peer sent garbage', 'timeout']

/** A FAKE engine failing at random; `from` is where "peers" send the data from. */
class ChaosEngine extends FakeEngine {
  constructor(
    private readonly rnd: () => number,
    private readonly from: string,
  ) {
    super()
  }

  private error(): Error {
    return new Error(ERRORS[Math.floor(this.rnd() * ERRORS.length)]!)
  }

  override async add(t: EngineTorrent): Promise<AddResult> {
    if (this.rnd() < 0.15) throw this.error()
    return super.add(t)
  }

  override async remove(infoHash: string): Promise<void> {
    if (this.rnd() < 0.1) throw this.error()
    return super.remove(infoHash)
  }

  override async list(): Promise<EngineTorrentStatus[]> {
    if (this.rnd() < 0.1) throw this.error()
    for (const s of await super.list()) {
      if (s.state !== 'downloading') continue
      const r = this.rnd()
      if (r < 0.4) this.complete(s.infoHash, this.from)
      else if (r < 0.5) this.fail(s.infoHash, this.error().message)
      else if (r < 0.55) {
        this.complete(s.infoHash, this.from)
        corrupt(join(this.torrentDir(s.infoHash), s.name))
      }
    }
    return super.list()
  }

  private torrentDir(infoHash: string): string {
    return this.added.find((a) => a.infoHash === infoHash)!.dataDir
  }
}

/** Flips a byte in the first file under `path`: the data arrived, but wrong. */
function corrupt(path: string): void {
  let p = path
  while (statSync(p).isDirectory()) p = join(p, readdirSync(p).sort()[0]!)
  const b = readFileSync(p)
  if (b.length === 0) return
  b[Math.floor(b.length / 2)] = b[Math.floor(b.length / 2)]! ^ 0xff
  writeFileSync(p, b)
}

const RUNS = 12
const MAX_PASSES = 60

test('fault: a chaotic engine never leaves a download stuck; every run ends in done or rejected', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'))
  const releases = up.list().length
  for (let seed = 1; seed <= RUNS; seed++) {
    const rnd = prng(seed)
    const m = join(dir, `mirror-${seed}`)
    const root = join(m, 'releases')
    const config = configSchema.parse({
      catalog: { roots: [root], database: join(m, 'aacseed.db') },
      torrents: { out_dir: join(m, 'torrents'), list_path: join(m, 'torrents.json') },
      mirror: {
        sources: [{ name: 'up', list: up.listPath }],
        reserve_bytes: 0,
        max_active: 16,
        retries: 0,
        retry_base_ms: 10,
      },
    })
    const db = openDatabase(config.catalog.database)
    try {
      const clock = { now: new Date('2026-11-25T12:00:00Z') }
      const engine = new ChaosEngine(rnd, up.root)
      const sync = new MirrorSync({
        db,
        config,
        engine,
        now: () => clock.now,
        freeBytes: async () => 1e15,
      })
      const store = new MirrorStore(db)
      let passes = 0
      for (; passes < MAX_PASSES; passes++) {
        try {
          await sync.run({ refresh: passes === 0 ? 'always' : 'never' })
        } catch {
          // A pass may fail as a whole (the engine would not list): the next one carries on.
        }
        const now = clock.now.toISOString()
        for (const r of store.downloads())
          if (r.state !== 'done' && r.state !== 'rejected' && r.errorCode !== null)
            // A download the engine holds is in progress: the next pass looks at it again.
            assert.ok(
              (r.nextAttemptAt !== null && r.nextAttemptAt > now) ||
                (r.state === 'downloading' && engine.has(r.btih)),
              `seed ${seed}, pass ${passes}: ${r.name} is ${r.state} after ${r.errorCode} with no future attempt (${r.nextAttemptAt})`,
            )
        const rows = store.downloads()
        if (rows.length === releases && rows.every((r) => r.state === 'done' || r.state === 'rejected')) break
        // Past any backoff (at most a day).
        clock.now = new Date(clock.now.getTime() + 25 * 3600_000)
      }
      const left = store.downloads().filter((r) => r.state !== 'done' && r.state !== 'rejected')
      assert.deepEqual(
        left.map((r) => `${r.name}: ${r.state} ${r.errorCode ?? ''} ${r.error ?? ''}`),
        [],
        `seed ${seed}: still open after ${MAX_PASSES} passes`,
      )
      t.diagnostic(
        `seed ${seed}: ${passes + 1} passes, ${store.downloads(['done']).length} done, ${store.downloads(['rejected']).length} rejected`,
      )
    } finally {
      db.close()
    }
  }
})
