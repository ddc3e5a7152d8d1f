/**
 * The per-group coverage inputs from stored state (edge: reads SQLite): every upstream torrent
 * (AAC or not, one per btih) with its group, size, latest seeders and whether it is held here
 * (`planCandidates`), whether the local engine seeds it, and its seedbox copies and N from the
 * one health model (src/fleet/status.ts `readHealth`).
 */
import type { Config } from '../config/index.js'
import { groupCoverage, type GroupCoverage, type GroupTorrentInput } from '../coverage/groups.js'
import type { Db } from '../db/index.js'
import { EngineStatusStore } from '../engines/status.js'
import { readHealth } from '../fleet/status.js'
import { planCandidates } from './candidates.js'

export function groupInputs(db: Db, config: Config): GroupTorrentInput[] {
  const candidates = planCandidates(db)
  // None (no upstream list): the fleet's health of every torrent would annotate nothing.
  if (candidates.length === 0) return []
  const health = new Map(readHealth(db, config).torrents.map((t) => [t.infohash, t]))
  const seeding = new Set(
    new EngineStatusStore(db)
      .copies()
      .filter((c) => c.state === 'seeding')
      .map((c) => c.infohash),
  )
  return candidates.map((c) => {
    const h = health.get(c.btih)
    return {
      btih: c.btih,
      group: c.group,
      topGroup: c.topGroup,
      bytes: c.bytes,
      seeders: c.seeders,
      held: c.held,
      seeded: seeding.has(c.btih),
      seedboxCopies: h ? h.holders.length : 0,
      target: h ? h.target : config.fleet.replicas,
    }
  })
}

export function readGroupCoverage(db: Db, config: Config): GroupCoverage[] {
  return groupCoverage(groupInputs(db, config))
}
