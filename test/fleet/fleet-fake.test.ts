/**
 * The fleet's edges against FAKE Transmission daemons (test/support/fake-transmission.ts): the
 * poll and what it stores, tolerance of daemons that leave fields out, 409 session changes,
 * wrong credentials, timeouts, the grace period, apply without duplicates, the removal rule,
 * and secrets kept out of everything shown. The real daemons are in fleet-daemons.test.ts.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { openDatabase, type Db } from '../../src/db/index.js'
import { coverageFigures, Fleet, FleetStore, seedboxPasswordEnv } from '../../src/fleet/index.js'
import { runCli, tempDir } from '../helpers.js'
import { FakeTransmission } from '../support/fake-transmission.js'
import { Clock, fakeTorrent, fleetConfig, type BoxSpec } from './support.js'

async function fakes(
  t: TestContext,
  n: number,
  opts: ConstructorParameters<typeof FakeTransmission>[0] = {},
): Promise<FakeTransmission[]> {
  const out: FakeTransmission[] = []
  for (let i = 0; i < n; i++) {
    const f = new FakeTransmission(opts)
    await f.listen()
    t.after(() => f.close())
    out.push(f)
  }
  return out
}

function setup(t: TestContext): { dir: string; dbPath: string; db: Db } {
  const dir = tempDir(t)
  const dbPath = join(dir, 'aacseed.db')
  const db = openDatabase(dbPath)
  t.after(() => db.close())
  return { dir, dbPath, db }
}

const quick = { retry: { attempts: 2, baseDelayMs: 10 }, pollRetry: { attempts: 1 } }

test('poll: one torrent-get per seedbox with only the health fields, stored per (seedbox, torrent), with state changes as history', async (t) => {
  const { dbPath, db } = setup(t)
  const [a, b] = await fakes(t, 2)
  const h1 = 'a'.repeat(40)
  const h2 = 'b'.repeat(40)
  a!.put({
    hashString: h1,
    trackerStats: [
      { seederCount: -1, leecherCount: -1, downloadCount: -1 },
      { seederCount: 7, leecherCount: 2, downloadCount: 40 },
    ],
  })
  a!.put({ hashString: h2, status: 4, percentDone: 0.5, peersConnected: 3 })
  b!.put({
    hashString: h1,
    status: 0,
    error: 3,
    errorString: 'No data found! Ensure your drives are connected or use "Set Location".',
  })
  a!.freeBytes = 123_456_789
  const clock = new Clock()
  const fleet = new Fleet(
    fleetConfig(dbPath, [
      { name: 'a', url: a!.url },
      { name: 'b', url: b!.url },
    ]),
    db,
    { now: clock.now, client: quick },
  )
  const r = await fleet.poll()
  assert.deepEqual({ ...r, ms: 0 }, { seedboxes: 2, answered: 2, failed: [], torrents: 3, ms: 0 })
  assert.deepEqual(a!.calls, ['session-get', 'torrent-get', 'free-space'])

  const store = new FleetStore(db)
  const copies = store.copies()
  const c = (sb: string, h: string) => copies.find((x) => x.seedbox === sb && x.infohash === h)!
  assert.equal(c('a', h1).state, 'seeding')
  assert.deepEqual(
    [c('a', h1).seeders, c('a', h1).leechers, c('a', h1).downloads],
    [7, 2, 40],
    'the best tracker figures; -1 is unknown',
  )
  assert.equal(c('a', h2).state, 'downloading')
  assert.equal(c('a', h2).peers, 3)
  assert.equal(c('b', h1).state, 'error')
  assert.match(c('b', h1).errorString, /No data found/)
  const boxes = fleet.seedboxViews()
  assert.equal(boxes[0]!.status, 'up')
  assert.equal(boxes[0]!.freeBytes, 123_456_789)
  assert.equal(boxes[0]!.torrents, 2)
  assert.equal(boxes[1]!.errors, 1)
  assert.ok(boxes[0]!.latencyMs !== null && boxes[0]!.latencyMs >= 0)

  // The first poll is the inventory (no history); a poll with no change writes none either; a
  // change writes one row; a vanished torrent writes `gone`.
  clock.advance(60_000)
  await fleet.poll()
  assert.equal(store.copyHistory(h2).length, 0)
  a!.torrents.get(h2)!.percentDone = 1
  a!.torrents.get(h2)!.status = 6
  b!.torrents.delete(h1)
  clock.advance(60_000)
  await fleet.poll()
  assert.deepEqual(
    store.copyHistory(h2).map((x) => x.state),
    ['seeding'],
  )
  assert.deepEqual(
    store
      .copyHistory(h1)
      .filter((x) => x.seedbox === 'b')
      .map((x) => x.state),
    ['gone'],
  )
  a!.put({ hashString: 'd'.repeat(40), status: 4, percentDone: 0 })
  clock.advance(60_000)
  await fleet.poll()
  assert.deepEqual(
    store.copyHistory('d'.repeat(40)).map((x) => x.state),
    ['downloading'],
    'a torrent new since the inventory is a change',
  )
  assert.equal(store.copies('b').length, 0)

  // History is bounded: rows older than fleet.history_days go at the next poll.
  clock.advance(15 * 86_400_000)
  await fleet.poll()
  assert.ok(store.copyHistory(h2).every((x) => Date.parse(x.at) >= clock.t - 14 * 86_400_000))
})

test('poll tolerates a daemon that leaves fields out (older or newer Transmission)', async (t) => {
  const { dbPath, db } = setup(t)
  const [a] = await fakes(t, 1, {
    omitFields: ['isStalled', 'trackerStats', 'rateUpload', 'peersConnected'],
    version: '4.1.0 (fake)',
    rpcVersion: 18,
  })
  a!.put({ hashString: 'c'.repeat(40) })
  const fleet = new Fleet(fleetConfig(dbPath, [{ name: 'a', url: a!.url }]), db, { client: quick })
  const r = await fleet.poll()
  assert.equal(r.answered, 1)
  const [copy] = new FleetStore(db).copies()
  assert.deepEqual([copy!.state, copy!.seeders, copy!.peers, copy!.stalled], ['seeding', null, 0, false])
  assert.equal(fleet.seedboxViews()[0]!.version, '4.1.0 (fake)')
})

test('a 409 session change between polls and mid-apply is handled; wrong credentials and timeouts are reported, never thrown', async (t) => {
  const { dir, dbPath, db } = setup(t)
  const pass = 'S3cret-Seedbox-Pw'
  const [good, locked, silent] = await fakes(t, 3, { auth: { user: 'u', pass } })
  silent!.mode = 'hang'
  const pwFile = join(dir, 'pw')
  writeFileSync(pwFile, `${pass}\n`)
  const boxes: BoxSpec[] = [
    { name: 'good', url: good!.url, username: 'u', password_file: pwFile },
    { name: 'locked', url: locked!.url, username: 'u' },
    { name: 'silent', url: silent!.url, username: 'u', password_file: pwFile, timeout_ms: 300 },
  ]
  const env = { [seedboxPasswordEnv('locked')]: 'wr0ng-pw' }
  const logs: string[] = []
  const logger = {
    info: (f: object, m: string) => logs.push(m + JSON.stringify(f)),
    warn: (f: object, m: string) => logs.push(m + JSON.stringify(f)),
    error: (f: object, m: string) => logs.push(m + JSON.stringify(f)),
  }
  const fleet = new Fleet(fleetConfig(dbPath, boxes), db, { env, logger, client: quick })
  const t0 = Date.now()
  const r = await fleet.poll()
  assert.ok(Date.now() - t0 < 3000, 'a silent seedbox costs its timeout, not more')
  assert.equal(r.answered, 1)
  assert.deepEqual(r.failed.map((f) => [f.seedbox, f.code]).sort(), [
    ['locked', 'engine-auth'],
    ['silent', 'engine-timeout'],
  ])
  good!.rotateSession()
  assert.equal(
    (await fleet.poll()).answered,
    1,
    'a new session id (daemon restart) costs one 409, not a failure',
  )
  const views = fleet.seedboxViews()
  assert.deepEqual(
    views.map((v) => [v.name, v.status, v.error?.code ?? null]),
    [
      ['good', 'up', null],
      ['locked', 'unknown', 'engine-auth'],
      ['silent', 'unknown', 'engine-timeout'],
    ],
  )
  const shown = JSON.stringify({ views, logs, r, actions: new FleetStore(db).recentActions() })
  assert.ok(!shown.includes(pass) && !shown.includes('wr0ng-pw'), 'no password in status, logs or reports')

  // The CLI: `fleet status --json` and `health` show the failing seedboxes, without secrets.
  writeFileSync(
    join(dir, 'aacseed.toml'),
    `[catalog]\ndatabase = "${dbPath}"\n[fleet]\n${boxes.map((b) => `[[fleet.seedboxes]]\nname = "${b.name}"\nurl = "${b.url}"\nusername = "u"\npath = "/downloads"\nreserve_bytes = 0\n${b.password_file ? `password_file = "${b.password_file}"\n` : ''}`).join('')}`,
  )
  const status = await runCli(['fleet', 'status', '--json', '--config', join(dir, 'aacseed.toml')], { env })
  assert.equal(status.code, 0, status.stderr)
  const parsed = JSON.parse(status.stdout) as { seedboxes: Array<{ name: string; status: string }> }
  assert.deepEqual(
    parsed.seedboxes.map((s) => s.name),
    ['good', 'locked', 'silent'],
  )
  const health = await runCli(['health', '--config', join(dir, 'aacseed.toml')], { env })
  assert.equal(health.code, 1)
  assert.match(health.stdout, /seedbox locked is unknown/)
  assert.ok(!(status.stdout + health.stdout + health.stderr).includes(pass))
})

test('apply: N = 2 placements are pushed once; a second apply adds nothing; a daemon restarted mid-push loses nothing', async (t) => {
  const { dir, dbPath, db } = setup(t)
  const boxes = await fakes(t, 3)
  const torrents = Array.from({ length: 12 }, (_, i) => fakeTorrent(db, join(dir, 'torrents'), i))
  const config = fleetConfig(
    dbPath,
    boxes.map((f, i) => ({ name: `sb${i}`, url: f.url })),
  )
  const fleet = new Fleet(config, db, { client: quick })
  const first = await fleet.apply()
  assert.deepEqual([first.added, first.duplicate, first.failed.length, first.shortfalls], [24, 0, 0, 0])
  for (const tr of torrents)
    assert.equal(boxes.filter((b) => b.torrents.has(tr.infohash)).length, 2, `${tr.name} on two seedboxes`)
  assert.ok(
    boxes.every((b) =>
      [...b.torrents.values()].every(
        (x) => x.downloadDir === '/downloads' && x.status === 4 && x.labels.includes('aacseed'),
      ),
    ),
    'unpaused, into the seedbox path, labelled',
  )

  const again = await fleet.apply()
  assert.deepEqual([again.added, again.duplicate, again.started], [0, 0, 0], 'nothing pushed twice')

  // Simulate a push whose answer was lost: the torrent is on the daemon but the poll ran before.
  // The next apply sees it; torrent-add of a present torrent would answer duplicate anyway.
  const [victim] = torrents
  const holder = boxes.find((b) => b.torrents.has(victim!.infohash))!
  holder.torrents.delete(victim!.infohash)
  holder.rotateSession()
  const repaired = await fleet.apply()
  assert.equal(repaired.added, 1, 'the lost placement is pushed again')
  assert.ok(holder.torrents.has(victim!.infohash))

  // A stopped copy is started, not re-added; one in a local error is verified first.
  const copy = holder.torrents.get(victim!.infohash)!
  copy.status = 0
  copy.error = 3
  copy.errorString = 'No data found!'
  holder.calls.length = 0
  const started = await fleet.apply()
  assert.equal(started.started, 1)
  assert.deepEqual(
    holder.calls.filter((c) => c.startsWith('torrent-')),
    ['torrent-get', 'torrent-verify', 'torrent-start'],
  )
})

test('down after the grace period: re-placed elsewhere; back: reconciled to exactly the planned holders (remove_extra)', async (t) => {
  const { dir, dbPath, db } = setup(t)
  const boxes = await fakes(t, 4)
  const torrents = Array.from({ length: 20 }, (_, i) => fakeTorrent(db, join(dir, 'torrents'), i))
  const clock = new Clock()
  const config = fleetConfig(
    dbPath,
    boxes.map((f, i) => ({ name: `sb${i}`, url: f.url })),
    { remove_extra: true, down_after_s: 300 },
  )
  const fleet = new Fleet(config, db, { now: clock.now, client: quick })
  const complete = () => {
    for (const b of boxes)
      for (const x of b.torrents.values()) Object.assign(x, { status: 6, percentDone: 1 })
  }
  await fleet.apply()
  complete()
  await fleet.poll()
  const planned = fleet.plan().placement.holders
  assert.equal(fleet.status().counts.ok, 20)

  // sb1 stops answering. Within the grace period nothing moves.
  const lost = boxes[1]!
  const held = torrents.filter((x) => lost.torrents.has(x.infohash)).length
  assert.ok(held > 0)
  lost.mode = '500'
  clock.advance(60_000)
  const during = await fleet.apply()
  assert.equal(during.added, 0, 'a failing seedbox keeps its placements during the grace period')
  assert.equal(fleet.seedboxViews()[1]!.status, 'failing')

  clock.advance(300_000)
  const after = await fleet.apply()
  assert.equal(fleet.seedboxViews()[1]!.status, 'down')
  assert.equal(after.added, held, 'exactly the torrents it held are re-placed')
  assert.equal(after.removed, 0)
  complete()
  await fleet.poll()
  assert.equal(fleet.status().counts.ok, 20)
  const figures = coverageFigures(fleet.status())
  assert.equal(figures.copiesTarget, 2)
  assert.ok([...figures.fleet.values()].every((f) => f.copies === 2 && f.health === 'ok'))
  assert.deepEqual(
    figures.seedboxes.map((b) => b.up),
    [true, false, true, true],
  )

  // Back: its copies are still there; the replacements become extras and go.
  lost.mode = 'ok'
  clock.advance(60_000)
  const back = await fleet.apply()
  assert.equal(back.added, 0)
  assert.equal(back.removed, held)
  for (const x of torrents) {
    const on = boxes.flatMap((b, i) => (b.torrents.has(x.infohash) ? [`sb${i}`] : [])).sort()
    assert.deepEqual(on, [...planned.get(x.infohash)!].sort(), `${x.name}: exactly the planned holders`)
  }
})

test('never removed while below N elsewhere, even with remove_extra', async (t) => {
  const { dir, dbPath, db } = setup(t)
  const boxes = await fakes(t, 3)
  const [tr] = [fakeTorrent(db, join(dir, 'torrents'), 0)]
  // Only one copy exists, on whichever seedbox the plan does NOT want.
  const fleet0 = new Fleet(
    fleetConfig(
      dbPath,
      boxes.map((f, i) => ({ name: `sb${i}`, url: f.url })),
      { remove_extra: true, replicas: 2 },
    ),
    db,
    { client: quick },
  )
  await fleet0.poll()
  const want = fleet0.plan().placement.holders.get(tr!.infohash)!
  const outsider = boxes.findIndex((_, i) => !want.includes(`sb${i}`))
  boxes[outsider]!.put({ hashString: tr!.infohash })
  const r = await fleet0.apply()
  assert.equal(r.removed, 0)
  assert.equal(r.added, 2)
  assert.ok(boxes[outsider]!.torrents.has(tr!.infohash))
})

test('a seedbox that stops answering the poll is one warning, a reminder an hour later, and one info line when it is back, not a line a minute; one that flaps warns at most hourly', async (t) => {
  const { dbPath, db } = setup(t)
  const [box] = await fakes(t, 1)
  const lines: Array<{ level: string; msg: string }> = []
  const at =
    (level: string) =>
    (_f: object, msg: string): void => {
      lines.push({ level, msg })
    }
  const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  const clock = new Clock()
  const fleet = new Fleet(fleetConfig(dbPath, [{ name: 'a', url: box!.url, timeout_ms: 300 }]), db, {
    logger,
    client: quick,
    now: clock.now,
  })
  const loud = (): string[] => lines.filter((l) => l.level !== 'debug').map((l) => `${l.level} ${l.msg}`)
  box!.mode = '500'
  for (let minute = 0; minute < 59; minute++) {
    assert.equal((await fleet.poll()).failed.length, 1)
    clock.advance(60_000)
  }
  assert.equal(loud().length, 1, loud().join('\n'))
  // The reason is in the message: journalctl's short output shows nothing else.
  assert.match(loud()[0]!, /^warn fleet: seedbox a did not answer the poll \(.*500.*\)$/)
  clock.advance(60_000)
  await fleet.poll()
  assert.equal(loud().length, 2)
  assert.match(loud()[1]!, /^warn fleet: seedbox a still does not answer the poll after 60 min \(.*500.*\)$/)
  box!.mode = 'ok'
  assert.equal((await fleet.poll()).answered, 1)
  await fleet.poll()
  assert.equal(loud().length, 3)
  assert.match(loud()[2]!, /^info fleet: seedbox a answers the poll again after 3600 s/)
  // It flaps: down again and back within the hour after the last warning is debug lines only.
  for (let i = 0; i < 5; i++) {
    box!.mode = '500'
    clock.advance(60_000)
    assert.equal((await fleet.poll()).failed.length, 1)
    box!.mode = 'ok'
    clock.advance(60_000)
    assert.equal((await fleet.poll()).answered, 1)
  }
  assert.equal(loud().length, 3, loud().join('\n'))
  assert.equal(lines.filter((l) => /answers the poll again/.test(l.msg)).length, 6)
  // Down an hour after the last warning: a warning again, and its end an info line.
  clock.advance(60 * 60_000)
  box!.mode = '500'
  await fleet.poll()
  assert.equal(loud().length, 4)
  assert.match(loud()[3]!, /^warn fleet: seedbox a did not answer the poll/)
  box!.mode = 'ok'
  await fleet.poll()
  assert.match(loud()[4]!, /^info fleet: seedbox a answers the poll again after 0 s/)
  // Each line names the seedbox by its configured name.
  assert.ok(lines.every((l) => /seedbox a /.test(l.msg)))
})
