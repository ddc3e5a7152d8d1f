/**
 * The benchmark's fleet and swarm figures (bench:api): 50 seedboxes holding 0 to 3 copies of each
 * torrent, and swarm figures for 90% of them. A module of its own so that the coverage worker
 * thread can build the same inputs (it imports this module and calls `fakeInputs(db)`).
 */
import { createHash } from 'node:crypto'
import type {
  CoverageInputs,
  ExternalFigures,
  FleetTorrentFigures,
  SeedboxFigures,
  SwarmTorrentFigures,
} from '../src/coverage/index.js'
import type { Db } from '../src/db/index.js'
import { TorrentStore } from '../src/torrents/index.js'

export const SEEDBOXES = 50

/** Deterministic numbers from a string: the same database every time. */
export function unit(key: string): number {
  return createHash('sha1').update(key).digest().readUInt32BE(0) / 2 ** 32
}

/** 50 seedboxes holding 0 to 3 copies of each torrent, and swarm figures for 90% of them. */
export function fakeInputs(db: Db): CoverageInputs {
  const fleet = new Map<string, FleetTorrentFigures>()
  const swarm = new Map<string, SwarmTorrentFigures>()
  const boxes: SeedboxFigures[] = Array.from({ length: SEEDBOXES }, (_, i) => ({
    name: `box-${String(i + 1).padStart(2, '0')}`,
    up: i % 17 !== 3,
    freeBytes: i % 17 === 3 ? null : Math.round(unit(`free${i}`) * 2e13),
    torrents: 0,
    errors: i % 9 === 0 ? 1 : 0,
    lastSeenAt: '2026-11-24T10:00:00.000Z',
    error: i % 17 === 3 ? 'connection refused' : null,
  }))
  for (const t of new TorrentStore(db).all()) {
    const copies = Math.floor(unit(`copies${t.infohash}`) * 4)
    for (let k = 0; k < copies; k++) boxes[Math.floor(unit(`box${t.infohash}${k}`) * SEEDBOXES)]!.torrents++
    fleet.set(t.infohash, {
      copies,
      seedboxCopies: copies,
      target: 2,
      health: copies >= 2 ? 'ok' : copies > 0 ? 'degraded' : 'lost',
    })
    if (unit(`scraped${t.infohash}`) < 0.9)
      swarm.set(t.infohash, {
        seeders: Math.floor(unit(`seeders${t.infohash}`) * 25),
        leechers: 1,
        completed: 40,
        scrapedAt: '2026-11-24T10:00:00',
      })
  }
  const figures: ExternalFigures = { copiesTarget: 2, fleet, swarm, seedboxes: boxes, upstream: [] }
  return { read: () => figures }
}
