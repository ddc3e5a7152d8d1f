/**
 * Benchmark: checking metadata lines with checkRecordLine versus JSON.parse.
 *
 *   npx tsc -p . && node dist/bench/record-line.js [MB]
 *
 * Builds about 300 MB (or MB) of zlib3-like record lines in memory (titles and descriptions
 * in Latin with accents, Cyrillic and CJK; descriptions of 500–3000 characters, some with
 * `\"`, `\n` and `\u00e9` escapes), then times one core over all of them:
 *   newline scan          splitting the lines only (`buf.indexOf(10)`), the floor
 *   JSON.parse            utf8 decode + JSON.parse + the key checks, per line: the baseline
 *   JSON.parse (no utf8)  the same on strings decoded beforehand, for reference
 *   checkRecordLine       this module, per line
 *   checkChunkLines       the scan's WebAssembly check (record-lines.ts), one call per 2 MiB
 *                         chunk of lines, copying each chunk into its memory included
 * Each is run 5 times after a warm-up; the best wall-clock time and the best CPU time of the
 * process (which also counts the garbage collector's threads) are reported.
 */
import { checkRecordLine } from '../src/catalog/record-line.js'
import { checkChunkLines, LINE_ACCEPTED, LINE_RESULT_INTS } from '../src/catalog/record-lines.js'
import { aacidPrefix } from '../src/catalog/record-rules.js'

const targetMB = Number(process.argv[2] ?? 300)

// A small, seeded PRNG so every run measures the same corpus.
let seed = 0x5eed1234
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
function int(n: number): number {
  return Math.floor(rand() * n)
}
function pick<T>(xs: readonly T[]): T {
  return xs[int(xs.length)]!
}

const WORDS = {
  en: 'the of and history theory practice volume edition introduction modern world life war peace science art guide complete handbook new studies selected works letters on a in to with from by for about collected essays'.split(
    ' ',
  ),
  latin:
    'café naïve façade señor über Ångström crème brûlée Łódź élève déjà vu histoire littérature française español niño corazón São Paulo Müller Straße Gödel Erdős Dvořák Škoda'.split(
      ' ',
    ),
  ru: 'Война и мир история России книга русский язык литература сборник статей избранное том издание наука жизнь время люди город дорога'.split(
    ' ',
  ),
  cjk: '中国 历史 文学 日本語 小説 研究 科学 技术 世界 经济 社会 文化 东京 大学 出版社 第一卷 现代 教程 论文集 三国演义'.split(
    ' ',
  ),
} as const
type Lang = keyof typeof WORDS
const LANGS: readonly Lang[] = ['en', 'en', 'latin', 'ru', 'cjk']
const LANGUAGE_NAMES: Record<Lang, string> = { en: 'english', latin: 'french', ru: 'russian', cjk: 'chinese' }
const BASE57 = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

function phrase(lang: Lang, words: number): string {
  const sep = lang === 'cjk' ? '' : ' '
  const out: string[] = []
  for (let k = 0; k < words; k++) out.push(pick(rand() < 0.8 ? WORDS[lang] : WORDS.en))
  return out.join(sep)
}

function description(lang: Lang): string {
  const length = 500 + int(2500)
  let s = ''
  while (s.length < length) {
    s += phrase(lang, 5 + int(12))
    const r = rand()
    s += r < 0.05 ? '\n\n' : r < 0.1 ? ' "' + phrase(lang, 3) + '" ' : r < 0.12 ? '\t' : '. '
  }
  return s
}

function hex(n: number): string {
  let s = ''
  for (let k = 0; k < n; k++) s += '0123456789abcdef'[int(16)]
  return s
}

function recordLine(n: number): string {
  const lang = pick(LANGS)
  const id = 22430000 + n
  let uuid = ''
  for (let k = 0; k < 22; k++) uuid += BASE57[int(57)]
  const files = rand() < 0.3
  const collection = files ? 'zlib3_files' : 'zlib3_records'
  const aacid = `aacid__${collection}__20230808T014342Z__${id}__${uuid}`
  const isbns: string[] = []
  for (let k = int(4); k > 0; k--) isbns.push('978' + String(1000000000 + int(899999999)))
  const metadata = {
    zlibrary_id: id,
    date_added: `20${10 + int(14)}-0${1 + int(9)}-${10 + int(18)}`,
    title: phrase(lang, 2 + int(8)),
    author: phrase(lang, 2 + int(3)),
    publisher: phrase(lang, 1 + int(3)),
    language: LANGUAGE_NAMES[lang],
    year: String(1900 + int(124)),
    description: rand() < 0.9 ? description(lang) : '',
    isbns,
    md5_reported: hex(32),
    filesize_reported: 10000 + int(50_000_000),
    extension: pick(['epub', 'pdf', 'djvu', 'mobi', 'fb2']),
  }
  const record = files
    ? {
        aacid,
        data_folder: `annas_archive_data__aacid__${collection}__20230808T014342Z--20230808T023702Z`,
        metadata,
      }
    : { aacid, metadata }
  let line = JSON.stringify(record)
  // JSON.stringify never writes \u escapes for printable text; some producers do.
  if (rand() < 0.15) line = line.replaceAll('é', '\\u00e9')
  return line
}

// ---------------------------------------------------------------------------------------------

console.log(`building ~${targetMB} MB of zlib3-like record lines…`)
const capacity = Math.ceil(targetMB * 1e6) + 1_000_000
const corpus = Buffer.allocUnsafe(capacity)
const starts: number[] = []
const ends: number[] = []
let size = 0
for (let n = 0; size < targetMB * 1e6; n++) {
  const line = recordLine(n)
  starts.push(size)
  size += corpus.write(line, size, 'utf8')
  ends.push(size)
  corpus[size++] = 0x0a
}
const lines = starts.length
let nonAscii = 0
for (let k = 0; k < size; k++) if (corpus[k]! >= 0x80) nonAscii++
console.log(
  `${lines} lines, ${(size / 1e6).toFixed(1)} MB, ${((100 * nonAscii) / size).toFixed(1)}% non-ASCII bytes, ${(size / lines).toFixed(0)} bytes/line on average`,
)

const ALLOWED = new Set(['aacid', 'metadata', 'data_folder'])
function recordOk(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const o = v as Record<string, unknown>
  for (const key in o) if (!ALLOWED.has(key)) return false
  return (
    typeof o.aacid === 'string' &&
    'metadata' in o &&
    (o.data_folder === undefined || typeof o.data_folder === 'string')
  )
}
function viaJsonParse(): number {
  let ok = 0
  for (let k = 0; k < lines; k++) if (recordOk(JSON.parse(corpus.toString('utf8', starts[k], ends[k])))) ok++
  return ok
}
let texts: string[] = []
function viaJsonParseOfText(): number {
  let ok = 0
  for (let k = 0; k < lines; k++) if (recordOk(JSON.parse(texts[k]!))) ok++
  return ok
}
function viaCheckRecordLine(): number {
  let ok = 0
  for (let k = 0; k < lines; k++) if (checkRecordLine(corpus, starts[k]!, ends[k]!).ok) ok++
  return ok
}
/** The corpus cut into chunks of whole lines of about 2 MiB, each its own buffer, as the scan's. */
const chunks: Array<{ bytes: Uint8Array; newlines: Int32Array }> = []
const prefix = aacidPrefix('zlib3_records')
function viaCheckChunkLines(): number {
  let ok = 0
  for (const c of chunks) {
    const r = checkChunkLines(c.bytes, c.bytes.length, c.newlines, prefix)!
    for (let k = 0; k < r.length; k += LINE_RESULT_INTS) if (r[k]! & LINE_ACCEPTED) ok++
  }
  return ok
}
function newlineScan(): number {
  let n = 0
  let i = 0
  for (;;) {
    const j = corpus.indexOf(0x0a, i)
    if (j < 0 || j >= size) return n
    n++
    i = j + 1
  }
}

/**
 * Best of 5 runs after a warm-up: wall-clock MB/s, and MB/s of the process's CPU time (GC threads included).
 */
function time(name: string, fn: () => number): { wall: number; cpu: number } {
  fn() // warm-up
  let wall = Infinity
  let cpu = Infinity
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    const result = fn()
    wall = Math.min(wall, Number(process.hrtime.bigint() - t0) / 1e9)
    const c = process.cpuUsage(c0)
    cpu = Math.min(cpu, (c.user + c.system) / 1e6)
    if (result !== lines) throw new Error(`${name}: ${result} of ${lines} lines passed`)
  }
  const mb = size / 1e6
  console.log(
    `${name.padEnd(21)} ${wall.toFixed(3)} s ${(mb / wall).toFixed(0).padStart(6)} MB/s   (CPU ${cpu.toFixed(3)} s ${(mb / cpu).toFixed(0).padStart(6)} MB/s)`,
  )
  return { wall: mb / wall, cpu: mb / cpu }
}

// Both must agree on what they extract before their speed means anything.
for (let k = 0; k < lines; k += 97) {
  const r = checkRecordLine(corpus, starts[k]!, ends[k]!)
  const v = JSON.parse(corpus.toString('utf8', starts[k], ends[k])) as { aacid: string; data_folder?: string }
  if (!r.ok || r.aacid !== v.aacid || r.dataFolder !== (v.data_folder ?? null))
    throw new Error(`line ${k + 1}: results differ`)
}

time('newline scan', newlineScan)
const parse = time('JSON.parse', viaJsonParse)
for (let k = 0; k < lines; k++) texts.push(corpus.toString('utf8', starts[k], ends[k]))
const parseText = time('JSON.parse (no utf8)', viaJsonParseOfText)
texts = []
const check = time('checkRecordLine', viaCheckRecordLine)
for (let k = 0; k < lines;) {
  const from = starts[k]!
  let j = k
  while (j < lines && ends[j]! + 1 - from <= 2 * 1024 * 1024) j++
  if (j === k) j++
  const bytes = new Uint8Array(corpus.subarray(from, ends[j - 1]! + 1))
  chunks.push({ bytes, newlines: Int32Array.from(ends.slice(k, j), (e) => e - from) })
  k = j
}
const wasm = time('checkChunkLines', viaCheckChunkLines)
const x = (a: number, b: number) => `${(a / b).toFixed(2)}x`
console.log(
  `speedup: ${x(check.wall, parse.wall)} over JSON.parse, ${x(check.wall, parseText.wall)} over JSON.parse without the utf8 decode`,
)
console.log(
  `speedup by CPU time: ${x(check.cpu, parse.cpu)} over JSON.parse, ${x(check.cpu, parseText.cpu)} over JSON.parse without the utf8 decode`,
)
console.log(
  `WebAssembly by CPU time: ${x(wasm.cpu, check.cpu)} over checkRecordLine, ${x(wasm.cpu, parse.cpu)} over JSON.parse`,
)
