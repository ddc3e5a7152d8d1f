/**
 * The planner's and coverage's view of the stored upstream lists (edge: reads SQLite).
 */
import type { UpstreamRelease } from '../coverage/index.js'
import type { GroupTorrentInput } from '../coverage/groups.js'
import { CatalogStore } from '../catalog/store.js'
import type { Db } from '../db/index.js'
import { EngineStatusStore } from '../engines/status.js'
import type { Config } from '../config/index.js'
import { FleetStore } from '../fleet/store.js'
import { scrapeInto, type ScrapeReport } from '../fleet/swarm.js'
import { TorrentStore } from '../torrents/store.js'
import { parseListDate } from './dates.js'
import type { PlanCandidate } from './plan.js'
import { MirrorStore, type OpaquePlanRow } from './store.js'

/**
 * What this machine or its fleet has or is getting: AAC releases by name (cataloged anywhere,
 * torrented, downloading) and any torrent by btih (torrented, downloading, in the local
 * engine, or given to the fleet by an earlier plan).
 */
export function heldHere(db: Db): { names: Set<string>; btihs: Set<string> } {
  const fleet = new FleetStore(db)
  const names = new Set<string>()
  const btihs = new Set<string>()
  for (const r of new CatalogStore(db).releases()) names.add(r.name)
  for (const t of new TorrentStore(db).all()) {
    names.add(t.name)
    btihs.add(t.infohash)
  }
  for (const d of new MirrorStore(db).downloads())
    if (d.state !== 'rejected') {
      names.add(d.name)
      btihs.add(d.btih)
    }
  for (const t of fleet.externalTorrents()) btihs.add(t.infohash)
  for (const c of new EngineStatusStore(db).copies()) btihs.add(c.infohash)
  return { names, btihs }
}

/**
 * One candidate per btih across all sources (the first source by name wins), AAC releases and
 * opaque torrents alike, marked held when this machine or its fleet has or is getting it (an
 * AAC release by name or btih, an opaque torrent by btih: its identity). Seeders are the latest
 * figures known: the list's, or a scrape of our own when it is newer (`scrapeCandidates`, the
 * scrape job).
 */
export function planCandidates(db: Db): PlanCandidate[] {
  const store = new MirrorStore(db)
  const upstream = store.upstream()
  const opaque = store.opaqueForPlan()
  // No upstream list stored: no candidates, and nothing to read about what is held. Coverage
  // asks for these with every report it makes (every few seconds while serve starts over
  // 10,000 torrents), and reading every release and torrent for nothing was most of that work.
  if (upstream.length === 0 && opaque.length === 0) return []
  const scraped = new FleetStore(db).latestSwarm()
  const { names: held, btihs: heldBtih } = heldHere(db)
  const seen = new Set<string>()
  const out: PlanCandidate[] = []
  const figures = latestFigures(scraped)
  for (const u of upstream) {
    if (seen.has(u.btih)) continue
    seen.add(u.btih)
    out.push({
      btih: u.btih,
      name: u.name,
      kind: u.kind,
      collection: u.collection,
      group: u.group,
      topGroup: u.topGroup,
      fromS: u.fromS,
      toS: u.toS,
      bytes: u.dataSize,
      ...figures(u.btih, u.seeders, u.scrapedAt),
      obsolete: u.obsolete,
      embargo: u.embargo,
      held: held.has(u.name) || heldBtih.has(u.btih),
      magnet: u.magnet,
      torrentUrl: u.torrentUrl,
    })
  }
  for (const [
    btih,
    displayName,
    topGroup,
    group,
    bytes,
    seeders,
    scrapedAt,
    obsolete,
    embargo,
    magnet,
    url,
  ] of opaque) {
    if (seen.has(btih)) continue
    seen.add(btih)
    out.push({
      btih,
      name: displayName.endsWith('.torrent') ? displayName.slice(0, -'.torrent'.length) : displayName,
      kind: 'other',
      collection: null,
      group,
      topGroup,
      fromS: 0,
      toS: 0,
      bytes,
      ...figures(btih, seeders, scrapedAt),
      obsolete: obsolete === 1,
      embargo: embargo === 1,
      held: heldBtih.has(btih),
      magnet,
      torrentUrl: url,
    })
  }
  return out
}

/** A torrent's seeders: the list's, or a scrape of our own when it is newer. */
function latestFigures(scraped: ReturnType<FleetStore['latestSwarm']>) {
  return (btih: string, listed: number | null, listedAt: string | null) => {
    const ours = scraped.get(btih)
    const newer = ours !== undefined && (listedAt === null || Date.parse(ours.scrapedAt) > listTime(listedAt))
    return newer
      ? { seeders: ours.seeders, scrapedAt: ours.scrapedAt }
      : { seeders: listed, scrapedAt: listedAt }
  }
}

/** What the per-group figures need of a candidate: their input less what the engine and the fleet add. */
export type GroupCandidate = Omit<GroupTorrentInput, 'seeded' | 'seedboxCopies' | 'target'>

/**
 * The candidates of `planCandidates` (one per btih, the first source's; held and seeders by the
 * same rules) with only what the per-group figures need, streamed in btih order: coverage asks
 * for these with every report, and a million-entry list read whole (`planCandidates`) took
 * 80 s and 2.8 GB. Reads everything else before the stream starts (the connection is busy
 * while it runs).
 */
export function* groupCandidates(db: Db): Generator<GroupCandidate> {
  const store = new MirrorStore(db)
  const opaque = store.opaqueForPlan()
  if (opaque.length === 0 && !store.hasListedUpstream()) return
  const figures = latestFigures(new FleetStore(db).latestSwarm())
  const { names: held, btihs: heldBtih } = heldHere(db)
  // An opaque torrent is its first source's, unless an AAC list names its btih too.
  const opaqueByBtih = new Map<string, OpaquePlanRow>()
  for (const r of opaque) if (!opaqueByBtih.has(r[0])) opaqueByBtih.set(r[0], r)
  let last: string | undefined
  for (const [btih, name, , , , , , , bytes, topGroup, group, seeders, scrapedAt] of store.iterateUpstream(
    'btih',
  )) {
    if (btih === last) continue
    last = btih
    opaqueByBtih.delete(btih)
    yield {
      btih,
      group,
      topGroup,
      bytes,
      seeders: figures(btih, seeders, scrapedAt).seeders,
      held: held.has(name) || heldBtih.has(btih),
    }
  }
  for (const [btih, , topGroup, group, bytes, seeders, scrapedAt] of opaqueByBtih.values())
    yield {
      btih,
      group,
      topGroup,
      bytes,
      seeders: figures(btih, seeders, scrapedAt).seeders,
      held: heldBtih.has(btih),
    }
}

/** The list's dates are UTC without a zone (src/mirror/dates.ts); NaN when unreadable. */
function listTime(s: string): number {
  return parseListDate(s) ?? NaN
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
export function upstreamReleases(db: Db): Iterable<UpstreamRelease> {
  const store = new MirrorStore(db)
  // Streamed, and read again on each iteration: a million-entry list held as objects cost
  // coverage gigabytes. A name's rows (one per source) come together.
  return {
    *[Symbol.iterator]() {
      let last: string | undefined
      for (const [name, kind, collection, from, to, fromS, toS, bytes] of store.iterateUpstream('release')) {
        if (name === last) continue
        last = name
        yield { name, kind, collection, from, to, fromS, toS, bytes }
      }
    },
  }
}
