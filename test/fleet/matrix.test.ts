/**
 * One truth per torrent across every view. A matrix of stored states (the local engine seeding
 * or not; each of three seedboxes holding nothing, a seeding copy, a copy in error, a stopped
 * copy or one still downloading; seedbox `c` down) under every configuration that changes the
 * answer (`count_local_engine` on and off, N = 1, 2, 3, with the three seedboxes configured and
 * with none) is written to a database, and each view is asked about every torrent: `fleet
 * status --json`, `health --json` (and its exit code), `coverage --json`, GET /api/torrents,
 * /api/coverage, /api/seedboxes and /metrics, the published list file and GET /torrents.json.
 * They must all give the answer the README's "Health" rules give. The dashboard renders
 * /api/torrents and /api/coverage (test/http/dashboard.test.ts), so it shows the same.
 *
 * The seedboxes are fakes, named as such: their polls are written to the database as a fleet
 * poll stores them (FleetStore.recordPoll / recordFailure); no daemon is contacted.
 */
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/index.js'
import { CoverageCache } from '../../src/coverage/index.js'
import { openDatabase } from '../../src/db/index.js'
import { EngineStatusStore, type CopyState } from '../../src/engines/index.js'
import { FleetStore } from '../../src/fleet/index.js'
import type { SeedboxTorrent } from '../../src/fleet/seedbox.js'
import { buildHttpServer, healthInputs } from '../../src/http/index.js'
import { torrentListJson } from '../../src/publish/index.js'
import { publishList } from '../../src/publish/index.js'
import { createLogger } from '../../src/log/index.js'
import { runCli, tempDir } from '../helpers.js'
import { fakeTorrent, type StoredTorrent } from './support.js'

type BoxState = 'none' | 'seeding' | 'error' | 'stopped' | 'downloading'
const BOX_STATES: readonly BoxState[] = ['none', 'seeding', 'error', 'stopped', 'downloading']
const BOXES = ['a', 'b', 'c'] as const
/** Seedbox `c` stopped answering an hour ago (down after 600 s): its copies are shown, never counted. */
const DOWN = 'c'

interface Case {
  torrent: StoredTorrent
  local: boolean
  boxes: Record<(typeof BOXES)[number], BoxState>
}

/** A fake seedbox's report of one copy, with Transmission's numbers for that state. */
function fakeCopy(infohash: string, name: string, state: Exclude<BoxState, 'none'>): SeedboxTorrent {
  const raw: Record<
    typeof state,
    { status: number; percentDone: number; error: number; errorString: string }
  > = {
    seeding: { status: 6, percentDone: 1, error: 0, errorString: '' },
    error: { status: 0, percentDone: 1, error: 3, errorString: 'No data found! (fake)' },
    stopped: { status: 0, percentDone: 1, error: 0, errorString: '' },
    downloading: { status: 4, percentDone: 0.5, error: 0, errorString: '' },
  }
  return {
    infohash,
    name,
    state: state as CopyState,
    ...raw[state],
    peers: 0,
    rateUpload: 0,
    uploaded: 0,
    stalled: false,
    seeders: null,
    leechers: null,
    downloads: null,
  }
}

/** The README's rules, written out independently of src/fleet/health.ts. */
function expected(c: Case, cfg: { n: number; countLocal: boolean; seedboxes: boolean }) {
  const localCounts = c.local && (cfg.countLocal || !cfg.seedboxes)
  const onBoxes = cfg.seedboxes ? BOXES.filter((b) => b !== DOWN && c.boxes[b] === 'seeding').length : 0
  const copies = (localCounts ? 1 : 0) + onBoxes
  const health = copies >= cfg.n ? 'ok' : copies > 0 ? 'degraded' : 'lost'
  const seenSeeding = c.local || (cfg.seedboxes && BOXES.some((b) => c.boxes[b] === 'seeding'))
  return { copies, seedboxCopies: onBoxes, health, seenSeeding }
}

test('every view gives the same copies and health for every torrent, across the matrix of states and settings', async (t) => {
  const dir = tempDir(t)
  const dbPath = join(dir, 'aacseed.db')
  const db = openDatabase(dbPath)
  const cases: Case[] = []
  let i = 0
  for (const local of [false, true])
    for (const a of BOX_STATES)
      for (const b of BOX_STATES)
        for (const c of BOX_STATES)
          cases.push({ torrent: fakeTorrent(db, join(dir, 'torrents'), i++), local, boxes: { a, b, c } })

  const now = Date.now()
  const iso = (agoMs: number) => new Date(now - agoMs).toISOString()
  new EngineStatusStore(db).record(
    'webtorrent',
    cases
      .filter((x) => x.local)
      .map((x) => ({
        infoHash: x.torrent.infohash,
        name: x.torrent.name,
        state: 'seeding' as const,
        bytesPresent: x.torrent.size,
        totalBytes: x.torrent.size,
        uploaded: 0,
        peers: 0,
        error: null,
      })),
    iso(30_000),
  )
  const fleet = new FleetStore(db)
  for (const box of BOXES) {
    const torrents = cases.flatMap((x) => {
      const s = x.boxes[box]
      return s === 'none' ? [] : [fakeCopy(x.torrent.infohash, x.torrent.name, s)]
    })
    const poll = {
      kind: 'transmission' as const,
      version: '3.00 (fake)',
      rpcVersion: 16,
      latencyMs: 1,
      freeBytes: 1e12,
      freeSpaceError: null,
      torrents,
    }
    const url = `http://127.0.0.1:1/${box}/transmission/rpc`
    if (box === DOWN) {
      fleet.recordPoll(box, url, poll, iso(2 * 3_600_000))
      fleet.recordFailure(box, url, 'engine-unreachable', 'connection refused (fake)', iso(3_600_000))
    } else fleet.recordPoll(box, url, poll, iso(60_000))
  }

  const settings = [false, true].flatMap((seedboxes) =>
    [false, true].flatMap((countLocal) => [1, 2, 3].map((n) => ({ seedboxes, countLocal, n }))),
  )
  let answers = 0
  for (const cfg of settings) {
    const label = `${cfg.seedboxes ? '3 seedboxes' : 'no seedbox'}, count_local_engine ${cfg.countLocal}, N = ${cfg.n}`
    const configPath = join(dir, 'aacseed.toml')
    writeFileSync(
      configPath,
      [
        '[catalog]',
        `database = ${JSON.stringify(dbPath)}`,
        '[torrents]',
        `list_path = ${JSON.stringify(join(dir, 'torrents.json'))}`,
        '[fleet]',
        `replicas = ${cfg.n}`,
        `count_local_engine = ${cfg.countLocal}`,
        'down_after_s = 600',
        ...(cfg.seedboxes
          ? BOXES.flatMap((b) => [
              '[[fleet.seedboxes]]',
              `name = "${b}"`,
              `url = "http://127.0.0.1:1/${b}/transmission/rpc"`,
              'path = "/downloads"',
            ])
          : []),
        '',
      ].join('\n'),
    )
    const env = { ...process.env, AACSEED_CONFIG: configPath }
    const want = new Map(cases.map((c) => [c.torrent.infohash, expected(c, cfg)]))
    const counts = { ok: 0, degraded: 0, lost: 0 }
    for (const w of want.values()) counts[w.health as keyof typeof counts]++

    // aacseed fleet status --json --all
    const st = await runCli(['fleet', 'status', '--json', '--all'], { env })
    assert.equal(st.code, 0, st.stderr)
    const status = JSON.parse(st.stdout) as {
      counts: typeof counts
      torrents: Array<{ infohash: string; complete: number; health: string; holders: string[] }>
    }
    assert.equal(status.torrents.length, cases.length, label)
    for (const x of status.torrents) {
      const w = want.get(x.infohash)!
      assert.deepEqual(
        [x.complete, x.health, x.holders.length],
        [w.copies, w.health, w.seedboxCopies],
        `fleet status, ${label}`,
      )
    }
    assert.deepEqual(status.counts, counts, `fleet status counts, ${label}`)

    // aacseed health --json: every torrent not ok is a problem, and a problem means exit 1.
    const h = await runCli(['health', '--json'], { env })
    const health = JSON.parse(h.stdout) as { ok: boolean; problems: Array<{ id: string }> }
    const listed = new Set(
      health.problems
        .filter((p) => p.id.startsWith('torrent-'))
        .map((p) => p.id.slice(p.id.indexOf(':') + 1)),
    )
    assert.deepEqual(
      [...listed].sort(),
      cases
        .filter((c) => want.get(c.torrent.infohash)!.health !== 'ok')
        .map((c) => c.torrent.infohash)
        .sort(),
      `health lists exactly the torrents not ok, ${label}`,
    )
    for (const p of health.problems.filter((x) => x.id.startsWith('torrent-'))) {
      const hash = p.id.slice(p.id.indexOf(':') + 1)
      assert.equal(p.id, `torrent-${want.get(hash)!.health}:${hash}`, label)
    }
    assert.equal(
      h.code,
      health.problems.length > 0 ? 1 : 0,
      `health exits 1 whenever it lists a problem, ${label}`,
    )
    assert.equal(health.ok, health.problems.length === 0)

    // aacseed coverage --json
    const cv = await runCli(['coverage', '--json'], { env })
    assert.equal(cv.code, 0, cv.stderr)
    const cov = JSON.parse(cv.stdout) as {
      totals: { health: typeof counts }
      collections: Array<{ release_list: Array<{ infohash: string | null; copies: number; target: number }> }>
    }
    assert.deepEqual(cov.totals.health, counts, `coverage totals, ${label}`)
    const items = cov.collections.flatMap((c) => c.release_list).filter((x) => x.infohash !== null)
    assert.equal(items.length, cases.length)
    for (const x of items)
      assert.deepEqual([x.copies, x.target], [want.get(x.infohash!)!.copies, cfg.n], `coverage, ${label}`)

    // The HTTP API and /metrics, wired as serve wires them, on a read-only connection.
    const config = loadConfig({ path: configPath, env: {} })
    const reader = openDatabase(dbPath, { readonly: true })
    const app = buildHttpServer({
      db: reader,
      coverage: new CoverageCache({
        db: reader,
        inputs: healthInputs(reader, config),
        minIntervalMs: 0,
        checkIntervalMs: 0,
      }),
      torrentList: () => torrentListJson(reader, config),
      perTorrentMetrics: true,
      logger: createLogger({ level: 'silent' }),
      version: '0.0.0-test',
    })
    try {
      const api = (await app.inject('/api/torrents?limit=1000')).json<{
        total: number
        items: Array<{
          infohash: string
          copies: number
          fleet_copies: number | null
          target: number
          health: string
        }>
      }>()
      assert.equal(api.total, cases.length)
      for (const x of api.items) {
        const w = want.get(x.infohash)!
        assert.deepEqual(
          [x.copies, x.fleet_copies, x.target, x.health],
          [w.copies, w.seedboxCopies, cfg.n, w.health],
          `/api/torrents, ${label}`,
        )
      }
      const apiCov = (await app.inject('/api/coverage')).json<{ totals: { health: typeof counts } }>()
      assert.deepEqual(apiCov.totals.health, counts, `/api/coverage, ${label}`)
      const boxes = (await app.inject('/api/seedboxes')).json<{
        copies_target: number
        seedboxes: Array<{ name: string; up: boolean }>
      }>()
      assert.equal(boxes.copies_target, cfg.n)
      assert.deepEqual(
        boxes.seedboxes.map((b) => [b.name, b.up]),
        cfg.seedboxes ? BOXES.map((b) => [b, b !== DOWN]) : [],
        `/api/seedboxes, ${label}`,
      )
      const metrics = (await app.inject('/metrics')).body
      for (const [k, n] of Object.entries(counts))
        assert.match(
          metrics,
          new RegExp(`^aacseed_torrents\\{health="${k}"\\} ${n}$`, 'm'),
          `/metrics, ${label}`,
        )
      for (const c of cases) {
        const line = metrics
          .split('\n')
          .find((l) => l.startsWith('aacseed_torrent_copies{') && l.includes(c.torrent.infohash))
        assert.ok(
          line?.endsWith(` ${want.get(c.torrent.infohash)!.copies}`),
          `/metrics per torrent, ${label}: ${line}`,
        )
      }

      // The published list file and GET /torrents.json: the same bytes, the same seeding claim.
      const served = (await app.inject('/torrents.json')).body
      const file = await publishList(db, config)
      assert.ok(file)
      assert.equal(served, readFileSync(file, 'utf8'), `/torrents.json is the list file, ${label}`)
      for (const e of JSON.parse(served) as Array<{ btih: string; aa_currently_seeding: boolean }>)
        assert.equal(e.aa_currently_seeding, want.get(e.btih)!.seenSeeding, `published list, ${label}`)
    } finally {
      await app.close()
      reader.close()
    }
    answers += cases.length
  }
  db.close()
  t.diagnostic(
    `${settings.length} settings × ${cases.length} torrents = ${answers} answers, each checked in 10 views`,
  )
})
