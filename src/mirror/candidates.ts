/**
 * The planner's and coverage's view of the stored upstream lists (edge: reads SQLite).
 */
import type { UpstreamRelease } from '../coverage/index.js'
import { CatalogStore } from '../catalog/index.js'
import type { Db } from '../db/index.js'
import type { Config } from '../config/index.js'
import { FleetStore, scrapeInto, type ScrapeReport } from '../fleet/index.js'
import { TorrentStore } from '../torrents/index.js'
import type { PlanCandidate } from './plan.js'
import { MirrorStore } from './store.js'

/**
 * One candidate per btih across all sources (the first source by name wins), marked held when
 * this machine or its fleet has or is getting it. Seeders are the latest figures known: the
 * list's, or a scrape of our own when it is newer (`scrapeCandidates`, the scrape job).
 */
export function planCandidates(db: Db): PlanCandidate[] {
  const store = new MirrorStore(db)
  const scraped = new FleetStore(db).latestSwarm()
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
    const ours = scraped.get(u.btih)
    const newer =
      ours !== undefined && (u.scrapedAt === null || Date.parse(ours.scrapedAt) > listTime(u.scrapedAt))
    out.push({
      btih: u.btih,
      name: u.name,
      kind: u.kind,
      collection: u.collection,
      fromS: u.fromS,
      toS: u.toS,
      bytes: u.dataSize,
      seeders: newer ? ours.seeders : u.seeders,
      scrapedAt: newer ? ours.scrapedAt : u.scrapedAt,
      obsolete: u.obsolete,
      embargo: u.embargo,
      held: held.has(u.name),
      magnet: u.magnet,
      torrentUrl: u.torrentUrl,
    })
  }
  return out
}

/** The list's `YYYY-MM-DDTHH:MM:SS` is UTC without a zone; NaN when unreadable. */
function listTime(s: string): number {
  return Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`)
}

/**
 * Asks the trackers named in the candidates' magnet links (and `scrape.trackers`) for fresh
 * figures of the torrents that could be chosen, and stores them as the scrape job does.
 * The trackers come from upstream lists: only http(s) and udp ones are asked, and only when
 * the operator asks for it (`plan --scrape`).
 */
export async function scrapeCandidates(
  db: Db,
  config: Config,
  candidates: readonly PlanCandidate[],
  opts: { signal?: AbortSignal } = {},
): Promise<ScrapeReport> {
  const work = new Map<string, string[]>()
  const add = (tracker: string, btih: string): void => {
    const list = work.get(tracker)
    if (list) list.push(btih)
    else work.set(tracker, [btih])
  }
  for (const c of candidates) {
    if (c.held || c.obsolete || c.embargo) continue
    const trackers = new Set(config.scrape.trackers)
    if (c.magnet)
      for (const tr of new URLSearchParams(c.magnet.slice(c.magnet.indexOf('?') + 1)).getAll('tr'))
        if (/^(https?|udp):\/\//i.test(tr)) trackers.add(tr)
    for (const tr of trackers) add(tr, c.btih)
  }
  return scrapeInto(db, work, config, opts)
}

/** The releases the sources list now, one per name: coverage shows their ranges as known upstream. */
export function upstreamReleases(db: Db): UpstreamRelease[] {
  const byName = new Map<string, UpstreamRelease>()
  for (const u of new MirrorStore(db).upstream()) {
    if (byName.has(u.name)) continue
    byName.set(u.name, {
      name: u.name,
      kind: u.kind,
      collection: u.collection,
      from: u.from,
      to: u.to,
      fromS: u.fromS,
      toS: u.toS,
      bytes: u.dataSize,
    })
  }
  return [...byName.values()]
}
