/** Shared by the fleet tests: a config with seedboxes, torrents in the database, a movable clock. */
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { configSchema, type Config } from '../../src/config/index.js'
import type { Db } from '../../src/db/index.js'
import { encode, TorrentStore } from '../../src/torrents/index.js'

export interface BoxSpec {
  name: string
  url: string
  path?: string
  username?: string
  password_file?: string
  reserve_bytes?: number
  capacity_bytes?: number
  timeout_ms?: number
}

export function fleetConfig(
  dbPath: string,
  boxes: BoxSpec[],
  fleet: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Config {
  return configSchema.parse({
    catalog: { database: dbPath },
    fleet: {
      seedboxes: boxes.map((b) => ({ path: '/downloads', reserve_bytes: 0, timeout_ms: 5000, ...b })),
      ...fleet,
    },
    ...extra,
  })
}

export interface StoredTorrent {
  name: string
  infohash: string
  torrentPath: string
  size: number
}

/** A torrents row (and its root) as `torrents make` would store it. */
export function insertTorrent(
  db: Db,
  t: {
    name: string
    infohash: string
    torrentPath: string
    size: number
    root: string
    kind?: 'meta' | 'data'
    collection?: string
  },
): StoredTorrent {
  db.prepare('INSERT OR IGNORE INTO roots (path) VALUES (?)').run(t.root)
  const rootId = (db.prepare('SELECT id FROM roots WHERE path = ?').get(t.root) as { id: number }).id
  new TorrentStore(db).upsert({
    name: t.name,
    kind: t.kind ?? 'data',
    collection: t.collection ?? 'upload_files_test',
    rangeFrom: '20241105T000000Z',
    rangeTo: '20241105T000001Z',
    fromS: 1730764800,
    toS: 1730764801,
    rootId,
    infohash: t.infohash,
    pieceLength: 262144,
    pieceCount: Math.max(1, Math.ceil(t.size / 262144)),
    totalSize: t.size,
    fileCount: 1,
    torrentPath: t.torrentPath,
    torrentSize: 100,
    dataIdentity: 'test',
    madeAt: '2024-11-05T00:00:00.000Z',
  })
  return { name: t.name, infohash: t.infohash, torrentPath: t.torrentPath, size: t.size }
}

/** A tiny valid single-file .torrent (no data behind it: for fake seedboxes) and its row. */
export function fakeTorrent(db: Db, dir: string, i: number, size = 1000): StoredTorrent {
  mkdirSync(dir, { recursive: true })
  const name = `annas_archive_data__aacid__upload_files_test__20241105T${String(100000 + i).slice(-6)}Z--20241105T${String(100000 + i).slice(-6)}Z`
  const info = {
    length: size,
    name,
    'piece length': 262144,
    pieces: createHash('sha1').update(`piece ${i}`).digest(),
  }
  const bytes = encode({ info })
  const infohash = createHash('sha1').update(encode(info)).digest('hex')
  const torrentPath = join(dir, `${name}.torrent`)
  writeFileSync(torrentPath, bytes)
  return insertTorrent(db, { name, infohash, torrentPath, size, root: dir })
}

export class Clock {
  constructor(public t = Date.parse('2026-11-24T10:00:00.000Z')) {}
  now = (): Date => new Date(this.t)
  advance(ms: number): void {
    this.t += ms
  }
}
