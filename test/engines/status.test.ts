/** EngineStatusStore: each report replaces the last, whether written in full or only its changes. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { openDatabase } from '../../src/db/index.js'
import type { EngineTorrentStatus } from '../../src/engines/engine.js'
import { EngineStatusStore } from '../../src/engines/index.js'
import { TIMESTAMPS_EVERY_MS } from '../../src/engines/status.js'
import { tempDir } from '../helpers.js'

const status = (n: number, over: Partial<EngineTorrentStatus> = {}): EngineTorrentStatus => ({
  infoHash: n.toString(16).padStart(40, '0'),
  name: `t${n}`,
  state: 'seeding',
  bytesPresent: 100,
  totalBytes: 100,
  uploaded: 0,
  peers: 0,
  error: null,
  ...over,
})

const T = (s: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString()

test('EngineStatusStore.record: changed, unchanged, new and vanished torrents, report after report', (t) => {
  const path = join(tempDir(t), 'a.db')
  const db = openDatabase(path)
  t.after(() => db.close())
  const store = new EngineStatusStore(db)
  const rows = () => new Map(store.all().map((r) => [r.name, r]))

  store.record('webtorrent', [status(1, { state: 'checking', bytesPresent: 0 }), status(2), status(3)], T(1))
  let r = rows()
  assert.equal(r.get('t1')!.firstSeedingAt, null)
  assert.equal(r.get('t1')!.lastSeedingAt, null)
  assert.equal(r.get('t2')!.firstSeedingAt, T(1))

  // t1 starts seeding, t2 uploads, t3 is unchanged, t4 is new. Within a minute of the last
  // report, only the rows that changed are written.
  store.record('webtorrent', [status(1), status(2, { uploaded: 5, peers: 1 }), status(3), status(4)], T(2))
  r = rows()
  assert.deepEqual(
    [...r.values()].map((x) => [
      x.name,
      x.state,
      x.uploaded,
      x.peers,
      x.firstSeedingAt,
      x.lastSeedingAt,
      x.updatedAt,
    ]),
    [
      ['t1', 'seeding', 0, 0, T(2), T(2), T(2)],
      ['t2', 'seeding', 5, 1, T(1), T(2), T(2)],
      ['t3', 'seeding', 0, 0, T(1), T(1), T(1)],
      ['t4', 'seeding', 0, 0, T(2), T(2), T(2)],
    ],
  )
  assert.equal(store.signature(), `4:${T(2)}:${T(2)}`)

  // A minute after the last full report every row is stamped again: t2 vanishes, t3 fails (its
  // last seeding time stays), t1 and t4 are unchanged.
  const late = 1 + TIMESTAMPS_EVERY_MS / 1000
  store.record('webtorrent', [status(1), status(3, { state: 'error', error: 'gone' }), status(4)], T(late))
  r = rows()
  assert.deepEqual(
    [...r.values()].map((x) => [x.name, x.state, x.error, x.firstSeedingAt, x.lastSeedingAt, x.updatedAt]),
    [
      ['t1', 'seeding', null, T(2), T(late), T(late)],
      ['t3', 'error', 'gone', T(1), T(1), T(late)],
      ['t4', 'seeding', null, T(2), T(late), T(late)],
    ],
  )
  assert.equal(store.signature(), `3:${T(late)}:${T(late)}`)

  // As many torrents as before, not the same ones: t3 vanishes as t2 comes back (written anew).
  store.record('webtorrent', [status(1), status(2, { uploaded: 9 }), status(4)], T(late + 1))
  assert.deepEqual(
    [...rows().values()].map((x) => [x.name, x.uploaded, x.updatedAt]),
    [
      ['t1', 0, T(late)],
      ['t2', 9, T(late + 1)],
      ['t4', 0, T(late)],
    ],
  )
  // And t3 back, unchanged since it vanished: written again, not taken for known.
  store.record(
    'webtorrent',
    [status(1), status(2, { uploaded: 9 }), status(3, { state: 'error', error: 'gone' }), status(4)],
    T(late + 2),
  )
  assert.deepEqual(
    [...rows().values()].map((x) => [x.name, x.state, x.updatedAt]),
    [
      ['t1', 'seeding', T(late)],
      ['t2', 'seeding', T(late + 1)],
      ['t3', 'error', T(late + 2)],
      ['t4', 'seeding', T(late)],
    ],
  )
})

test('EngineStatusStore.record: a write by another connection in between is not overlooked', (t) => {
  const path = join(tempDir(t), 'a.db')
  const db = openDatabase(path)
  const other = openDatabase(path)
  t.after(() => {
    db.close()
    other.close()
  })
  const store = new EngineStatusStore(db)
  store.record('webtorrent', [status(1), status(2)], T(1))
  // Another process (e.g. a CLI run) reports t1 as stopped and drops t2; this one then reports
  // exactly what it reported before: both rows must be as reported now, not as last written here.
  new EngineStatusStore(other).record('webtorrent', [status(1, { state: 'stopped' })], T(2))
  store.record('webtorrent', [status(1), status(2)], T(3))
  assert.deepEqual(
    store.all().map((x) => [x.name, x.state, x.lastSeedingAt, x.updatedAt]),
    [
      ['t1', 'seeding', T(3), T(3)],
      ['t2', 'seeding', T(3), T(3)],
    ],
  )
})
