/**
 * Writes realistic sample release trees: `aacseed demo`, the test fixtures and the
 * benchmarks all use it. Deterministic for a given seed, so a test can predict names.
 *
 * Shapes covered: a metadata-only collection with zlib3-like records (non-ASCII titles,
 * long descriptions), a files collection whose records point into data folders, a
 * collection whose metadata is a string (XML), and seekable multi-frame metadata files.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { once } from 'node:events'
import {
  encodeShortuuid,
  formatAacId,
  formatDataFolderName,
  formatMetaFileName,
  makeRange,
  timestampFromSeconds,
  type AacRange,
  type MetaFileExtension,
} from '../aac/index.js'

const require = createRequire(import.meta.url)
const zstd = require('zstd-napi') as { compress(b: Uint8Array, p?: { compressionLevel?: number }): Buffer }

export interface SampleCollection {
  name: string
  kind: 'records' | 'files' | 'xml'
  ranges: number
  recordsPerRange: number
  /** More than one writes a seekable multi-frame file. */
  framesPerFile?: number
  extension?: MetaFileExtension
  /** Blob sizes for a files collection. */
  blobBytes?: [number, number]
}

export interface SampleOptions {
  root: string
  prefix?: string
  seed?: number
  /** Unix seconds of the first range's start. */
  start?: number
  collections?: SampleCollection[]
}

export interface SampleSummary {
  metaFiles: string[]
  dataFolders: string[]
  records: number
  dataFiles: number
  bytes: number
}

export const DEMO_COLLECTIONS: SampleCollection[] = [
  { name: 'zlib3_records', kind: 'records', ranges: 3, recordsPerRange: 400, framesPerFile: 1 },
  { name: 'zlib3_files', kind: 'files', ranges: 2, recordsPerRange: 24, blobBytes: [1_000, 200_000] },
  {
    name: 'duxiu_records',
    kind: 'xml',
    ranges: 1,
    recordsPerRange: 300,
    framesPerFile: 6,
    extension: '.jsonl.seekable.zst',
  },
]

/** A small, fast, seedable PRNG (mulberry32): reproducible fixtures without dependencies. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = [
  'library',
  'ocean',
  'history',
  'Ελληνικά',
  'науки',
  '物理学',
  'の研究',
  'Zürich',
  'façade',
  'naïve',
  'histoire',
  'كتاب',
  'भारत',
  'mathematics',
  'Els nens',
  'de la senyora',
  'Zlatin',
  'über',
  'Straße',
  'teoría',
  'computación',
  '東京',
  '北京大学',
  'révolution',
  'Ωmega',
  '"quoted"',
  'back\\slash',
  'tab\there',
]
const LANGS = [
  'english',
  'russian',
  'chinese',
  'catalan',
  'german',
  'french',
  'spanish',
  'japanese',
  'arabic',
  'hindi',
]
const EXTS = ['epub', 'pdf', 'djvu', 'mobi', 'fb2']

function pick<T>(rng: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)]!
}

function words(rng: () => number, n: number): string {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(pick(rng, WORDS))
  return out.join(' ')
}

function hex(rng: () => number, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += Math.floor(rng() * 16).toString(16)
  return s
}

function shortuuid(rng: () => number): string {
  let n = 0n
  for (let i = 0; i < 4; i++) n = (n << 32n) | BigInt(Math.floor(rng() * 4294967296))
  return encodeShortuuid(n)
}

/** A zlib3-like metadata object; `descriptionWords` sets the line length. */
export function zlibMetadata(rng: () => number, id: number, descriptionWords = 40): Record<string, unknown> {
  return {
    zlibrary_id: id,
    date_added: `20${10 + Math.floor(rng() * 14)}-0${1 + Math.floor(rng() * 9)}-1${Math.floor(rng() * 9)}`,
    extension: pick(rng, EXTS),
    filesize_reported: Math.floor(rng() * 50_000_000),
    md5_reported: hex(rng, 32),
    title: words(rng, 2 + Math.floor(rng() * 6)),
    author: words(rng, 2),
    publisher: words(rng, 2),
    language: pick(rng, LANGS),
    series: '',
    volume: '',
    edition: '',
    year: String(1900 + Math.floor(rng() * 125)),
    pages: String(Math.floor(rng() * 900)),
    description: words(rng, Math.floor(descriptionWords * (0.5 + rng()))),
    cover_path: `/covers/${hex(rng, 4)}/${hex(rng, 32)}.jpg`,
    isbns: rng() < 0.5 ? [] : [`978${Math.floor(rng() * 1e10)}`],
  }
}

export interface MetaFileWriteOptions {
  /** Lines per zstd frame; 0 or undefined: one frame. */
  linesPerFrame?: number
  /** Append the seekable format's seek table (a skippable frame). */
  seekTable?: boolean
  level?: number
}

/** Compresses lines (each without its newline) into a zstd JSON Lines file. */
export function encodeMetaFile(lines: readonly string[], opts: MetaFileWriteOptions = {}): Buffer {
  const per = opts.linesPerFrame && opts.linesPerFrame > 0 ? opts.linesPerFrame : Math.max(1, lines.length)
  const frames: Buffer[] = []
  const sizes: Array<{ compressed: number; decompressed: number }> = []
  for (let i = 0; i < lines.length || (i === 0 && lines.length === 0); i += per) {
    const text = Buffer.from(
      lines
        .slice(i, i + per)
        .map((l) => l + '\n')
        .join(''),
    )
    const c = zstd.compress(text, { compressionLevel: opts.level ?? 3 })
    frames.push(c)
    sizes.push({ compressed: c.length, decompressed: text.length })
    if (lines.length === 0) break
  }
  if (opts.seekTable) frames.push(seekTableFrame(sizes))
  return Buffer.concat(frames)
}

/** The zstd seekable format's seek table: a skippable frame listing each frame's sizes. */
export function seekTableFrame(sizes: ReadonlyArray<{ compressed: number; decompressed: number }>): Buffer {
  const body = Buffer.alloc(sizes.length * 8 + 9)
  sizes.forEach((s, i) => {
    body.writeUInt32LE(s.compressed, i * 8)
    body.writeUInt32LE(s.decompressed, i * 8 + 4)
  })
  body.writeUInt32LE(sizes.length, sizes.length * 8)
  body.writeUInt8(0, sizes.length * 8 + 4)
  body.writeUInt32LE(0x8f92eab1, sizes.length * 8 + 5)
  const head = Buffer.alloc(8)
  head.writeUInt32LE(0x184d2a5e, 0)
  head.writeUInt32LE(body.length, 4)
  return Buffer.concat([head, body])
}

export function writeSampleRelease(opts: SampleOptions): SampleSummary {
  const rng = prng(opts.seed ?? 1)
  const prefix = opts.prefix ?? 'annas_archive'
  const summary: SampleSummary = { metaFiles: [], dataFolders: [], records: 0, dataFiles: 0, bytes: 0 }
  mkdirSync(opts.root, { recursive: true })
  let t0 = opts.start ?? Date.UTC(2023, 7, 8, 1, 43, 42) / 1000
  let zid = 22_430_000
  for (const col of opts.collections ?? DEMO_COLLECTIONS) {
    for (let r = 0; r < col.ranges; r++) {
      const n = col.recordsPerRange
      // Records one to a few seconds apart; ranges end on the last record, as real releases do.
      const times: number[] = []
      let t = t0
      for (let i = 0; i < n; i++) {
        times.push(t)
        t += 1 + Math.floor(rng() * 3)
      }
      const last = times[times.length - 1] ?? t0
      const range = makeRange(col.name, timestampFromSeconds(t0).text, timestampFromSeconds(last).text)
      t0 = last + 3600
      const folders = col.kind === 'files' ? splitRange(range, times) : []
      const lines: string[] = []
      for (let i = 0; i < n; i++) {
        const ts = timestampFromSeconds(times[i]!).text
        const aacid = formatAacId(col.name, ts, String(zid++), shortuuid(rng))
        if (col.kind === 'files') {
          const folder = folders.find(
            (f) => times[i]! >= f.range.from.seconds && times[i]! <= f.range.to.seconds,
          )!
          lines.push(
            JSON.stringify({
              aacid,
              data_folder: folder.name,
              metadata: { zlibrary_id: String(zid), md5: hex(rng, 32) },
            }),
          )
          const [lo, hi] = col.blobBytes ?? [100, 10_000]
          const size = lo + Math.floor(rng() * (hi - lo))
          const blob = Buffer.alloc(size)
          for (let k = 0; k < size; k++) blob[k] = Math.floor(rng() * 256)
          folder.files.push([aacid, blob])
        } else if (col.kind === 'xml') {
          lines.push(
            JSON.stringify({
              aacid,
              metadata: `<record id="${zid}"><title>${words(rng, 4)}</title><note>a &lt; b &amp; c</note></record>`,
            }),
          )
        } else {
          lines.push(JSON.stringify({ aacid, metadata: zlibMetadata(rng, zid) }))
        }
      }
      const ext = col.extension ?? ((col.framesPerFile ?? 1) > 1 ? '.jsonl.seekable.zst' : '.jsonl.zst')
      const name = formatMetaFileName(prefix, range, ext)
      const frames = col.framesPerFile ?? 1
      const bytes = encodeMetaFile(lines, {
        linesPerFrame: frames > 1 ? Math.ceil(n / frames) : 0,
        seekTable: ext === '.jsonl.seekable.zst',
      })
      writeFileSync(join(opts.root, name), bytes)
      summary.metaFiles.push(name)
      summary.records += n
      summary.bytes += bytes.length
      for (const f of folders) {
        const dir = join(opts.root, f.name)
        mkdirSync(dir, { recursive: true })
        for (const [file, blob] of f.files) {
          writeFileSync(join(dir, file), blob)
          summary.dataFiles++
          summary.bytes += blob.length
        }
        summary.dataFolders.push(f.name)
      }
    }
  }
  return summary

  function splitRange(
    range: AacRange,
    times: number[],
  ): Array<{ name: string; range: AacRange; files: Array<[string, Buffer]> }> {
    const mid = times[Math.floor(times.length / 2)] ?? range.from.seconds
    const parts: Array<[number, number]> =
      mid > range.from.seconds
        ? [
            [range.from.seconds, mid - 1],
            [mid, range.to.seconds],
          ]
        : [[range.from.seconds, range.to.seconds]]
    return parts.map(([a, b]) => {
      const r = makeRange(range.collection, timestampFromSeconds(a).text, timestampFromSeconds(b).text)
      return { name: formatDataFolderName(prefix, r), range: r, files: [] }
    })
  }
}

/**
 * Writes one large zlib3-like metadata file through the `zstd` binary (multi-threaded),
 * for benchmarks: a million records are about 1 GB decompressed.
 */
export async function writeLargeMetaFile(
  dir: string,
  collection: string,
  records: number,
  opts: { seed?: number; descriptionWords?: number; start?: number; prefix?: string } = {},
): Promise<{ path: string; name: string; bytes: number }> {
  const tmp = join(dir, `.large-meta-${process.pid}.tmp`)
  const rng = prng(opts.seed ?? 7)
  const start = opts.start ?? Date.UTC(2023, 7, 8, 1, 43, 42) / 1000
  const child = spawn('zstd', ['-q', '-f', '-T2', '-3', '-o', tmp], { stdio: ['pipe', 'ignore', 'inherit'] })
  let bytes = 0
  let t = start
  let block: string[] = []
  const write = async (): Promise<void> => {
    const s = block.join('')
    block = []
    bytes += Buffer.byteLength(s)
    if (!child.stdin.write(s)) await once(child.stdin, 'drain')
  }
  for (let i = 0; i < records; i++) {
    const aacid = formatAacId(
      collection,
      timestampFromSeconds(t).text,
      String(22_430_000 + i),
      shortuuid(rng),
    )
    block.push(
      JSON.stringify({ aacid, metadata: zlibMetadata(rng, 22_430_000 + i, opts.descriptionWords ?? 40) }) +
        '\n',
    )
    if (rng() < 0.3) t++
    if (block.length >= 2000) await write()
  }
  await write()
  child.stdin.end()
  const [code] = (await once(child, 'exit')) as [number]
  if (code !== 0) throw new Error(`zstd exited with ${code} writing ${tmp}`)
  const name = formatMetaFileName(
    opts.prefix ?? 'annas_archive',
    makeRange(collection, timestampFromSeconds(start).text, timestampFromSeconds(t).text),
  )
  renameSync(tmp, join(dir, name))
  return { path: join(dir, name), name, bytes }
}
