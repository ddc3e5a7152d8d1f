/**
 * The published torrent list from the one health state: the file `torrents.list_path` and
 * `GET /torrents.json` are both `publishedList`'s entries, so for the same database they are
 * byte-identical. Its `seeders`, `leechers`, `completed`, `stats_scraped_at` and
 * `aa_currently_seeding` are the health state's swarm figures (health.ts `torrentHealth`).
 */
import type { Config } from '../config/index.js'
import type { Db } from '../db/index.js'
import { MirrorStore } from '../mirror/store.js'
import { otherTorrentFileName } from '../mirror/other.js'
import {
  formatTorrentList,
  torrentListEntries,
  upstreamListEntry,
  type PublishedListEntry,
  type ListFlags,
  type SwarmFigures,
} from '../torrents/list.js'
import { TorrentStore } from '../torrents/store.js'
import type { TorrentHealthReport } from './health.js'
import { readHealth } from './status.js'

/** A torrent's list figures, or undefined when never scraped and not seen seeding (the list's zeros). */
export function listFigures(t: TorrentHealthReport | undefined): SwarmFigures | undefined {
  if (!t || (!t.swarm && !t.currentlySeeding)) return undefined
  return {
    seeders: t.swarm?.seeders ?? 0,
    leechers: t.swarm?.leechers ?? 0,
    completed: t.swarm?.completed ?? 0,
    statsScrapedAt: t.swarm?.scrapedAt ?? null,
    currentlySeeding: t.currentlySeeding,
  }
}

/**
 * The published list's entries: the torrents aacseed made, with the health state's figures and
 * `flags` (upstream's flags of mirrored releases, given by src/publish); then the opaque
 * torrents mirror sync holds, each as upstream listed it (only `url` names our copy).
 */
export function publishedList(
  db: Db,
  config: Config,
  flags: (infohash: string) => ListFlags | undefined = () => undefined,
  now = new Date(),
): PublishedListEntry[] {
  const health = new Map(readHealth(db, config, now).torrents.map((t) => [t.infohash, t]))
  const others = new MirrorStore(db)
    .publishedOther()
    .map((o) => upstreamListEntry(o.entry, config.torrents.url_base, otherTorrentFileName(o.btih)))
  const ours: PublishedListEntry[] = torrentListEntries(
    new TorrentStore(db).all(),
    {
      urlBase: config.torrents.url_base,
      topLevelGroupName: config.torrents.top_level_group_name,
      trackers: config.torrents.announce.flat(),
    },
    (infohash) => listFigures(health.get(infohash)),
    flags,
  )
  return others.length > 0 ? [...ours, ...others] : ours
}

/** The published list as the file and GET /torrents.json carry it. */
export function publishedListJson(
  db: Db,
  config: Config,
  flags: (infohash: string) => ListFlags | undefined = () => undefined,
  now = new Date(),
): string {
  return formatTorrentList(publishedList(db, config, flags, now), 'json')
}
