/**
 * The published torrent list, in the JSON shape of Anna's Archive's public list so that its
 * existing consumers (in Go, Rust and TypeScript) read ours unchanged. Pure (rows in, text out) but for the
 * atomic publishing at the end.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { torrentFileName } from '../aac/index.js'
import { magnetLink } from './magnet.js'
import type { TorrentRow } from './store.js'
import { writeFileAtomic, writeFileAtomicSync } from './write.js'

/** Swarm and seeding figures; zero/null until health tracking fills them. */
export interface SwarmFigures {
  seeders: number
  leechers: number
  completed: number
  /** `YYYY-MM-DDTHH:MM:SS` (UTC), or null when never scraped. */
  statsScrapedAt: string | null
  /** Seen seeding by us within the last 7 days. */
  currentlySeeding: boolean
}

export interface TorrentListEntry {
  url: string
  top_level_group_name: string
  group_name: string
  display_name: string
  added_to_torrents_list_at: string
  is_metadata: boolean
  btih: string
  magnet_link: string
  torrent_size: number
  num_files: number
  data_size: number
  aa_currently_seeding: boolean
  obsolete: boolean
  embargo: boolean
  seeders: number
  leechers: number
  completed: number
  stats_scraped_at: string | null
  partially_broken: boolean
  random: string
  /** Added by aacseed: the AACID range, so mirrors need not parse names. */
  aacid_range: { collection: string; from: string; to: string }
  /** Added by aacseed: the torrent's piece length in bytes. */
  piece_length: number
}

/**
 * An upstream list's entry published as upstream wrote it (an opaque torrent mirror sync holds):
 * every field unchanged but `url`, which names our byte-exact copy of upstream's .torrent (an
 * upstream `url` may be relative to upstream's list, and would resolve against ours).
 */
export type UpstreamListEntry = Record<string, unknown> & { url: string; btih: string }

/** One entry of the list aacseed publishes. */
export type PublishedListEntry = TorrentListEntry | UpstreamListEntry

export function upstreamListEntry(entryJson: string, urlBase: string, file: string): UpstreamListEntry {
  const e = JSON.parse(entryJson) as Record<string, unknown> & { btih: string }
  // Spread, then `url` set: it keeps its place among upstream's keys.
  return { ...e, url: torrentUrl(urlBase, file) }
}

/**
 * Upstream's flags for a torrent we publish: a mirrored release carries what the list it came
 * from says of it (obsolete, embargoed, partly broken). Absent for our own releases: all false.
 */
export interface ListFlags {
  obsolete: boolean
  embargo: boolean
  partiallyBroken: boolean
}

export interface ListSettings {
  urlBase: string
  topLevelGroupName: string
  trackers: readonly string[]
}

const NO_SWARM: SwarmFigures = {
  seeders: 0,
  leechers: 0,
  completed: 0,
  statsScrapedAt: null,
  currentlySeeding: false,
}

/**
 * A torrent's `url` in the list: `url_base` joined with the file name. An absolute `url_base`
 * gives an absolute URL; a relative one (the default `torrents/`) resolves against the list's own
 * URL, as a mirror resolves it (WHATWG URL rules), which is where serve and a static host of
 * `out_dir` beside the list both answer. A missing final `/` is added: `https://x/t` means the
 * folder `t`, not a prefix of the file name.
 */
export function torrentUrl(urlBase: string, file: string): string {
  const base = urlBase === '' || urlBase.endsWith('/') ? urlBase : `${urlBase}/`
  return base + encodeURIComponent(file)
}

export function torrentListEntries(
  rows: readonly TorrentRow[],
  settings: ListSettings,
  swarm: (infohash: string) => SwarmFigures | undefined = () => undefined,
  flags: (infohash: string) => ListFlags | undefined = () => undefined,
): TorrentListEntry[] {
  return rows.map((t) => {
    const file = torrentFileName(t.name)
    const s = swarm(t.infohash) ?? NO_SWARM
    const f = flags(t.infohash)
    return {
      url: torrentUrl(settings.urlBase, file),
      top_level_group_name: settings.topLevelGroupName,
      group_name: t.collection,
      display_name: file,
      added_to_torrents_list_at: t.addedAt,
      is_metadata: t.kind === 'meta',
      btih: t.infohash,
      magnet_link: magnetLink({ infoHash: t.infohash, name: t.name, trackers: settings.trackers }),
      torrent_size: t.torrentSize,
      num_files: t.fileCount,
      data_size: t.totalSize,
      aa_currently_seeding: s.currentlySeeding,
      obsolete: f?.obsolete ?? false,
      embargo: f?.embargo ?? false,
      seeders: s.seeders,
      leechers: s.leechers,
      completed: s.completed,
      stats_scraped_at: s.statsScrapedAt,
      partially_broken: f?.partiallyBroken ?? false,
      // Anna's Archive lists a short random string per entry; ours is derived from the infohash so the list
      // is reproducible.
      random: createHash('sha1').update(t.infohash).digest('hex').slice(0, 8),
      aacid_range: { collection: t.collection, from: t.rangeFrom, to: t.rangeTo },
      piece_length: t.pieceLength,
    }
  })
}

export type ListFormat = 'json' | 'magnets' | 'csv'

const CSV_COLUMNS = [
  'display_name',
  'group_name',
  'is_metadata',
  'btih',
  'data_size',
  'num_files',
  'torrent_size',
  'added_to_torrents_list_at',
  'seeders',
  'leechers',
  'url',
  'magnet_link',
] as const

function csvCell(v: unknown): string {
  const s =
    v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v as string)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function formatTorrentList(entries: readonly PublishedListEntry[], format: ListFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify(entries, null, 2) + '\n'
    case 'magnets':
      return entries
        .map(
          (e) => (typeof e.magnet_link === 'string' ? e.magnet_link : `magnet:?xt=urn:btih:${e.btih}`) + '\n',
        )
        .join('')
    case 'csv':
      return (
        [CSV_COLUMNS.join(','), ...entries.map((e) => CSV_COLUMNS.map((c) => csvCell(e[c])).join(','))].join(
          '\n',
        ) + '\n'
      )
  }
}

/**
 * Writes the JSON list atomically, so a web server never serves half of it. `blocking`: in
 * blocking calls, for a CLI process that has nothing else to do (see `writeFileAtomicSync`).
 */
export async function publishTorrentList(
  path: string,
  entries: readonly PublishedListEntry[],
  opts: { blocking?: boolean } = {},
): Promise<string> {
  const bytes = Buffer.from(formatTorrentList(entries, 'json'))
  // Republished after every status run: rewritten only when its figures moved.
  if (opts.blocking) {
    mkdirSync(dirname(path), { recursive: true })
    let current: Buffer | null
    try {
      current = readFileSync(path)
    } catch {
      current = null
    }
    if (current === null || !current.equals(bytes))
      writeFileAtomicSync(path, bytes, 0o644, 'the torrent list')
    return path
  }
  await mkdir(dirname(path), { recursive: true })
  const current = await readFile(path).catch(() => null)
  if (current === null || !current.equals(bytes))
    await writeFileAtomic(path, bytes, 0o644, 'the torrent list')
  return path
}
