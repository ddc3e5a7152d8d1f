/**
 * The planner's and coverage's view of the stored upstream lists (edge: reads SQLite).
 */
import type { UpstreamRelease } from '../coverage/index.js'
import { CatalogStore } from '../catalog/index.js'
import type { Db } from '../db/index.js'
import { FleetStore } from '../fleet/index.js'
import { TorrentStore } from '../torrents/index.js'
import type { PlanCandidate } from './plan.js'
import { MirrorStore } from './store.js'

/** One candidate per btih across all sources (the first source by name wins), marked held when this machine or its fleet has or is getting it. */
export function planCandidates(db: Db): PlanCandidate[] {
  const store = new MirrorStore(db)
  const held = new Set<string>()
  for (const r of new CatalogStore(db).releases()) held.add(r.name)
  for (const t of new TorrentStore(db).all()) held.add(t.name)
  for (const d of store.downloads()) if (d.state !== 'rejected') held.add(d.name)
  // Given to the fleet by an earlier plan: taken care of as well.
  for (const t of new FleetStore(db).externalTorrents()) held.add(t.name)
  const seen = new Set<string>()
  const out: PlanCandidate[] = []
  for (const u of store.upstream()) {
    if (seen.has(u.btih)) continue
    seen.add(u.btih)
    out.push({
      btih: u.btih,
      name: u.name,
      kind: u.kind,
      collection: u.collection,
      fromS: u.fromS,
      toS: u.toS,
      bytes: u.dataSize,
      seeders: u.seeders,
      scrapedAt: u.scrapedAt,
      obsolete: u.obsolete,
      embargo: u.embargo,
      held: held.has(u.name),
      magnet: u.magnet,
      torrentUrl: u.torrentUrl,
    })
  }
  return out
}

/** The releases the sources list now, one per name: coverage shows their ranges as known upstream. */
export function upstreamReleases(db: Db): UpstreamRelease[] {
  const byName = new Map<string, UpstreamRelease>()
  for (const u of new MirrorStore(db).upstream()) {
    if (byName.has(u.name)) continue
    byName.set(u.name, { name: u.name, kind: u.kind, collection: u.collection, from: u.from, to: u.to, fromS: u.fromS, toS: u.toS, bytes: u.dataSize })
  }
  return [...byName.values()]
}
