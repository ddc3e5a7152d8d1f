/**
 * The per-group coverage inputs from stored state (edge: reads SQLite): every upstream torrent
 * (AAC or not, one per btih) with its group, size, latest seeders and whether it is held here
 * (`groupCandidates`, by `planCandidates`' rules), whether the local engine seeds it, and its seedbox copies and N from the
 * one health model (src/fleet/status.ts `readHealth`).
 */
import type { Config } from '../config/index.js'
import { groupCoverage, type GroupCoverage, type GroupTorrentInput } from '../coverage/groups.js'
import type { Db } from '../db/index.js'
import { EngineStatusStore } from '../engines/status.js'
import { readHealth } from '../fleet/status.js'
import { groupCandidates } from './candidates.js'
import { MirrorStore } from './store.js'

/** Streamed: a million-entry list is folded row by row, never held (see `groupCandidates`). */
function* streamGroupInputs(db: Db, config: Config): Generator<GroupTorrentInput> {
  const store = new MirrorStore(db)
  // None (no upstream list): the fleet's health of every torrent would annotate nothing.
  if (!store.hasListedUpstream() && store.opaqueForPlan().length === 0) return
  // Read before the candidates' stream starts: the connection is busy while it runs.
  const health = new Map(readHealth(db, config).torrents.map((t) => [t.infohash, t]))
  const seeding = new Set(
    new EngineStatusStore(db)
      .copies()
      .filter((c) => c.state === 'seeding')
      .map((c) => c.infohash),
  )
  for (const c of groupCandidates(db)) {
    const h = health.get(c.btih)
    yield {
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
  }
}

export function groupInputs(db: Db, config: Config): GroupTorrentInput[] {
  return [...streamGroupInputs(db, config)]
}

export function readGroupCoverage(db: Db, config: Config): GroupCoverage[] {
  return groupCoverage(streamGroupInputs(db, config))
}
