/**
 * What aacseed publishes: the torrent list file (fleet's `publishedList`: aacseed's torrents with
 * the health state's figures) and the options every `torrents make` shares (mirror's upstream
 * shapes). It joins torrents, fleet and mirror, so it sits above those three and below jobs and
 * cli. It imports their modules directly, not their index files, so `torrents make` and
 * `torrents list` load no engine or HTTP code (test/cli/startup.test.ts).
 */
import type { Config } from '../config/index.js'
import type { Db } from '../db/index.js'
import { publishedList, publishedListJson } from '../fleet/list.js'
import { MirrorStore } from '../mirror/store.js'
import { publishTorrentList, type ListFlags, type PublishedListEntry } from '../torrents/index.js'

/** Upstream's flags of each mirrored release (by infohash), as its source lists it. */
export function upstreamFlags(db: Db): (infohash: string) => ListFlags | undefined {
  return new MirrorStore(db).upstreamFlags()
}

/** The published torrent list (see fleet/list.ts), mirrored releases with upstream's flags. */
export function torrentList(db: Db, config: Config): PublishedListEntry[] {
  return publishedList(db, config, upstreamFlags(db))
}

/** The published list's text: the file `publishList` writes and GET /torrents.json, byte for byte. */
export function torrentListJson(db: Db, config: Config): string {
  return publishedListJson(db, config, upstreamFlags(db))
}

/**
 * Rewrites the list file (`torrents.list_path`); null when none is configured. `blocking`: for a
 * CLI process (see `publishTorrentList`).
 */
export function publishList(
  db: Db,
  config: Config,
  opts: { blocking?: boolean } = {},
): Promise<string> | null {
  if (!config.torrents.list_path) return null
  return publishTorrentList(config.torrents.list_path, torrentList(db, config), opts)
}

export { makeSettings } from './make-settings.js'
