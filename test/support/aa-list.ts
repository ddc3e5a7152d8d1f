/**
 * A generated torrent list in the shape and proportions of Anna's Archive's real
 * `torrents.json` (every field it writes, its date formats, its groups), reproducible from a seed.
 * A fake of upstream, named as one: no real infohash in it points to real data.
 *
 * Proportions, after the real list's torrents page: most entries are `external` (Library
 * Genesis' r_/f_/c_/m_ torrents of 1,000 or 100 files, Sci-Hub's `sm_` torrents of 100 files,
 * Z-Library's and the Internet Archive's old dumps), then `managed_by_aa` AAC releases
 * (metadata files and data folders with real AAC names), then a few `other_aa` derived
 * metadata dumps. A few percent are obsolete, the newest AAC data is embargoed, about one in a
 * hundred external torrents is listed again in a second group (same btih), and `malformed`
 * entries are broken in the ways a list can be (a bad btih, a magnet for another torrent, a
 * name that would leave a folder, a non-http URL).
 */
import { createHash } from 'node:crypto'
import { prng } from '../../src/catalog/index.js'
import { dataName, metaName } from '../fixtures.js'

export interface AaListEntry {
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
  stats_scraped_at: string
  partially_broken: boolean
  random: string
}

export interface AaList {
  entries: AaListEntry[]
  /** What a reader must make of it, counted while generating. */
  expected: {
    aac: number
    other: number
    /** Distinct group_name of the other (non-AAC) torrents kept (first listing of each btih). */
    otherGroups: number
    rejected: number
    /** Entries repeating a btih already listed (kept once). */
    duplicates: number
  }
}

export interface AaListOptions {
  /** Entries before duplicates and malformed ones (default 20,000). */
  count?: number
  seed?: number
  malformed?: number
}

const BASE = 'https://annas-archive.org/dyn/small_file/torrents'
const TRACKER = 'udp://tracker.opentrackr.org:1337/announce'
const GB = 1_000_000_000

interface ExternalKind {
  group: string
  share: number
  /** The Nth torrent's display name. */
  name: (i: number) => string
  files: number
  /** Typical size range, bytes. */
  bytes: [number, number]
}

/** External groups and their share of the external entries (Library Genesis dominates by count). */
const EXTERNAL: readonly ExternalKind[] = [
  {
    group: 'libgen_rs_non_fic',
    share: 0.3,
    name: (i) => `r_${i * 1000}.torrent`,
    files: 1000,
    bytes: [8 * GB, 60 * GB],
  },
  {
    group: 'libgen_rs_fic',
    share: 0.16,
    name: (i) => `f_${i * 1000}.torrent`,
    files: 1000,
    bytes: [1 * GB, 12 * GB],
  },
  {
    group: 'libgen_li_fic',
    share: 0.1,
    name: (i) => `f_${i * 1000}.torrent`,
    files: 1000,
    bytes: [2 * GB, 20 * GB],
  },
  {
    group: 'libgen_li_comics',
    share: 0.12,
    name: (i) => `c_${i * 1000}.torrent`,
    files: 1000,
    bytes: [20 * GB, 110 * GB],
  },
  {
    group: 'libgen_li_magazines',
    share: 0.08,
    name: (i) => `m_${i * 1000}.torrent`,
    files: 1000,
    bytes: [10 * GB, 90 * GB],
  },
  {
    group: 'scihub',
    share: 0.14,
    name: (i) =>
      `sm_${String(i * 100000).padStart(8, '0')}-${String(i * 100000 + 99999).padStart(8, '0')}.torrent`,
    files: 100,
    bytes: [40 * GB, 130 * GB],
  },
  {
    group: 'zlib',
    share: 0.06,
    name: (i) => `pilimi-zlib2-${i * 10000}-${i * 10000 + 9999}.torrent`,
    files: 1,
    bytes: [50 * GB, 400 * GB],
  },
  {
    group: 'ia',
    share: 0.04,
    name: (i) => `annas-archive-ia-2023-06-acsm-${String(i).padStart(4, '0')}.tar.torrent`,
    files: 1,
    bytes: [5 * GB, 120 * GB],
  },
]

const AAC_COLLECTIONS = [
  'zlib3_records',
  'zlib3_files',
  'ia2_records',
  'ia2_acsmpdf_files',
  'duxiu_records',
  'duxiu_files',
  'upload_records',
  'upload_files',
]

function hex(s: string): string {
  return createHash('sha1').update(s).digest('hex')
}

function day(rnd: () => number): string {
  const t = Date.UTC(2022, 8, 1) + Math.floor(rnd() * 1000) * 86_400_000
  return new Date(t).toISOString().slice(0, 10)
}

function scraped(rnd: () => number): string {
  const t = Date.UTC(2025, 7, 14) + Math.floor(rnd() * 86_400) * 1000
  return new Date(t).toISOString().slice(0, 19)
}

/** Seeders as the real list shows them: most torrents thinly seeded, a tail of well-seeded ones. */
function seeders(rnd: () => number): number {
  const r = rnd()
  return r < 0.08
    ? 0
    : r < 0.55
      ? 1 + Math.floor(rnd() * 3)
      : r < 0.85
        ? 4 + Math.floor(rnd() * 7)
        : 11 + Math.floor(rnd() ** 2 * 200)
}

export function generateAaList(opts: AaListOptions = {}): AaList {
  const count = opts.count ?? 20_000
  const rnd = prng(opts.seed ?? 16)
  const entries: AaListEntry[] = []
  const groupsOther = new Set<string>()
  let aac = 0
  let other = 0

  const entry = (
    top: string,
    group: string,
    displayName: string,
    isMetadata: boolean,
    files: number,
    bytes: number,
    over: Partial<AaListEntry> = {},
  ): AaListEntry => {
    const btih = hex(`${top}/${group}/${displayName}`)
    const path = `${top}/${group}/${encodeURIComponent(displayName)}`
    return {
      url: `${BASE}/${path}`,
      top_level_group_name: top,
      group_name: group,
      display_name: displayName,
      added_to_torrents_list_at: day(rnd),
      is_metadata: isMetadata,
      btih,
      magnet_link: `magnet:?xt=urn:btih:${btih}&dn=${encodeURIComponent(displayName)}&tr=${TRACKER}`,
      torrent_size: 200 + Math.floor((bytes / 262_144) * 20) + files * 60,
      num_files: files,
      data_size: bytes,
      aa_currently_seeding: rnd() < 0.3,
      obsolete: rnd() < 0.04,
      embargo: false,
      seeders: seeders(rnd),
      leechers: Math.floor(rnd() * 5),
      completed: Math.floor(rnd() * 300),
      stats_scraped_at: scraped(rnd),
      partially_broken: rnd() < 0.005,
      random: hex(displayName).slice(0, 22),
      ...over,
    }
  }

  // managed_by_aa: AAC releases, about 15%, metadata and data in each collection.
  const aacCount = Math.round(count * 0.15)
  const start = Date.UTC(2023, 0, 1) / 1000
  const t0 = Date.UTC(2024, 0, 1) / 1000
  const perCollection = Math.ceil(aacCount / AAC_COLLECTIONS.length)
  for (const c of AAC_COLLECTIONS) {
    const files = c.endsWith('_files')
    let at = start - t0
    for (let i = 0; i < perCollection && aac < aacCount; i++) {
      const len = 3600 + Math.floor(rnd() * 86_400 * 20)
      const from = at
      const to = at + len - 1
      at += len
      const name = files ? dataName(c, from, to) : metaName(c, from, to, '.jsonl.seekable.zst')
      const newest = i >= perCollection - 3
      entries.push(
        entry(
          'managed_by_aa',
          c.replace(/_(records|files)$/, ''),
          `${name}.torrent`,
          !files,
          files ? 1000 + Math.floor(rnd() * 30_000) : 1,
          files ? Math.floor(5 * GB + rnd() * 300 * GB) : Math.floor(50_000_000 + rnd() * 20 * GB),
          // Anna's Archive embargoes the newest data for a while.
          files && newest ? { embargo: true } : {},
        ),
      )
      aac++
    }
  }

  // other_aa: derived mirror metadata, about 1%.
  const derived = Math.round(count * 0.01)
  for (let i = 0; i < derived; i++) {
    const d = new Date(Date.UTC(2023, 5, 1) + i * 7 * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '')
    entries.push(
      entry(
        'other_aa',
        'aa_derived_mirror_metadata',
        `aa_derived_mirror_metadata_${d}.torrent`,
        true,
        1 + Math.floor(rnd() * 5),
        Math.floor(100 * GB + rnd() * 300 * GB),
        { obsolete: i < derived - 2 },
      ),
    )
    groupsOther.add('aa_derived_mirror_metadata')
    other++
  }

  // external: the rest.
  const externalCount = count - aac - derived
  const externals: AaListEntry[] = []
  let assigned = 0
  EXTERNAL.forEach((k, idx) => {
    const n = idx === EXTERNAL.length - 1 ? externalCount - assigned : Math.round(externalCount * k.share)
    assigned += n
    for (let i = 0; i < n; i++) {
      const bytes = Math.floor(k.bytes[0] + rnd() * (k.bytes[1] - k.bytes[0]))
      const files = k.files === 1 ? 1 : Math.max(1, k.files - (rnd() < 0.1 ? Math.floor(rnd() * 50) : 0))
      externals.push(entry('external', k.group, k.name(i), false, files, bytes))
    }
    if (n > 0) groupsOther.add(k.group)
  })
  entries.push(...externals)
  other += externals.length

  // Duplicates across groups: about 1% of external torrents listed again under another group, same btih.
  let duplicates = 0
  for (let i = 0; i < externals.length; i += 97) {
    const e = externals[i]!
    entries.push({
      ...e,
      group_name: `${e.group_name}_dupes`,
      url: e.url.replace(`/${e.group_name}/`, `/${e.group_name}_dupes/`),
    })
    duplicates++
  }

  // Malformed entries: each must be a rejection, never an opaque torrent.
  const malformed = opts.malformed ?? 0
  const breakers: Array<(e: AaListEntry) => AaListEntry> = [
    (e) => ({ ...e, btih: 'not-a-hash', magnet_link: '' }),
    (e) => ({ ...e, magnet_link: `magnet:?xt=urn:btih:${hex('another')}` }),
    (e) => ({ ...e, display_name: '../../etc/passwd.torrent' }),
    (e) => ({ ...e, url: 'file:///etc/passwd' }),
    (e) => ({ ...e, data_size: -1 }),
    (e) => ({ ...e, stats_scraped_at: '2025-02-30T00:00:00' }),
  ]
  for (let i = 0; i < malformed; i++) {
    const base = entry('external', 'broken', `broken_${i}.torrent`, false, 1, GB)
    entries.push(breakers[i % breakers.length]!(base))
  }

  return {
    entries,
    expected: { aac, other, otherGroups: groupsOther.size, rejected: malformed, duplicates },
  }
}
