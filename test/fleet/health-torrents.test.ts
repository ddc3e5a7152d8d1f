/**
 * `readHealth` keeps the torrents aacseed made between calls and reads them again when the
 * table moves (src/fleet/status.ts `madeTorrents`): a torrent made, re-made or forgotten shows
 * in the next call on the same connection.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { openDatabase } from '../../src/db/index.js'
import { readHealth } from '../../src/fleet/index.js'
import { tempDir } from '../helpers.js'
import { fleetConfig, insertTorrent } from './support.js'

test('readHealth on one connection sees torrents made, re-made and forgotten since its last call', (t) => {
  const dir = tempDir(t)
  const dbPath = join(dir, 'aacseed.db')
  const db = openDatabase(dbPath)
  t.after(() => db.close())
  const config = fleetConfig(dbPath, [])
  const root = join(dir, 'releases')
  const names = () =>
    readHealth(db, config)
      .torrents.map((x) => `${x.name}=${x.infohash.slice(0, 2)}`)
      .sort()
  const row = (name: string, infohash: string) => ({
    name,
    infohash,
    torrentPath: join(dir, `${name}.torrent`),
    size: 1000,
    root,
  })

  insertTorrent(db, row('a', 'aa'.repeat(20)))
  assert.deepEqual(names(), ['a=aa'])
  insertTorrent(db, row('b', 'bb'.repeat(20)))
  assert.deepEqual(names(), ['a=aa', 'b=bb'])
  // Re-made: a new infohash, a newer made_at.
  db.prepare("UPDATE torrents SET infohash = ?, made_at = '2025-01-01T00:00:00.000Z' WHERE name = 'a'").run(
    'cc'.repeat(20),
  )
  assert.deepEqual(names(), ['a=cc', 'b=bb'])
  db.prepare("DELETE FROM torrents WHERE name = 'b'").run()
  assert.deepEqual(names(), ['a=cc'])
})
