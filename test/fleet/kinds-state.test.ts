/**
 * One state vocabulary from every kind: a fleet of FAKE seedboxes, one of each kind
 * (test/support/fake-daemons.ts, answering in each daemon's wire format), each holding a
 * seeding, a downloading and a stopped copy. After a poll every stored copy has the kind-neutral
 * state and the daemon's own word beside it (`fleet_copies.native_state`; `fleet status` shows
 * it in brackets).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { configSchema } from '../../src/config/index.js'
import { openDatabase } from '../../src/db/index.js'
import { REMOTE_KINDS } from '../../src/engines/index.js'
import { Fleet, seedboxPasswordEnv } from '../../src/fleet/index.js'
import { tempDir } from '../helpers.js'
import { fakeSeedbox } from '../support/fake-daemons.js'

const hash = (i: number) => String(i).repeat(40).slice(0, 40)

test('every kind stores and shows the one state vocabulary, with the daemon’s own word beside it', async (t) => {
  const dir = tempDir(t)
  const env: NodeJS.ProcessEnv = {}
  const boxes = []
  for (const kind of REMOTE_KINDS) {
    const f = fakeSeedbox(kind)
    f.put({ hash: hash(1), state: 'seeding', progress: 1 })
    f.put({ hash: hash(2), state: 'downloading', progress: 0.5 })
    f.put({ hash: hash(3), state: 'stopped', progress: 1 })
    await f.listen()
    t.after(() => f.close())
    env[seedboxPasswordEnv(`box-${kind}`)] = f.password
    boxes.push({
      name: `box-${kind}`,
      kind,
      url: f.url,
      username: f.username,
      path: '/downloads',
      reserve_bytes: 0,
    })
  }
  const db = openDatabase(join(dir, 'aacseed.db'))
  t.after(() => db.close())
  const fleet = new Fleet(configSchema.parse({ fleet: { seedboxes: boxes } }), db, { env })
  t.after(() => fleet.close())
  const r = await fleet.poll()
  assert.deepEqual(r.failed, [])
  const stored = new Map(fleet.store.copies().map((c) => [`${c.seedbox} ${c.infohash}`, c]))
  const native: Record<string, string[]> = {}
  for (const kind of REMOTE_KINDS) {
    const states = [1, 2, 3].map((i) => stored.get(`box-${kind} ${hash(i)}`))
    assert.deepEqual(
      states.map((c) => c?.state),
      ['seeding', 'downloading', 'stopped'],
      kind,
    )
    for (const c of states) assert.ok(c!.nativeState, `${kind}: a native state is stored`)
    // The numeric status is Transmission's alone.
    assert.equal(states[0]!.status, kind === 'transmission' ? 6 : -1)
    native[kind] = states.map((c) => c!.nativeState!)
  }
  assert.deepEqual(native.transmission, ['6', '4', '0'])
  assert.deepEqual(native.qbittorrent, ['stalledUP', 'downloading', 'pausedUP'])
  assert.deepEqual(native.deluge, ['Seeding', 'Downloading', 'Paused'])
  const row = db
    .prepare(
      "SELECT state, native_state AS native FROM fleet_copies WHERE seedbox = 'box-deluge' AND infohash = ?",
    )
    .get(hash(1))
  assert.deepEqual({ ...(row as object) }, { state: 'seeding', native: 'Seeding' })
})
