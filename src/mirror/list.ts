/**
 * Reading an upstream torrent list: the JSON array aacseed publishes, which is Anna's
 * Archive's format. Pure: text in, `UpstreamTorrent`s, `OpaqueTorrent`s and rejections out.
 *
 * Upstream content is untrusted. Each entry is checked on its own, and a bad entry is a
 * rejection naming the source and the entry, never an exception: the rest of the list still
 * counts. An entry whose release name (the `display_name` without `.torrent`) parses as an
 * AAC metadata file or data folder name is an AAC release; any other well-formed entry is an
 * opaque torrent (Library Genesis, Sci-Hub, …): kept with its group and figures, known by its
 * btih, checked by nothing but the engine's pieces. Malformed entries (a bad btih or URL, a
 * magnet for another torrent, a name or group that could leave a folder, a bad date) are
 * rejections either way.
 */
import { parseTorrentFileName, type ReleaseName } from '../aac/index.js'
import { errorMessage } from '../errors.js'
import { parseListDate } from './dates.js'
import type { ReleaseSpan } from '../coverage/index.js'
import { MirrorError, type MirrorErrorCode } from './errors.js'
import { displayLocation } from './location.js'

export interface UpstreamTorrent extends ReleaseSpan {
  /** v1 infohash, 40 lowercase hex digits. */
  btih: string
  /**
   * Where the .torrent is: an absolute http(s) URL or an absolute file path; null when only a magnet is
   * known.
   */
  torrentUrl: string | null
  magnet: string | null
  dataSize: number | null
  numFiles: number | null
  seeders: number | null
  leechers: number | null
  completed: number | null
  /** `YYYY-MM-DDTHH:MM:SS` UTC as the list gives it, or null. */
  scrapedAt: string | null
  obsolete: boolean
  embargo: boolean
  /** Upstream says some of the release's data is damaged; carried into the list we publish. */
  partiallyBroken: boolean
  /** The list's `added_to_torrents_list_at`, or null. */
  addedAt: string | null
  /** The list's `top_level_group_name` and `group_name`; '' when it gives none. */
  topGroup: string
  group: string
}

/**
 * A list entry that is not an AAC release: kept as the list gives it. Its identity is its btih;
 * its display name is a label (checked to be one safe path component, as its group is, since a
 * mirror downloads it under its group's folder).
 */
export interface OpaqueTorrent {
  btih: string
  /** `display_name` as listed (`sm_00200000-00299999.torrent`). */
  displayName: string
  topGroup: string
  group: string
  torrentUrl: string | null
  magnet: string | null
  torrentSize: number | null
  dataSize: number | null
  numFiles: number | null
  seeders: number | null
  leechers: number | null
  completed: number | null
  scrapedAt: string | null
  addedAt: string | null
  obsolete: boolean
  embargo: boolean
  partiallyBroken: boolean
  isMetadata: boolean
  /** The entry as upstream wrote it (JSON), so a list we publish keeps its fields unchanged. */
  entry: string
}

export interface Rejection {
  source: string
  /** Which entry: `entry 12 "annas_archive_meta__….torrent"`, or a .torrent file's name. */
  entry: string
  code: string
  message: string
}

export interface ParsedList {
  torrents: UpstreamTorrent[]
  opaque: OpaqueTorrent[]
  rejected: Rejection[]
  /** Entries that repeat a torrent already listed (the same btih, e.g. in a second group): kept once. */
  duplicates: number
}

export interface ListContext {
  /** The source's name, for rejections. */
  source: string
  /**
   * Where the list came from: an http(s) URL, or the absolute path of a file. Relative `url`s resolve against
   * it.
   */
  location: string
  maxEntries: number
}

/** Parses a magnet link's infohash (hex or base32, BEP 9); null when it has none that is valid. */
export function magnetInfoHash(magnet: string): string | null {
  if (!magnet.startsWith('magnet:?')) return null
  const params = new URLSearchParams(magnet.slice('magnet:?'.length))
  const hashes = params.getAll('xt').flatMap((xt) => {
    const m = /^urn:btih:([0-9a-fA-F]{40}|[A-Za-z2-7]{32})$/.exec(xt)
    if (!m) return []
    const h = m[1]!
    return [h.length === 40 ? h.toLowerCase() : base32ToHex(h.toUpperCase())]
  })
  // Two different v1 hashes in one link: which one is meant is anyone's guess.
  return hashes.length > 0 && hashes.every((h) => h === hashes[0]) ? hashes[0]! : null
}

function base32ToHex(s: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const c of s) bits += alphabet.indexOf(c).toString(2).padStart(5, '0')
  let hex = ''
  for (let i = 0; i < 160; i += 4) hex += parseInt(bits.slice(i, i + 4), 2).toString(16)
  return hex
}

/** The release a `<name>.torrent` file name stands for, with the fields every upstream torrent carries. */
export function releaseOfTorrentName(
  fileName: string,
): Pick<UpstreamTorrent, 'name' | 'kind' | 'collection' | 'from' | 'to' | 'fromS' | 'toS'> {
  let r: ReleaseName
  try {
    r = parseTorrentFileName(fileName)
  } catch (e) {
    throw new MirrorError(
      'not-aac-name',
      `${JSON.stringify(fileName)} is not an AAC release's torrent name: ${errorMessage(e)}`,
    )
  }
  return {
    name: r.name,
    kind: r.kind === 'meta' ? 'meta' : 'data',
    collection: r.range.collection,
    from: r.range.from.text,
    to: r.range.to.text,
    fromS: r.range.from.seconds,
    toS: r.range.to.seconds,
  }
}

const HEX40 = /^[0-9a-fA-F]{40}$/
const AAC_SHAPE = /_(?:meta|data)__aacid__/
// A separator, NUL or another control character: never in a file name we create.
// oxlint-disable-next-line no-control-regex
const UNSAFE_CHAR = /[/\\\u0000-\u001f\u007f]/

/** One entry read: an AAC release, an opaque torrent, or a rejection naming the entry. */
export type EntryVerdict =
  | { torrent: UpstreamTorrent; label: string }
  | { opaque: OpaqueTorrent; label: string }
  | { rejection: Rejection }

/**
 * The one place a list entry is judged on its own (types, name, kind, infohash, dates, URL).
 * What needs the whole list (the same btih twice, one release name with two btih) is
 * `ListDedup`'s part in memory and `MirrorStore.listWriter`'s over stored rows.
 */
export function classifyEntry(raw: unknown, index: number, ctx: ListContext): EntryVerdict {
  const label = entryLabel(raw, index)
  try {
    const parsed = parseEntry(raw, ctx)
    return parsed.aac ? { torrent: parsed.aac, label } : { opaque: parsed.opaque, label }
  } catch (e) {
    return {
      rejection: {
        source: ctx.source,
        entry: label,
        code: e instanceof MirrorError ? e.code : 'entry-invalid',
        message: errorMessage(e),
      },
    }
  }
}

export function tooManyEntries(ctx: ListContext, count: number): MirrorError {
  return new MirrorError(
    'list-invalid',
    `${ctx.source}: the list at ${displayLocation(ctx.location)} has more than ${ctx.maxEntries} entries (the limit; ${count} read when it was refused)`,
  )
}

/** The rejection of one entry of a release name listed with more than one btih. */
export function conflictRejection(
  source: string,
  name: string,
  btih: string,
  btihs: readonly string[],
): Rejection {
  return {
    source,
    entry: `${JSON.stringify(name + '.torrent')} btih ${btih}`,
    code: 'conflicting-entry',
    message: `${name} is listed with ${btihs.length} different btih (${btihs.join(', ')}): an AAC release never changes, so none of them is taken`,
  }
}

/** Reads a whole list held in memory (tests, dry runs); `readListStream` reads one as it arrives. */
export function parseTorrentList(text: string, ctx: ListContext): ParsedList {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (e) {
    throw new MirrorError(
      'list-invalid',
      `${ctx.source}: the list at ${displayLocation(ctx.location)} is not JSON: ${errorMessage(e)}`,
    )
  }
  if (!Array.isArray(data))
    throw new MirrorError(
      'list-invalid',
      `${ctx.source}: the list at ${displayLocation(ctx.location)} is not a JSON array`,
    )
  if (data.length > ctx.maxEntries) throw tooManyEntries(ctx, data.length)
  const dedup = new ListDedup(ctx.source)
  data.forEach((raw: unknown, i) => dedup.add(classifyEntry(raw, i, ctx)))
  return dedup.finish()
}

/**
 * The whole-list rules, in memory: the same torrent twice (an AAC release, or an opaque
 * torrent in a second group) is kept once and counted as a duplicate; a btih listed under two
 * names is rejected the second time; a release name listed with two different btih is
 * rejected in all its entries (`conflicting-entry`).
 */
export class ListDedup {
  /** btih → the AAC release name, or null for an opaque torrent. */
  private readonly seen = new Map<string, string | null>()
  private readonly torrents: UpstreamTorrent[] = []
  private readonly opaque: OpaqueTorrent[] = []
  private readonly rejected: Rejection[] = []
  private readonly btihsByName = new Map<string, string[]>()
  private duplicates = 0

  constructor(private readonly source: string) {}

  add(v: EntryVerdict): void {
    if ('rejection' in v) {
      this.rejected.push(v.rejection)
      return
    }
    const t = 'torrent' in v ? v.torrent : v.opaque
    const name = 'torrent' in v ? v.torrent.name : null
    if (this.seen.has(t.btih)) {
      const other = this.seen.get(t.btih)!
      if (other === name) this.duplicates++
      else
        this.rejected.push({
          source: this.source,
          entry: v.label,
          code: 'entry-invalid',
          message: `btih ${t.btih} is also listed for ${other === null ? 'a torrent that is not an AAC release' : other}`,
        })
      return
    }
    this.seen.set(t.btih, name)
    if ('torrent' in v) {
      this.torrents.push(v.torrent)
      const list = this.btihsByName.get(v.torrent.name)
      if (list) list.push(t.btih)
      else this.btihsByName.set(v.torrent.name, [t.btih])
    } else this.opaque.push(v.opaque)
  }

  finish(): ParsedList {
    const conflicting = new Set<string>()
    const rejected = [...this.rejected]
    for (const [name, btihs] of this.btihsByName) {
      if (btihs.length < 2) continue
      conflicting.add(name)
      const sorted = [...btihs].sort()
      for (const b of sorted) rejected.push(conflictRejection(this.source, name, b, sorted))
    }
    return {
      torrents: this.torrents.filter((t) => !conflicting.has(t.name)),
      opaque: this.opaque,
      rejected,
      duplicates: this.duplicates,
    }
  }
}

function entryLabel(raw: unknown, i: number): string {
  const name =
    typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).display_name : undefined
  // Printed in reports: keep hostile names short and visible (JSON escapes NUL and control characters).
  return typeof name === 'string'
    ? `entry ${i} ${JSON.stringify(name.length > 300 ? name.slice(0, 300) + '…' : name)}`
    : `entry ${i}`
}

function bad(code: MirrorErrorCode, message: string): never {
  throw new MirrorError(code, message)
}

/** The AAC release a display name stands for, or null when it is not an AAC release's name. */
function aacRelease(displayName: string): ReturnType<typeof releaseOfTorrentName> | null {
  // Most of a real list is not AAC: skip the parser (and the three errors it would throw) for
  // names that cannot be a release's: every one has `_meta__aacid__` or `_data__aacid__`.
  if (!AAC_SHAPE.test(displayName)) return null
  try {
    return releaseOfTorrentName(displayName)
  } catch (e) {
    if (e instanceof MirrorError && e.code === 'not-aac-name') return null
    throw e
  }
}

/**
 * A name used as one folder or file name under the mirror root: no separator, no `.`/`..`, no
 * NUL or control character, at most 255 bytes (most file systems' limit).
 */
function safeComponent(what: string, v: string): string {
  if (v === '' || v === '.' || v === '..' || UNSAFE_CHAR.test(v) || Buffer.byteLength(v) > 255)
    bad('entry-invalid', `${what} ${JSON.stringify(v)} is not a safe file name`)
  return v
}

function groupName(e: Record<string, unknown>, key: string): string {
  const v = e[key]
  if (v === undefined || v === null || v === '') return ''
  if (typeof v !== 'string') bad('entry-invalid', `${key} is not a string`)
  return safeComponent(key, v)
}

type ParsedEntry = { aac: UpstreamTorrent; opaque?: never } | { aac?: never; opaque: OpaqueTorrent }

function parseEntry(raw: unknown, ctx: ListContext): ParsedEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    bad('entry-invalid', 'is not a JSON object')
  const e = raw as Record<string, unknown>
  const displayName = e.display_name
  if (typeof displayName !== 'string') bad('entry-invalid', 'display_name is missing or not a string')
  const release = aacRelease(displayName)
  if (release === null) safeComponent('display_name', displayName)

  let btih: string | null = null
  if (e.btih !== undefined && e.btih !== null) {
    if (typeof e.btih !== 'string' || !HEX40.test(e.btih))
      bad('entry-invalid', `btih ${JSON.stringify(e.btih)} is not 40 hex digits`)
    btih = e.btih.toLowerCase()
  }
  let magnet: string | null = null
  if (e.magnet_link !== undefined && e.magnet_link !== null && e.magnet_link !== '') {
    if (typeof e.magnet_link !== 'string') bad('magnet-invalid', 'magnet_link is not a string')
    const fromMagnet = magnetInfoHash(e.magnet_link)
    if (fromMagnet === null) bad('magnet-invalid', 'magnet_link has no valid urn:btih infohash')
    if (btih !== null && fromMagnet !== btih)
      bad('magnet-invalid', `magnet_link's infohash ${fromMagnet} is not the entry's btih ${btih}`)
    btih = fromMagnet
    magnet = e.magnet_link
  }
  if (btih === null) bad('entry-invalid', 'has neither btih nor magnet_link')

  const kindOfFlag = e.is_metadata
  if (kindOfFlag !== undefined && typeof kindOfFlag !== 'boolean')
    bad('entry-invalid', 'is_metadata is not a boolean')
  const topGroup = groupName(e, 'top_level_group_name')
  const group = groupName(e, 'group_name')
  if (release === null) {
    return {
      opaque: {
        btih,
        displayName,
        topGroup,
        group,
        torrentUrl: torrentLocation(e.url, ctx),
        magnet,
        torrentSize: count(e, 'torrent_size'),
        dataSize: count(e, 'data_size'),
        numFiles: count(e, 'num_files'),
        seeders: count(e, 'seeders'),
        leechers: count(e, 'leechers'),
        completed: count(e, 'completed'),
        scrapedAt: stamp(e, 'stats_scraped_at'),
        addedAt: stamp(e, 'added_to_torrents_list_at'),
        obsolete: flag(e, 'obsolete'),
        embargo: flag(e, 'embargo'),
        partiallyBroken: flag(e, 'partially_broken'),
        isMetadata: kindOfFlag === true,
        entry: JSON.stringify(e),
      },
    }
  }
  if (typeof kindOfFlag === 'boolean' && kindOfFlag !== (release.kind === 'meta')) {
    bad(
      'entry-invalid',
      `is_metadata is ${kindOfFlag}, but ${release.name} is ${release.kind === 'meta' ? 'a metadata file' : 'a data folder'}`,
    )
  }

  return {
    aac: {
      btih,
      ...release,
      torrentUrl: torrentLocation(e.url, ctx),
      magnet,
      dataSize: count(e, 'data_size'),
      numFiles: count(e, 'num_files'),
      seeders: count(e, 'seeders'),
      leechers: count(e, 'leechers'),
      completed: count(e, 'completed'),
      scrapedAt: stamp(e, 'stats_scraped_at'),
      obsolete: flag(e, 'obsolete'),
      embargo: flag(e, 'embargo'),
      partiallyBroken: flag(e, 'partially_broken'),
      addedAt: stamp(e, 'added_to_torrents_list_at'),
      topGroup,
      group: group || release.collection,
    },
  }
}

function count(e: Record<string, unknown>, key: string): number | null {
  const v = e[key]
  if (v === undefined || v === null) return null
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    bad('entry-invalid', `${key} ${JSON.stringify(v)} is not a non-negative integer`)
  return v
}

function flag(e: Record<string, unknown>, key: string): boolean {
  const v = e[key]
  if (v === undefined || v === null) return false
  if (typeof v !== 'boolean') bad('entry-invalid', `${key} is not a boolean`)
  return v
}

function stamp(e: Record<string, unknown>, key: string): string | null {
  const v = e[key]
  if (v === undefined || v === null || v === '') return null
  // `2023-12-21` and `2025-08-14T12:11:10` in real lists, both UTC (src/mirror/dates.ts).
  if (typeof v !== 'string' || v.length > 40 || parseListDate(v) === null)
    bad('entry-invalid', `${key} ${JSON.stringify(v)} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC)`)
  return v
}

/**
 * An absolute http(s) URL, or a file path for a list read from disk. A list fetched over HTTP
 * may only point to http(s) URLs: a remote list must never make aacseed read a local file.
 * A file list's relative URLs stay inside the list's own folder.
 */
function torrentLocation(url: unknown, ctx: ListContext): string | null {
  if (url === undefined || url === null || url === '') return null
  if (typeof url !== 'string') bad('entry-invalid', 'url is not a string')
  if (url.includes('\0')) bad('entry-invalid', 'url contains NUL')
  const remote = /^https?:\/\//i.test(ctx.location)
  if (remote || /^[a-z][a-z0-9+.-]*:/i.test(url)) {
    let u: URL
    try {
      u = remote ? new URL(url, ctx.location) : new URL(url)
    } catch {
      return bad('entry-invalid', `url ${JSON.stringify(url)} is not a URL`)
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      bad('entry-invalid', `url ${JSON.stringify(url)}: only http and https are fetched`)
    if (u.username || u.password) bad('entry-invalid', `url ${JSON.stringify(url)} carries credentials`)
    return u.href
  }
  const dir = ctx.location.slice(0, ctx.location.lastIndexOf('/') + 1)
  // Published lists percent-encode names (an en dash range is %E2%80%93): decode, then check.
  let path: string
  try {
    path = decodeURIComponent(url)
  } catch {
    return bad('entry-invalid', `url ${JSON.stringify(url)} is not a valid percent-encoded path`)
  }
  const parts = path.split('/')
  if (
    path.startsWith('/') ||
    path.includes('\\') ||
    path.includes('\0') ||
    parts.some((p) => p === '..' || p === '.' || p === '')
  ) {
    bad('entry-invalid', `url ${JSON.stringify(url)} must be a path inside the list's folder`)
  }
  return dir + path
}
