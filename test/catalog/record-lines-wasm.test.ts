import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isUtf8 } from 'node:buffer'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  aacidRawFrom,
  aacidRawTo,
  acceptedRecord,
  checkRecordLineRaw,
  folderRawFrom,
  folderRawTo,
  RAW_OK,
  recordAacid,
  recordDataFolder,
} from '../../src/catalog/record-line.js'
import {
  checkChunkLines,
  LINE_AACID_ESCAPED,
  LINE_AACID_FAST,
  LINE_ACCEPTED,
  LINE_FOLDER_ESCAPED,
  LINE_PREV_FAST,
  LINE_RESULT_INTS,
} from '../../src/catalog/record-lines.js'
import { aacidPrefix } from '../../src/catalog/record-rules.js'
import { AACID_MAX_LENGTH, parseAacId } from '../../src/aac/index.js'
import { Gen, INVALID_NUMBERS, reference, VALID_NUMBERS } from './record-line-gen.js'

const repo = join(import.meta.dirname, '..', '..', '..')

/** Key spellings with escapes: valid JSON that the WebAssembly check leaves to JavaScript. */
const ESCAPED_KEYS = ['"\\u0061acid"', '"aaci\\u0064"', '"meta\\u0064ata"', '"data\\u005ffolder"']

interface Tally {
  lines: number
  accepted: number
  deferredValid: number
  rejected: number
}

/** `lines` as one chunk (joined by `\n`, the last one terminated or not), checked by the WebAssembly. */
function checkAsChunk(
  lines: Buffer[],
  terminated: boolean,
  collection = 'zlib3_records',
): { chunk: Uint8Array; starts: number[]; ends: number[]; results: Int32Array } {
  const parts: Buffer[] = []
  const starts: number[] = []
  const ends: number[] = []
  let at = 0
  lines.forEach((line, k) => {
    starts.push(at)
    parts.push(line)
    at += line.length
    ends.push(at)
    if (k < lines.length - 1 || terminated) {
      parts.push(Buffer.from('\n'))
      at++
    }
  })
  // A chunk arrives as its own ArrayBuffer (see line-check.ts); bytes after it are not the chunk's.
  const chunk = new Uint8Array(new ArrayBuffer(at + 64), 0, at)
  chunk.set(Buffer.concat(parts))
  new Uint8Array(chunk.buffer, at).fill(0x22) // would close a string, were it read
  const newlines: number[] = []
  for (let i = 0; i < at; i++) if (chunk[i] === 0x0a) newlines.push(i)
  const checked = checkChunkLines(chunk, at, Int32Array.from(newlines), aacidPrefix(collection))
  assert.ok(checked, 'a chunk of records is checked in WebAssembly')
  const results = Int32Array.from(checked)
  return { chunk, starts, ends, results }
}

/**
 * Puts `lines` into one chunk (joined by `\n`, the last one terminated or not), checks it with the
 * WebAssembly and line by line with checkRecordLineRaw, and requires: every line the WebAssembly
 * accepts, JavaScript accepts with the same raw positions and the same decoded values (which are
 * JSON.parse's); every line JavaScript accepts, the WebAssembly accepts too, unless a key is
 * written with an escape or the nesting is deeper than its stack.
 */
function compareChunk(lines: Buffer[], terminated: boolean, tally: Tally, what: string): void {
  // An empty last line without its `\n` is no line at all (nothing follows the last `\n`).
  if (!terminated && lines.length > 0 && lines[lines.length - 1]!.length === 0) lines = lines.slice(0, -1)
  const { chunk, starts, ends, results } = checkAsChunk(lines, terminated)
  assert.equal(results.length, lines.length * LINE_RESULT_INTS, `${what}: one result per line`)
  lines.forEach((line, k) => {
    const r = k * LINE_RESULT_INTS
    const flags = results[r]!
    const text = line.toString('utf8')
    const context = `${what} line ${k}: ${JSON.stringify(text).slice(0, 500)}`
    tally.lines++
    const js = line.length === 0 ? null : checkRecordLineRaw(chunk, starts[k]!, ends[k]!)
    if (flags & LINE_ACCEPTED) {
      tally.accepted++
      assert.equal(js, RAW_OK, `accepted by the WebAssembly only: ${context}`)
      assert.deepEqual(
        [results[r + 1], results[r + 2], results[r + 3], results[r + 4]],
        [aacidRawFrom, aacidRawTo, folderRawFrom, folderRawTo],
        `positions: ${context}`,
      )
      const want = reference(text)
      assert.ok(want.ok, context)
      acceptedRecord(
        results[r + 1]!,
        results[r + 2]!,
        (flags & LINE_AACID_ESCAPED) !== 0,
        results[r + 3]!,
        results[r + 4]!,
        (flags & LINE_FOLDER_ESCAPED) !== 0,
      )
      assert.deepEqual([recordAacid(chunk), recordDataFolder(chunk)], [want.aacid, want.dataFolder], context)
    } else {
      assert.equal(flags, 0, context)
      if (js === RAW_OK) {
        tally.deferredValid++
        assert.ok(
          ESCAPED_KEYS.some((k) => text.includes(k)) || /[[{]{4097}/.test(text.replace(/[^[{\]}]/g, '')),
          `valid, and left to JavaScript without cause: ${context}`,
        )
      } else tally.rejected++
    }
  })
}

test('the committed record-lines.wasm is what npm run build:wasm makes of record-lines.c', (t) => {
  const clang = spawnSync('clang', ['--version'])
  if (clang.error) {
    // CI installs clang (README's test command): there, a missing compiler is a failure.
    if (process.env.CI === 'true')
      assert.fail(`clang is needed to rebuild record-lines.wasm: ${clang.error.message}`)
    t.skip('clang is not installed (apt-get install clang lld)')
    return
  }
  const dir = mkdtempSync(join(tmpdir(), 'aacseed-wasm-'))
  try {
    const out = join(dir, 'record-lines.wasm')
    const r = spawnSync('bash', [join(repo, 'scripts', 'build-wasm.sh'), out], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.ok(
      readFileSync(out).equals(readFileSync(join(repo, 'src', 'catalog', 'record-lines.wasm'))),
      'src/catalog/record-lines.wasm differs from a fresh build: run npm run build:wasm and commit it',
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('every byte inside a string, after a backslash and between values: the same as JavaScript', () => {
  const tally: Tally = { lines: 0, accepted: 0, deferredValid: 0, rejected: 0 }
  const lines: Buffer[] = []
  for (let c = 0; c < 0x80; c++) {
    const ch = String.fromCharCode(c)
    lines.push(Buffer.from(`{"aacid":"a${ch}b","metadata":1}`, 'latin1'))
    lines.push(
      Buffer.from(
        `{"aacid":"a","metadata":"x\\${ch}0000 long enough to be read sixteen at a time"}`,
        'latin1',
      ),
    )
    lines.push(Buffer.from(`{"aacid":"a","metadata":[1${ch}2]}`, 'latin1'))
    lines.push(Buffer.from(`{"aacid":"a",${ch}"metadata":{"k"${ch}:${ch}null}}${ch}`, 'latin1'))
    lines.push(Buffer.from(`{"aacid":"a","metadata":"\\u00${ch}0"}`, 'latin1'))
  }
  for (const n of VALID_NUMBERS) lines.push(Buffer.from(`{"aacid":"a","metadata":[${n},{"n":${n}}]}`))
  for (const n of INVALID_NUMBERS) lines.push(Buffer.from(`{"aacid":"a","metadata":[${n},{"n":${n}}]}`))
  for (const lit of ['true', 'false', 'null', 'tru', 'fals', 'nul', 'True', 'nulll', 'falsey'])
    lines.push(Buffer.from(`{"aacid":"a","metadata":${lit},"data_folder":"f"}`))
  // Surrogates, escaped and not; every simple escape; a string ending at each place of a load.
  lines.push(
    Buffer.from('{"aacid":"a\\ud83d\\ude00\\uD800\\uDFFF😀","metadata":"\\"\\\\\\/\\b\\f\\n\\r\\t"}'),
  )
  for (let n = 0; n < 40; n++) {
    lines.push(
      Buffer.from(
        `{"aacid":"${'x'.repeat(n)}","data_folder":"${'é'.repeat(n)}","metadata":"${'y'.repeat(n)}\\""}`,
      ),
    )
    lines.push(Buffer.from(`{"aacid":"${'x'.repeat(n)}\\\\","metadata":"${'y'.repeat(n)}`)) // unterminated
  }
  for (const key of ESCAPED_KEYS) lines.push(Buffer.from(`{${key}:"a",${key}:"b","metadata":1}`))
  const deep = 5000
  lines.push(Buffer.from(`{"aacid":"a","metadata":${'['.repeat(deep)}${']'.repeat(deep)}}`))
  lines.push(Buffer.from(`{"aacid":"a","metadata":${'[{"k":'.repeat(2000)}1${'}]'.repeat(2000)}}`))
  lines.push(Buffer.alloc(0), Buffer.from(' '), Buffer.from('\r'), Buffer.from('{}'), Buffer.from('"{}"'))
  const utf8Lines = lines.filter((l) => isUtf8(l) && !l.includes(0x0a))
  for (const terminated of [true, false]) compareChunk(utf8Lines, terminated, tally, 'bytes')
  for (const line of utf8Lines) compareChunk([line], false, tally, 'alone') // the chunk's last byte is the line's
  assert.ok(tally.accepted > 300 && tally.rejected > 300 && tally.deferredValid > 0, JSON.stringify(tally))
})

test('randomized: generated and mutated lines, in chunks cut anywhere, the same as JavaScript (seed 20261205)', (t) => {
  const g = new Gen(20261205)
  const tally: Tally = { lines: 0, accepted: 0, deferredValid: 0, rejected: 0 }
  const valid: Buffer[] = []
  let pending: Buffer[] = []
  let chunks = 0
  const add = (line: Buffer): void => {
    // Lines hold no `\n` (the scan splits on it) and are valid UTF-8 (checked before).
    if (line.includes(0x0a) || !isUtf8(line)) return
    pending.push(line)
    if (g.chance(0.01)) {
      compareChunk(pending, g.chance(0.5), tally, `chunk ${chunks++}`)
      pending = []
    }
  }
  for (let k = 0; k < 30_000; k++) {
    g.bad = k % 3 === 0 ? 0 : 0.02
    const line = Buffer.from(g.line().replace(/\n/g, ' '), 'utf8')
    if (g.bad === 0 && valid.length < 5000) valid.push(line)
    add(line)
  }
  for (let k = 0; k < 35_000; k++) {
    let bytes = g.pick(valid)
    for (let m = g.chance(0.8) ? 1 : 1 + g.int(3); m > 0; m--) bytes = g.mutate(bytes)
    add(bytes)
  }
  compareChunk(pending, false, tally, 'last chunk')
  assert.ok(tally.lines > 50_000, JSON.stringify(tally))
  assert.ok(
    tally.accepted > 5000 && tally.deferredValid > 5000 && tally.rejected > 10_000,
    JSON.stringify(tally),
  )
  t.diagnostic(`${chunks + 1} chunks: ${JSON.stringify(tally)}`)
})

/** A line holding `aacid`. */
function lineOf(aacid: string): Buffer {
  return Buffer.from(`{"aacid":${JSON.stringify(aacid)},"metadata":{}}`)
}

test("the AACID rules' fast path: only AACIDs parseAacId accepts in the file's collection, with its timestamp; their order", () => {
  const g = new Gen(20261206)
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
  const two = (n: number): string => String(n).padStart(2, '0')
  const valid = (): string => {
    const y = g.pick([1970, 1999, 2000, 2023, 2024, 2100, 2400, 9999])
    const mo = 1 + g.int(12)
    const days = [
      31,
      (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28,
      31,
      30,
      31,
      30,
      31,
      31,
      30,
      31,
      30,
      31,
    ]
    const d = 1 + g.int(days[mo - 1]!)
    const ts = `${y}${two(mo)}${two(d)}T${two(g.int(24))}${two(g.int(60))}${two(g.int(60))}Z`
    const id = g.chance(0.2)
      ? ''
      : g.pick(['22430000', 'a_b', 'x__y', '!~#', 'md5:0f', String(g.int(1e9)), '-', 'a.b'])
    const uuid = Array.from({ length: 1 + g.int(25) }, () => g.pick([...alnum])).join('')
    return `aacid__zlib3_records__${ts}__${id ? id + '__' : ''}${uuid}`
  }
  const aacids: string[] = []
  for (let k = 0; k < 4000; k++) aacids.push(valid())
  // By construction every one of those takes the fast path; now the edges and mutations.
  const fastByConstruction = new Set(aacids)
  aacids.push(
    'aacid__zlib3_records__20230229T000000Z__x',
    'aacid__zlib3_records__20240229T000000Z__x',
    'aacid__zlib3_records__19000229T000000Z__x',
    'aacid__zlib3_records__19691231T235959Z__x',
    'aacid__zlib3_records__20231301T000000Z__x',
    'aacid__zlib3_records__20230100T000000Z__x',
    'aacid__zlib3_records__20230101T240000Z__x',
    'aacid__zlib3_records__20230101T006000Z__x',
    'aacid__zlib3_records__20230101T000060Z__x',
    'aacid__zlib3_records__20230101T000000Z__',
    'aacid__zlib3_records__20230101T000000Z__id___x',
    'aacid__zlib3_records__20230101T000000Z__a/b__x',
    'aacid__zlib3_records__20230101T000000Z__a\\b__x',
    'aacid__zlib3_records__20230101T000000Z__a b__x',
    'aacid__zlib3_records__20230101T000000Z__é__x',
    'aacid__zlib3_records__20230101T000000Z__x-y',
    'aacid__zlib3_records__20230101T000000Z__x_',
    'aacid__zlib3_records__20230101T000000Z',
    'aacid__zlib3_records__20230101T000000Zx',
    'aacid__zlib3_files__20230101T000000Z__x',
    'aacid__zlib3_records_20230101T000000Z__x',
    'aacid__zlib3_records__2023010T1000000Z__x',
    'aacid__zlib3_records__20230101T000000Z__' + 'x'.repeat(AACID_MAX_LENGTH - 40),
    'aacid__zlib3_records__20230101T000000Z__' + 'x'.repeat(AACID_MAX_LENGTH - 39),
    'aacid__zlib3_records__20230101T000000Z__' + 'i'.repeat(100) + '__' + 'x'.repeat(AACID_MAX_LENGTH - 142),
  )
  for (let k = 0; k < 6000; k++) {
    const a = Buffer.from(g.pick([...fastByConstruction]))
    const at = g.int(a.length)
    const c = g.pick([0x5f, 0x2f, 0x5c, 0x20, 0x30, 0x39, 0x41, 0x54, 0x5a, 0x7e, 0x21, 0x7f, 0xe9])
    const m = g.int(3)
    const b =
      m === 0
        ? Buffer.concat([a.subarray(0, at), Buffer.from([c]), a.subarray(at + 1)])
        : m === 1
          ? Buffer.concat([a.subarray(0, at), Buffer.from([c]), a.subarray(at)])
          : Buffer.concat([a.subarray(0, at), a.subarray(at + 1)])
    aacids.push(b.toString('latin1'))
  }
  // Sorted runs with repeats, so that neighbours compare every way.
  const lines = aacids.map(lineOf)
  const order = [...lines.keys()]
  for (let k = 0; k < order.length - 1; k += 2) if (g.chance(0.3)) order[k + 1] = order[k]!
  const { results } = checkAsChunk(
    order.map((k) => lines[k]!),
    g.chance(0.5),
  )
  let fast = 0
  let slow = 0
  let compared = 0
  order.forEach((k, n) => {
    const aacid = aacids[k]!
    const r = n * LINE_RESULT_INTS
    const flags = results[r]!
    assert.ok(flags & LINE_ACCEPTED, aacid)
    let parsed
    try {
      parsed = parseAacId(aacid)
    } catch {
      parsed = null
    }
    if (flags & LINE_AACID_FAST) {
      fast++
      assert.ok(parsed, `fast, but parseAacId rejects ${JSON.stringify(aacid)}`)
      assert.equal(parsed.collection, 'zlib3_records', aacid)
      assert.equal(results[r + 5]! * 86400 + results[r + 6]!, parsed.timestamp.seconds, aacid)
      assert.ok(/^[\x21-\x7e]+$/.test(aacid), aacid)
    } else {
      slow++
      assert.ok(!fastByConstruction.has(aacid), `not fast: ${aacid}`)
    }
    const prev = n > 0 ? aacids[order[n - 1]!]! : null
    const bothFast =
      n > 0 && (results[r - LINE_RESULT_INTS]! & LINE_AACID_FAST) !== 0 && (flags & LINE_AACID_FAST) !== 0
    assert.equal((flags & LINE_PREV_FAST) !== 0, bothFast, aacid)
    if (bothFast) {
      compared++
      assert.equal(results[r + 7], aacid < prev! ? -1 : aacid > prev! ? 1 : 0, `${aacid} against ${prev}`)
    }
  })
  assert.ok(fast > 4000 && slow > 1000 && compared > 3000, JSON.stringify({ fast, slow, compared }))
  // Another collection's file: none of these is its.
  const other = checkAsChunk(lines.slice(0, 100), true, 'zlib3_files').results
  for (let k = 0; k < 100; k++) assert.equal(other[k * LINE_RESULT_INTS]! & LINE_AACID_FAST, 0)
})

test('a chunk of more than 16 MiB, or of more lines than a 32nd of its bytes, is left to JavaScript', () => {
  const prefix = aacidPrefix('zlib3_records')
  const big = Buffer.from(`{"aacid":"a","metadata":"${'x'.repeat(16 * 1024 * 1024)}"}`)
  assert.equal(checkChunkLines(big, big.length, new Int32Array(0), prefix), null)
  const fits = big.subarray(big.length - 16 * 1024 * 1024)
  assert.ok(checkChunkLines(fits, fits.length, new Int32Array(0), prefix))
  const empty = Buffer.alloc(1000, '\n')
  const newlines = Int32Array.from(empty.keys())
  assert.equal(checkChunkLines(empty, empty.length, newlines, prefix), null)
  assert.ok(
    checkChunkLines(empty, 64, newlines.subarray(0, 64), prefix),
    'up to 64 lines whatever their length',
  )
})
