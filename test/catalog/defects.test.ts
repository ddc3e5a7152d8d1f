/**
 * One release tree per defect. Each is scanned, and the test checks the problem (code, path
 * relative to the root, line), that the valid records of the same file are still cataloged,
 * and that a clean neighbour file is cataloged whole: a defect costs its own lines, nothing more.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, test, type TestContext } from 'node:test'
import type { Problem } from '../../src/problems.js'
import { REPO_ROOT, requireTool, runCli, tempDir } from '../helpers.js'
import {
  aacid,
  assertGoodNeighbour,
  assertProblem,
  catalogDb,
  dataFilesOf,
  dataName,
  framesAt,
  GOOD,
  metaName,
  metaRow,
  rec,
  recordsOf,
  recs,
  scanRoots,
  ts,
  withCode,
  writeDataFolder,
  writeGoodNeighbour,
  writeMeta,
  writeRaw,
  zstdFrame,
} from '../fixtures.js'

const BAD = 'bad_records'
/** The defective file: range T0+0…99, five lines at T0+10…14, line 3 replaced by the defect. */
const BAD_FILE = metaName(BAD, 0, 99)

interface Tree {
  root: string
  good: string[]
}

function tree(t: TestContext): Tree {
  const root = tempDir(t, 'aacseed-defect-')
  return { root, good: writeGoodNeighbour(root) }
}

/** Lines 1, 2, 4, 5 valid; line 3 is `defect`. */
function linesAround(defect: string): string[] {
  const ls = recs(BAD, 10, 5)
  ls[2] = defect
  return ls
}

const A3 = aacid(BAD, 12)

const LINE_DEFECTS: Array<{ code: string; line: string; aacid?: string | null; why: string }> = [
  {
    why: 'an unclosed object',
    code: 'invalid-json',
    line: `{"aacid":"${A3}","metadata":{"x":1}`,
    aacid: null,
  },
  { why: 'a trailing comma', code: 'invalid-json', line: `{"aacid":"${A3}","metadata":1,}`, aacid: null },
  {
    why: 'a single-quoted string',
    code: 'invalid-json',
    line: `{'aacid':'${A3}','metadata':1}`,
    aacid: null,
  },
  { why: 'two values on one line', code: 'invalid-json', line: `${rec(A3)} ${rec(A3)}`, aacid: null },
  { why: 'an array', code: 'not-an-object', line: `["${A3}", {}]`, aacid: null },
  { why: 'a bare string', code: 'not-an-object', line: `"${A3}"`, aacid: null },
  {
    why: 'an extra top-level key',
    code: 'unexpected-key',
    line: `{"aacid":"${A3}","metadata":{},"md5":"x"}`,
    aacid: null,
  },
  {
    why: 'a key twice',
    code: 'duplicate-key',
    line: `{"aacid":"${A3}","metadata":1,"metadata":2}`,
    aacid: null,
  },
  { why: 'no aacid', code: 'missing-key', line: '{"metadata":{"title":"x"}}', aacid: null },
  { why: 'no metadata', code: 'missing-key', line: `{"aacid":"${A3}"}`, aacid: null },
  { why: 'a numeric aacid', code: 'invalid-field-type', line: '{"aacid":12,"metadata":{}}', aacid: null },
  {
    why: 'a null data_folder',
    code: 'invalid-field-type',
    line: `{"aacid":"${A3}","metadata":{},"data_folder":null}`,
    aacid: null,
  },
  {
    why: 'an AACID that is no AACID',
    code: 'invalid-aacid',
    line: rec('not an aacid'),
    aacid: 'not an aacid',
  },
  {
    why: 'an impossible date',
    code: 'invalid-timestamp',
    line: rec(`aacid__${BAD}__20240230T000000Z__1__abc`),
  },
  {
    why: 'a collection with a hyphen',
    code: 'invalid-collection',
    line: rec(`aacid__bad-records__${ts(12)}__1__abc`),
  },
  {
    why: 'a shortuuid with a hyphen',
    code: 'invalid-shortuuid',
    line: rec(`aacid__${BAD}__${ts(12)}__1__x-y`),
  },
  {
    why: 'an AACID over 150 characters',
    code: 'aacid-too-long',
    line: rec(`aacid__${BAD}__${ts(12)}__${'9'.repeat(130)}__abc`),
  },
  {
    why: 'an AACID of another collection',
    code: 'aacid-wrong-collection',
    line: rec(aacid('other_records', 12)),
  },
  { why: 'an AACID after the range', code: 'aacid-out-of-range', line: rec(aacid(BAD, 100)) },
  { why: 'an AACID before the range', code: 'aacid-out-of-range', line: rec(aacid(BAD, -1)) },
  {
    why: 'a data_folder path with ..',
    code: 'invalid-data-folder',
    line: rec(A3, {}, `../${dataName(BAD, 0, 99)}`),
  },
  {
    why: 'a data_folder path with /',
    code: 'invalid-data-folder',
    line: rec(A3, {}, `sub/${dataName(BAD, 0, 99)}`),
  },
  {
    why: 'a data_folder that is a metadata file name',
    code: 'invalid-data-folder',
    line: rec(A3, {}, BAD_FILE),
  },
  {
    why: 'a data_folder of another collection',
    code: 'data-folder-wrong-collection',
    line: rec(A3, {}, dataName('other_files', 0, 99)),
  },
  {
    why: 'a data_folder whose range misses the record',
    code: 'data-folder-out-of-range',
    line: rec(A3, {}, dataName(BAD, 13, 99)),
  },
  { why: 'an empty line', code: 'empty-line', line: '', aacid: null },
  { why: 'a line of blanks', code: 'invalid-json', line: '   ', aacid: null },
]

describe('line defects: the bad line is a problem, the other lines of the file are records', () => {
  for (const d of LINE_DEFECTS) {
    test(`${d.code}: ${d.why}`, async (t) => {
      const { root, good } = tree(t)
      const lines = linesAround(d.line)
      writeMeta(root, BAD_FILE, lines)
      const { db } = catalogDb(t)
      const r = await scanRoots(db, [root])
      assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
      const expectedAacid = d.aacid === undefined ? (JSON.parse(d.line) as { aacid: string }).aacid : d.aacid
      assertProblem(r.problems, { code: d.code, path: BAD_FILE, line: 3, aacid: expectedAacid })
      const rows = recordsOf(db, BAD_FILE)
      assert.deepEqual(
        rows.map((x) => [x.line, x.aacid]),
        [1, 2, 4, 5].map((l) => [l, aacid(BAD, 9 + l)]),
      )
      assert.equal(metaRow(db, BAD_FILE)?.records, 4)
      assert.equal(metaRow(db, BAD_FILE)?.problems, 1)
      assert.equal(r.meta_files, 2)
      assert.equal(r.records, GOOD.count + 4)
      assertGoodNeighbour(db, r, good)
    })
  }

  test('the same defects through `aacseed scan --json`: exit 1, one problem per line, the rest cataloged', async (t) => {
    const { root } = tree(t)
    const lines = recs(BAD, 10, 30)
    const pick = (code: string): (typeof LINE_DEFECTS)[number] => LINE_DEFECTS.find((d) => d.code === code)!
    const defects = [
      pick('invalid-json'),
      pick('not-an-object'),
      pick('aacid-out-of-range'),
      pick('empty-line'),
    ]
    const at = [4, 9, 17, 30]
    defects.forEach((d, i) => (lines[at[i]! - 1] = d.line))
    writeMeta(root, BAD_FILE, lines, { linesPerFrame: 7 })
    const db = join(tempDir(t), 'c.db')
    const r = await runCli(['scan', root, '--db', db, '--json'])
    assert.equal(r.code, 1, r.stderr)
    const out = JSON.parse(r.stdout) as { records: number; meta_files: number; problems: Problem[] }
    assert.equal(out.meta_files, 2)
    assert.equal(out.records, GOOD.count + 26)
    assert.deepEqual(
      out.problems.map((p) => [p.path, p.line, p.code]),
      defects.map((d, i) => [BAD_FILE, at[i], d.code]),
    )
  })

  test('invalid UTF-8 inside a JSON string: invalid-utf8 on that line, its neighbours cataloged', async (t) => {
    const { root, good } = tree(t)
    const lines = recs(BAD, 10, 5).map((l) => Buffer.from(l + '\n'))
    // A lone continuation byte and a truncated 3-byte sequence inside the title of line 2.
    lines[1] = Buffer.concat([
      Buffer.from(`{"aacid":"${aacid(BAD, 11)}","metadata":{"title":"caf`),
      Buffer.from([0xc3, 0x28, 0x80, 0xe2, 0x82]),
      Buffer.from('"}}\n'),
    ])
    // An overlong encoding of '/' on line 4.
    lines[3] = Buffer.concat([
      Buffer.from(`{"aacid":"${aacid(BAD, 13)}","metadata":"a`),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from('"}\n'),
    ])
    writeRaw(root, BAD_FILE, zstdFrame(Buffer.concat(lines)))
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 2, JSON.stringify(r.problems))
    assertProblem(
      withCode(r.problems, 'invalid-utf8').filter((p) => p.line === 2),
      { code: 'invalid-utf8', path: BAD_FILE, line: 2 },
    )
    assertProblem(
      withCode(r.problems, 'invalid-utf8').filter((p) => p.line === 4),
      { code: 'invalid-utf8', path: BAD_FILE, line: 4 },
    )
    assert.deepEqual(
      recordsOf(db, BAD_FILE).map((x) => x.line),
      [1, 3, 5],
    )
    assertGoodNeighbour(db, r, good)
    const cli = await runCli(['scan', root, '--db', join(tempDir(t), 'c.db'), '--json'])
    assert.equal(cli.code, 1)
    assert.deepEqual(
      (JSON.parse(cli.stdout) as { problems: Problem[] }).problems.map((p) => [p.path, p.line, p.code]),
      [
        [BAD_FILE, 2, 'invalid-utf8'],
        [BAD_FILE, 4, 'invalid-utf8'],
      ],
    )
  })

  test('duplicate-aacid: the same AACID twice in one file names its last line', async (t) => {
    const { root, good } = tree(t)
    const lines = recs(BAD, 10, 6)
    lines[4] = lines[1]!
    writeMeta(root, BAD_FILE, lines)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
    const p = assertProblem(r.problems, {
      code: 'duplicate-aacid',
      path: BAD_FILE,
      line: 5,
      aacid: aacid(BAD, 11),
    })
    assert.match(p.message, /2\b/)
    assertGoodNeighbour(db, r, good)
  })

  test('duplicate-aacid in a file sorted by AACID: repeats on adjacent lines, also across chunk boundaries, found without a second pass', async (t) => {
    const { root, good } = tree(t)
    // 90 sorted records; record 11 three times in a row, record 69 twice. With 1 KiB chunks
    // (a few lines each) the repeats fall inside chunks and across their boundaries.
    const base = recs(BAD, 10, 90)
    const lines = [
      ...base.slice(0, 2),
      base[1]!,
      base[1]!,
      ...base.slice(2, 60),
      base[59]!,
      ...base.slice(60),
    ]
    writeMeta(root, BAD_FILE, lines)
    for (const chunkBytes of [1 << 20, 1024, 700]) {
      const { db } = catalogDb(t)
      const r = await scanRoots(db, [root], { chunkBytes })
      const dups = r.problems.filter((p) => p.code === 'duplicate-aacid')
      assert.equal(r.problems.length, 2, JSON.stringify(r.problems))
      assert.deepEqual(
        dups.map((p) => [p.aacid, p.line]),
        [
          [aacid(BAD, 11), 4],
          [aacid(BAD, 69), 63],
        ],
      )
      assert.match(dups[0]!.message, /3 times in the file \(lines 2 to 4\)/)
      assert.match(dups[1]!.message, /2 times in the file \(lines 62 to 63\)/)
      assertGoodNeighbour(db, r, good)
    }
  })

  test('string metadata (XML) and a data_folder whose folder is not in the root are fine', async (t) => {
    const { root, good } = tree(t)
    const folder = dataName(BAD, 0, 99)
    const lines = [
      rec(aacid(BAD, 10), '<r a="1">x &amp; y</r>'),
      rec(aacid(BAD, 11), 'plain'),
      rec(aacid(BAD, 12), null),
      rec(aacid(BAD, 13), [1, 2]),
      rec(aacid(BAD, 14), {}, folder),
    ]
    writeMeta(root, BAD_FILE, lines)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(r.problems, [])
    const rows = recordsOf(db, BAD_FILE)
    assert.equal(rows.length, 5)
    assert.equal(rows[4]!.data_folder, folder)
    assert.equal(rows[0]!.data_folder, null)
    assertGoodNeighbour(db, r, good)
  })
})

describe('a line of 100 MB', () => {
  test('is line-too-long on its own line; the lines and frames after it keep their numbers and offsets', async (t) => {
    const { root, good } = tree(t)
    const l1 = rec(aacid(BAD, 10))
    const huge = `{"aacid":"${aacid(BAD, 11)}","metadata":{"description":"${'x'.repeat(100 * 1024 * 1024)}"}}`
    const l3 = rec(aacid(BAD, 12))
    const l4 = `{"aacid":"${aacid(BAD, 13)}",`
    const l5 = rec(aacid(BAD, 14), 'after the long line')
    // Frame 0: line 1; frame 1: the long line; frame 2: the rest.
    const parts = [
      Buffer.from(l1 + '\n'),
      Buffer.from(huge + '\n'),
      Buffer.from([l3, l4, l5].join('\n') + '\n'),
    ]
    writeRaw(root, BAD_FILE, Buffer.concat(parts.map((p) => zstdFrame(p, { level: 1 }))))
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 2, JSON.stringify(r.problems))
    const long = assertProblem(r.problems, { code: 'line-too-long', path: BAD_FILE, line: 2 })
    assert.match(long.message, /longer than/)
    assertProblem(r.problems, { code: 'invalid-json', path: BAD_FILE, line: 4 })
    const rows = recordsOf(db, BAD_FILE)
    const o3 = parts[0]!.length + parts[1]!.length
    assert.deepEqual(
      rows.map((x) => ({ line: x.line, offset: x.offset, length: x.length, frame: x.frame })),
      [
        { line: 1, offset: 0, length: Buffer.byteLength(l1), frame: 0 },
        { line: 3, offset: o3, length: Buffer.byteLength(l3), frame: 2 },
        {
          line: 5,
          offset: o3 + Buffer.byteLength(l3) + 1 + Buffer.byteLength(l4) + 1,
          length: Buffer.byteLength(l5),
          frame: 2,
        },
      ],
    )
    assertGoodNeighbour(db, r, good)
    // The record after the long line is served from its own frame.
    const dbPath = db.name
    const got = await runCli(['get', aacid(BAD, 14), '--db', dbPath])
    assert.equal(got.code, 0, got.stderr)
    assert.equal(got.stdout, l5 + '\n')
  })

  test('a long last line without a newline, and a smaller max_line_bytes, are reported the same way', async (t) => {
    const { root, good } = tree(t)
    const text = [
      rec(aacid(BAD, 10)),
      rec(aacid(BAD, 11), 'y'.repeat(3 * 1024 * 1024)),
      rec(aacid(BAD, 12)),
      rec(aacid(BAD, 13), 'z'.repeat(5 * 1024 * 1024)),
    ].join('\n')
    writeRaw(root, BAD_FILE, zstdFrame(text, { level: 1 }))
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root], { maxLineBytes: 1024 * 1024 })
    // 3 MiB fits the 4 MiB read chunk (the bound is never below it); 5 MiB does not.
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
    assertProblem(r.problems, { code: 'line-too-long', path: BAD_FILE, line: 4 })
    assert.deepEqual(
      recordsOf(db, BAD_FILE).map((x) => x.line),
      [1, 2, 3],
    )
    assertGoodNeighbour(db, r, good)
  })
})

describe('memory stays bounded', () => {
  test("a 512 MiB line: the scanning process peaks far below the line's size", async (t) => {
    if (!requireTool(t, 'zstd')) return
    const { root } = tree(t)
    const dir = tempDir(t)
    // Streamed through the zstd binary: the test never holds the line either.
    const child = spawn('zstd', ['-1', '-q', '-f', '-o', join(root, BAD_FILE)], {
      stdio: ['pipe', 'ignore', 'inherit'],
    })
    const write = async (b: string | Buffer): Promise<void> => {
      if (!child.stdin.write(b)) await once(child.stdin, 'drain')
    }
    await write(rec(aacid(BAD, 10)) + '\n' + `{"aacid":"${aacid(BAD, 11)}","metadata":"`)
    const mib = Buffer.alloc(1024 * 1024, 'x')
    for (let i = 0; i < 512; i++) await write(mib)
    await write('"}\n' + rec(aacid(BAD, 12)) + '\n')
    child.stdin.end()
    assert.deepEqual(await once(child, 'exit'), [0, null])
    // The CLI in a child that reports its own peak resident set size.
    const wrapper = join(dir, 'rss.mjs')
    writeFileSync(
      wrapper,
      `import { main } from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'cli', 'index.js')).href)}\n` +
        'const code = await main(process.argv.slice(2))\n' +
        'process.stderr.write(`maxrss_kb=${process.resourceUsage().maxRSS}\\n`)\n' +
        'process.exit(code)\n',
    )
    const r = spawnSync(process.execPath, [wrapper, 'scan', root, '--db', join(dir, 'c.db'), '--json'], {
      encoding: 'utf8',
      env: { ...process.env, AACSEED_CONFIG: '' },
      timeout: 120_000,
    })
    assert.equal(r.status, 1, r.stderr)
    const out = JSON.parse(r.stdout) as { records: number; problems: Problem[] }
    assert.deepEqual(
      out.problems.map((p) => [p.path, p.line, p.code]),
      [[BAD_FILE, 2, 'line-too-long']],
    )
    assert.equal(out.records, GOOD.count + 2)
    const kb = Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1])
    t.diagnostic(`peak RSS scanning a 512 MiB line: ${(kb / 1024).toFixed(0)} MiB`)
    // Holding the line would take 512 MiB on top of the process's own ~160 MiB.
    assert.ok(kb > 0 && kb < 400 * 1024, `peak RSS ${(kb / 1024).toFixed(0)} MiB`)
  })
})

describe('file defects: corrupt and truncated zstd', () => {
  /** 50 records, 10 per frame, frames cut at line ends; returns the file and its frames. */
  function fiveFrames(): {
    lines: string[]
    file: Buffer
    frames: Array<{ compressedOffset: number; decompressedOffset: number }>
  } {
    const lines = recs(BAD, 10, 50)
    const text = Buffer.from(lines.map((l) => l + '\n').join(''))
    const cuts: number[] = []
    let off = 0
    lines.forEach((l, i) => {
      off += Buffer.byteLength(l) + 1
      if ((i + 1) % 10 === 0) cuts.push(off)
    })
    return { lines, ...framesAt(text, cuts) }
  }

  function assertPrefix(rows: ReturnType<typeof recordsOf>, lines: string[]): void {
    rows.forEach((x, i) => {
      assert.equal(x.line, i + 1)
      assert.equal(x.aacid, (JSON.parse(lines[i]!) as { aacid: string }).aacid)
    })
  }

  test('a bad frame header in frame 3 of 5: corrupt-zstd at its byte offset, frames 0-2 cataloged, the next file whole', async (t) => {
    const { root, good } = tree(t)
    const { lines, file, frames } = fiveFrames()
    const at = frames[3]!.compressedOffset
    file.writeUInt32LE(0xdeadbeef, at)
    writeRaw(root, BAD_FILE, file)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
    const p = assertProblem(r.problems, { code: 'corrupt-zstd', path: BAD_FILE, line: null })
    assert.match(p.message, new RegExp(`\\b${at}\\b`), 'names the compressed byte offset')
    const rows = recordsOf(db, BAD_FILE)
    assert.equal(rows.length, 30)
    assertPrefix(rows, lines)
    assertGoodNeighbour(db, r, good)
  })

  test('an invalid block type in the middle of a frame: corrupt-zstd, the frames before it cataloged', async (t) => {
    const { root, good } = tree(t)
    const { lines, file, frames } = fiveFrames()
    // Frame 2's first block header follows its 4-byte magic and frame header; a reserved block
    // type (3) in it is a hard decoding error. Frame header: descriptor byte, then fields.
    const f2 = frames[2]!.compressedOffset
    const fhd = file[f2 + 4]!
    const fcsFlag = fhd >> 6
    const single = (fhd >> 5) & 1
    const didFlag = fhd & 3
    const fhSize = 1 + (single ? 0 : 1) + [0, 1, 2, 4][didFlag]! + [single ? 1 : 0, 2, 4, 8][fcsFlag]!
    const bh = f2 + 4 + fhSize
    file[bh] = (file[bh]! & ~0x06) | 0x06
    writeRaw(root, BAD_FILE, file)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
    assertProblem(r.problems, { code: 'corrupt-zstd', path: BAD_FILE, line: null })
    const rows = recordsOf(db, BAD_FILE)
    assert.equal(rows.length, 20)
    assertPrefix(rows, lines)
    assertGoodNeighbour(db, r, good)
  })

  test('a bad block deep inside a large single frame: the offset reported is close to it', async (t) => {
    const { root, good } = tree(t)
    // About 6 MB of records whose metadata does not compress well, in one frame.
    let x = 12345
    const noise = (n: number): string => {
      let s = ''
      for (let i = 0; i < n; i++)
        s += String.fromCharCode(97 + ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 27))
      return s
    }
    const lines = Array.from({ length: 20_000 }, (_, i) => rec(aacid(BAD, i), { i, text: noise(300) }))
    const file = zstdFrame(lines.map((l) => l + '\n').join(''), { level: 1 })
    // Walk the blocks (3-byte headers after the frame header) to one about 3/4 into the file.
    const fhd = file[4]!
    const single = (fhd >> 5) & 1
    let pos = 4 + 1 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + [single ? 1 : 0, 2, 4, 8][fhd >> 6]!
    for (;;) {
      const h = file.readUIntLE(pos, 3)
      if (pos > file.length * 0.75 || (h & 1) === 1) break
      pos += 3 + (((h >> 1) & 3) === 1 ? 1 : h >>> 3)
    }
    assert.ok(pos > file.length / 2)
    file[pos] = file[pos]! | 0x06
    const name = metaName(BAD, 0, 99_999)
    writeRaw(root, name, file)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    const p = assertProblem(r.problems, { code: 'corrupt-zstd', path: name, line: null })
    const at = Number(/byte (\d+)/.exec(p.message)?.[1])
    assert.ok(at <= pos && at > pos - 256 * 1024, `reported byte ${at}, bad block header at ${pos}`)
    // What was decoded before the bad block is cataloged, as a prefix of the file.
    const rows = recordsOf(db, name)
    assert.ok(rows.length > 10_000, `${rows.length} records before the bad block`)
    rows.forEach((x, i) => assert.equal(x.line, i + 1))
    assertGoodNeighbour(db, r, good)
  })

  test('bytes flipped in the middle of a checksummed single frame: corrupt-zstd, the scan goes on', async (t) => {
    const { root, good } = tree(t)
    const lines = recs(BAD, 10, 80)
    const file = zstdFrame(lines.map((l) => l + '\n').join(''), { checksum: true })
    const mid = file.length >> 1
    for (let i = 0; i < 8; i++) file[mid + i] = file[mid + i]! ^ 0x5a
    writeRaw(root, BAD_FILE, file)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    const p = assertProblem(withCode(r.problems, 'corrupt-zstd'), {
      code: 'corrupt-zstd',
      path: BAD_FILE,
      line: null,
    })
    assert.match(p.message, /byte \d+/)
    // Whatever was decoded of the damaged frame, no record may claim a line it does not hold.
    for (const x of recordsOf(db, BAD_FILE))
      assert.equal(x.aacid, (JSON.parse(lines[x.line - 1]!) as { aacid: string }).aacid, `line ${x.line}`)
    assert.ok(r.problems.every((q) => q.path === BAD_FILE))
    assertGoodNeighbour(db, r, good)
  })

  test('a file cut in half: truncated-zstd; what was decoded before the cut is cataloged as a prefix', async (t) => {
    const { root, good } = tree(t)
    const { lines, file, frames } = fiveFrames()
    const cut = Math.floor(file.length / 2)
    writeRaw(root, BAD_FILE, file.subarray(0, cut))
    const single = zstdFrame(lines.map((l) => l + '\n').join(''))
    const single2 = metaName(BAD, 100, 199)
    writeRaw(root, single2, single.subarray(0, single.length >> 1))
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 2, JSON.stringify(r.problems))
    const p = assertProblem(r.problems, { code: 'truncated-zstd', path: BAD_FILE, line: null })
    assert.match(p.message, new RegExp(`\\b${cut}\\b`))
    assertProblem(r.problems, { code: 'truncated-zstd', path: single2, line: null })
    const rows = recordsOf(db, BAD_FILE)
    const whole = frames.filter((_, i) => (frames[i + 1]?.compressedOffset ?? file.length) <= cut).length
    assert.ok(
      rows.length >= whole * 10,
      `frames before the cut are cataloged (${rows.length} records, ${whole} whole frames)`,
    )
    assert.ok(rows.length < 50)
    assertPrefix(rows, lines)
    assertPrefix(recordsOf(db, single2), lines)
    assert.ok(recordsOf(db, single2).length < 50)
    assertGoodNeighbour(db, r, good)
  })

  test('a frame whose last line is cut by the truncation does not yield a half record', async (t) => {
    const { root, good } = tree(t)
    const lines = recs(BAD, 10, 3)
    // Frame 0: two lines and the start of the third; the file ends inside frame 1.
    const text = Buffer.from(lines.map((l) => l + '\n').join(''))
    const cutAt = Buffer.byteLength(lines[0]! + lines[1]!) + 2 + 20
    const { file, frames } = framesAt(text, [cutAt])
    writeRaw(root, BAD_FILE, file.subarray(0, frames[1]!.compressedOffset + 6))
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.line, p.code]),
      [[BAD_FILE, null, 'truncated-zstd']],
    )
    assert.deepEqual(
      recordsOf(db, BAD_FILE).map((x) => x.line),
      [1, 2],
    )
    assertGoodNeighbour(db, r, good)
  })

  test('an empty file, a plain-text file and trailing garbage are corrupt-zstd', async (t) => {
    const { root, good } = tree(t)
    const empty = metaName(BAD, 0, 99)
    const plain = metaName(BAD, 100, 199)
    const trailing = metaName(BAD, 200, 299)
    writeRaw(root, empty, Buffer.alloc(0))
    writeRaw(root, plain, Buffer.from(recs(BAD, 110, 3).join('\n') + '\n'))
    const tl = recs(BAD, 210, 4)
    writeRaw(
      root,
      trailing,
      Buffer.concat([
        zstdFrame(tl.map((l) => l + '\n').join('')),
        Buffer.from('garbage after the last frame'),
      ]),
    )
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 3, JSON.stringify(r.problems))
    assertProblem(r.problems, { code: 'corrupt-zstd', path: empty, line: null })
    assertProblem(r.problems, { code: 'corrupt-zstd', path: plain, line: null })
    assertProblem(r.problems, { code: 'corrupt-zstd', path: trailing, line: null })
    assert.equal(recordsOf(db, empty).length, 0)
    assert.equal(recordsOf(db, plain).length, 0)
    assert.deepEqual(
      recordsOf(db, trailing).map((x) => x.aacid),
      tl.map((l) => (JSON.parse(l) as { aacid: string }).aacid),
    )
    assert.equal(r.meta_files, 4, 'a defective file is still cataloged, with the records it has')
    assertGoodNeighbour(db, r, good)
  })

  test('through the CLI: exit 1, the corrupt file named, the good file counted', async (t) => {
    const { root } = tree(t)
    const { file, frames } = fiveFrames()
    file.writeUInt32LE(0, frames[1]!.compressedOffset)
    writeRaw(root, BAD_FILE, file)
    const r = await runCli(['scan', root, '--db', join(tempDir(t), 'c.db'), '--json'])
    assert.equal(r.code, 1, r.stderr)
    const out = JSON.parse(r.stdout) as { records: number; problems: Problem[] }
    assert.equal(out.records, GOOD.count + 10)
    assert.deepEqual(
      out.problems.map((p) => [p.path, p.line, p.aacid, p.code]),
      [[BAD_FILE, null, null, 'corrupt-zstd']],
    )
  })
})

describe('names in a release root', () => {
  test('invalid-meta-file-name, invalid-data-folder-name and range-reversed; an en dash range is fine', async (t) => {
    const { root, good } = tree(t)
    writeFileSync(join(root, 'NOTES.txt'), 'not a release\n')
    writeFileSync(join(root, `annas_archive_meta__aacid__${BAD}__${ts(0)}--${ts(9)}.jsonl.gz`), 'x')
    mkdirSync(join(root, 'scratch'))
    writeFileSync(join(root, 'scratch', aacid(BAD, 1)), 'never read')
    const reversed = `annas_archive_meta__aacid__${BAD}__${ts(50)}--${ts(10)}.jsonl.zst`
    writeMeta(root, reversed, recs(BAD, 20, 2))
    const enDash = `annas_archive_meta__aacid__${BAD}__${ts(100)}\u2013${ts(199)}.jsonl.zst`
    writeMeta(root, enDash, recs(BAD, 100, 3))
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 4, JSON.stringify(r.problems))
    assertProblem(r.problems, { code: 'invalid-meta-file-name', path: 'NOTES.txt', line: null })
    assertProblem(r.problems, {
      code: 'invalid-meta-file-name',
      path: `annas_archive_meta__aacid__${BAD}__${ts(0)}--${ts(9)}.jsonl.gz`,
      line: null,
    })
    assertProblem(r.problems, { code: 'invalid-data-folder-name', path: 'scratch', line: null })
    assertProblem(r.problems, { code: 'range-reversed', path: reversed, line: null })
    assert.equal(recordsOf(db, enDash).length, 3)
    assert.equal(r.meta_files, 2)
    assert.equal(r.data_folders, 0)
    assertGoodNeighbour(db, r, good)
  })

  test('symlinks in a root are reported and never followed, to files or to folders', async (t) => {
    const { root, good } = tree(t)
    const elsewhere = tempDir(t)
    const linkedMeta = metaName(BAD, 0, 99)
    writeMeta(elsewhere, linkedMeta, recs(BAD, 10, 4))
    const linkedFolder = dataName('bad_files', 0, 99)
    writeDataFolder(elsewhere, linkedFolder, [aacid('bad_files', 10)])
    symlinkSync(join(elsewhere, linkedMeta), join(root, linkedMeta))
    symlinkSync(join(elsewhere, linkedFolder), join(root, linkedFolder))
    symlinkSync(join(elsewhere, 'nothing-here'), join(root, 'dangling'))
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 3, JSON.stringify(r.problems))
    for (const path of [linkedMeta, linkedFolder, 'dangling'])
      assertProblem(r.problems, { code: 'symlink-not-followed', path, line: null })
    assert.equal(metaRow(db, linkedMeta), undefined)
    assert.deepEqual(dataFilesOf(db, linkedFolder), [])
    assert.equal(r.meta_files, 1)
    assert.equal(r.data_folders, 0)
    assertGoodNeighbour(db, r, good)
  })

  test('a FIFO in a root is not-a-regular-file', async (t) => {
    if (!requireTool(t, 'mkfifo')) return
    const { root, good } = tree(t)
    const fifo = metaName(BAD, 0, 99)
    assert.equal(spawnSync('mkfifo', [join(root, fifo)]).status, 0)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
    assertProblem(r.problems, { code: 'not-a-regular-file', path: fifo, line: null })
    assertGoodNeighbour(db, r, good)
  })
})

describe('data folder defects: each entry is a problem at folder/name; the valid files are cataloged', () => {
  const C = 'bad_files'
  const FOLDER = dataName(C, 0, 99)
  const VALID = [aacid(C, 10), aacid(C, 11), aacid(C, 12)]

  const cases: Array<{
    code: string
    why: string
    entry: string
    make(dir: string, t: TestContext): void
    aacid?: string | null
  }> = [
    {
      code: 'symlink-not-followed',
      why: 'a symlink to a file',
      entry: aacid(C, 13),
      make: (d, t) => symlinkSync(join(tempDir(t), 'x'), join(d, aacid(C, 13))),
    },
    {
      code: 'unexpected-subfolder',
      why: 'a sub-folder (its files are not listed)',
      entry: aacid(C, 14),
      make: (d) => writeDataFolder(d, aacid(C, 14), [aacid(C, 15)]),
    },
    {
      code: 'invalid-data-file-name',
      why: 'a README',
      entry: 'README.txt',
      make: (d) => writeFileSync(join(d, 'README.txt'), 'hi'),
    },
    {
      code: 'invalid-data-file-name',
      why: 'an AACID with an extension',
      entry: `${aacid(C, 16)}.pdf`,
      make: (d) => writeFileSync(join(d, `${aacid(C, 16)}.pdf`), 'x'),
    },
    {
      code: 'data-file-wrong-collection',
      why: 'a blob of another collection',
      entry: aacid('other_files', 17),
      aacid: aacid('other_files', 17),
      make: (d) => writeFileSync(join(d, aacid('other_files', 17)), 'x'),
    },
    {
      code: 'data-file-out-of-range',
      why: 'a blob after the range',
      entry: aacid(C, 100),
      aacid: aacid(C, 100),
      make: (d) => writeFileSync(join(d, aacid(C, 100)), 'x'),
    },
    {
      code: 'not-a-regular-file',
      why: 'a FIFO',
      entry: aacid(C, 18),
      make: (d) => assert.equal(spawnSync('mkfifo', [join(d, aacid(C, 18))]).status, 0),
    },
  ]

  for (const c of cases) {
    test(`${c.code}: ${c.why}`, async (t) => {
      if (c.why === 'a FIFO' && !requireTool(t, 'mkfifo')) return
      const { root, good } = tree(t)
      const dir = writeDataFolder(root, FOLDER, VALID)
      c.make(dir, t)
      const { db } = catalogDb(t)
      const r = await scanRoots(db, [root])
      assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
      assertProblem(r.problems, {
        code: c.code,
        path: `${FOLDER}/${c.entry}`,
        line: null,
        ...(c.aacid !== undefined ? { aacid: c.aacid } : {}),
      })
      assert.deepEqual(dataFilesOf(db, FOLDER), VALID)
      assert.equal(r.data_folders, 1)
      assert.equal(r.data_files, 3)
      assertGoodNeighbour(db, r, good)
    })
  }
})

describe('I/O errors while reading', () => {
  test('a data folder that vanishes mid-scan is unreadable; the scan goes on, and the next one drops it', async (t) => {
    const { root, good } = tree(t)
    const gone = dataName('bad_files', 0, 99)
    const later = dataName('zz_files', 0, 99)
    writeDataFolder(root, gone, [aacid('bad_files', 10)])
    writeDataFolder(root, later, [aacid('zz_files', 10), aacid('zz_files', 11)])
    const { db } = catalogDb(t)
    // Metadata files are read before data folders: the folder goes while the neighbour is read.
    const r = await scanRoots(db, [root], {
      onProgress: () => rmSync(join(root, gone), { recursive: true, force: true }),
    })
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
    const p = assertProblem(r.problems, { code: 'unreadable', path: gone, line: null })
    assert.match(p.message, /ENOENT/)
    assert.deepEqual(dataFilesOf(db, later), [aacid('zz_files', 10), aacid('zz_files', 11)])
    assertGoodNeighbour(db, r, good)
    const next = await scanRoots(db, [root])
    assert.equal(next.stats.entriesRemoved, 1)
    assert.deepEqual(next.problems, [])
    assert.equal(next.data_folders, 1)
  })
})

describe('checks between entries', () => {
  const C = 'x_files'
  const META = metaName(C, 0, 99)
  const FOLDER = dataName(C, 0, 99)
  const ids = [10, 11, 12, 13].map((s) => aacid(C, s))

  test('missing-data-file: a referenced blob is absent; its record still cataloged', async (t) => {
    const { root, good } = tree(t)
    writeMeta(
      root,
      META,
      ids.map((a) => rec(a, {}, FOLDER)),
    )
    writeDataFolder(root, FOLDER, [ids[0]!, ids[1]!, ids[3]!])
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
    assertProblem(r.problems, { code: 'missing-data-file', path: META, line: 3, aacid: ids[2] })
    assert.equal(recordsOf(db, META).length, 4)
    assertGoodNeighbour(db, r, good)
  })

  test('stray-data-file: a blob no record references', async (t) => {
    const { root, good } = tree(t)
    writeMeta(
      root,
      META,
      ids.slice(0, 3).map((a) => rec(a, {}, FOLDER)),
    )
    writeDataFolder(root, FOLDER, ids)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
    assertProblem(r.problems, {
      code: 'stray-data-file',
      path: `${FOLDER}/${ids[3]}`,
      line: null,
      aacid: ids[3],
    })
    assert.deepEqual(dataFilesOf(db, FOLDER), ids)
    assertGoodNeighbour(db, r, good)
  })

  test('a symlinked blob is not followed: symlink-not-followed and missing-data-file', async (t) => {
    const { root, good } = tree(t)
    writeMeta(
      root,
      META,
      ids.map((a) => rec(a, {}, FOLDER)),
    )
    const dir = writeDataFolder(root, FOLDER, ids.slice(0, 3))
    const target = join(tempDir(t), 'blob')
    writeFileSync(target, 'elsewhere')
    symlinkSync(target, join(dir, ids[3]!))
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 2, JSON.stringify(r.problems))
    assertProblem(r.problems, { code: 'symlink-not-followed', path: `${FOLDER}/${ids[3]}`, line: null })
    assertProblem(r.problems, { code: 'missing-data-file', path: META, line: 4, aacid: ids[3] })
    assertGoodNeighbour(db, r, good)
  })

  test('a folder no cataloged metadata file references is not checked for strays', async (t) => {
    const { root, good } = tree(t)
    writeDataFolder(root, FOLDER, ids)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(r.problems, [])
    assert.equal(r.data_files, 4)
    assertGoodNeighbour(db, r, good)
  })

  const R = 'y_records'
  const A = metaName(R, 0, 49)
  const B = metaName(R, 15, 60)

  test('identical records in overlapping ranges are no problem', async (t) => {
    const { root, good } = tree(t)
    const al = recs(R, 10, 10)
    writeMeta(root, A, al)
    writeMeta(root, B, al.slice(5).concat(recs(R, 50, 3)), { linesPerFrame: 2 })
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(r.problems, [])
    assertGoodNeighbour(db, r, good)
  })

  test('immutable-conflict: one AACID, two different records; names both files and the line', async (t) => {
    const { root, good } = tree(t)
    const al = recs(R, 10, 10)
    writeMeta(root, A, al)
    const bl = al.slice(5)
    bl[2] = rec(aacid(R, 17), { i: 7, title: 'changed' })
    writeMeta(root, B, bl)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 1, JSON.stringify(r.problems))
    const p = r.problems[0]!
    assert.equal(p.code, 'immutable-conflict')
    assert.equal(p.aacid, aacid(R, 17))
    // Either file may carry it, with that file's line; the message names the other one.
    if (p.path === A) {
      assert.equal(p.line, 8)
      assert.ok(p.message.includes(B), p.message)
    } else {
      assert.equal(p.path, B)
      assert.equal(p.line, 3)
      assert.ok(p.message.includes(A), p.message)
    }
    assertGoodNeighbour(db, r, good)
  })

  test('immutable-conflict: records must be byte-identical, a CRLF copy is not', async (t) => {
    const { root, good } = tree(t)
    const al = recs(R, 10, 10)
    writeMeta(root, A, al)
    const bl = al.slice(5)
    bl[0] = bl[0] + '\r'
    writeMeta(root, B, bl)
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(
      r.problems.map((p) => [p.code, p.aacid]),
      [['immutable-conflict', aacid(R, 15)]],
    )
    assert.ok([A, B].includes(r.problems[0]!.path))
    assertGoodNeighbour(db, r, good)
  })

  test('across two roots: each file is read from its own root; a conflict names the other file in full', async (t) => {
    const { root: r1, good } = tree(t)
    const r2 = tempDir(t)
    const al = recs(R, 10, 10)
    writeMeta(r1, A, al)
    // The same name in the second root, one record rewritten and so a different length.
    const copy = [...al]
    copy[2] = rec(aacid(R, 12), 'rewritten')
    writeMeta(r2, A, copy)
    // And an overlapping file under another name, only in the second root, missing T0+18.
    writeMeta(r2, B, [...al.slice(5, 8), al[9]!])
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [r1, r2])
    assert.equal(r.records, GOOD.count + 10 + 10 + 4)
    const conflicts = withCode(r.problems, 'immutable-conflict')
    assert.deepEqual(
      conflicts.map((p) => [p.path, p.line, p.aacid]),
      [[A, 3, aacid(R, 12)]],
    )
    assert.ok(conflicts[0]!.message.includes(join(r2, A)), conflicts[0]!.message)
    // r1's copy of A (and r2's) hold T0+18, B does not; each problem is relative to its file's own root.
    const mismatches = withCode(r.problems, 'overlap-mismatch')
    assert.deepEqual(mismatches.map((p) => [p.path, p.aacid]).sort(), [
      [A, aacid(R, 18)],
      [A, aacid(R, 18)],
    ])
    assert.equal(r.problems.length, 3, JSON.stringify(r.problems))
    assertGoodNeighbour(db, r, good)
  })

  test('overlap-mismatch: each file with AACIDs in the overlap that the other lacks is named', async (t) => {
    const { root, good } = tree(t)
    const al = recs(R, 10, 10)
    writeMeta(root, A, al)
    // B lacks T0+18 and has T0+30, both inside the overlap T0+15…49.
    writeMeta(root, B, [...al.slice(5, 8), al[9]!, rec(aacid(R, 30))])
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.equal(r.problems.length, 2, JSON.stringify(r.problems))
    assertProblem(r.problems, { code: 'overlap-mismatch', path: A, line: null, aacid: aacid(R, 18) })
    assertProblem(r.problems, { code: 'overlap-mismatch', path: B, line: null, aacid: aacid(R, 30) })
    assertGoodNeighbour(db, r, good)
  })
})
