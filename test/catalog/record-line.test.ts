import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isUtf8 } from 'node:buffer'
import { checkRecordLine, type RecordLineCheck, type RecordLineError } from '../../src/catalog/record-line.js'
import { Gen, INVALID_NUMBERS, reference, VALID_NUMBERS, verdictOf } from './record-line-gen.js'

function check(line: string | Uint8Array): RecordLineCheck {
  const b = typeof line === 'string' ? Buffer.from(line, 'utf8') : line
  return checkRecordLine(b, 0, b.length)
}

function problemOf(line: string): { code: RecordLineError; column: number; message: string } {
  const r = check(line)
  assert.equal(r.ok, false, `expected a problem with ${JSON.stringify(line)}`)
  if (r.ok) throw new Error('unreachable')
  return { code: r.code, column: r.column, message: r.message }
}

// -------------------------------------------------------------------------------------------

test('a valid record gives its aacid and data_folder', () => {
  const aacid = 'aacid__zlib3_records__20230808T014342Z__22430000__hnyiZz2K44Ur5SBAuAgpg8'
  assert.deepEqual(
    check(
      `{"aacid":"${aacid}","metadata":{"zlibrary_id":22430000,"date_added":"2022-08-24","extension":"epub","filesize_reported":483359,"md5_reported":"21f19f95c4b969d06fe5860a98e29f0d","title":"Els nens de la senyora Zlatin","language":"catalan","isbns":[]}}`,
    ),
    { ok: true, aacid, dataFolder: null },
  )
  assert.deepEqual(
    check(
      '{"aacid":"aacid__zlib3_files__20230808T051503Z__22433983__NRgUGwTJYJpkQjTbz2jA3M","data_folder":"annas_archive_data__aacid__zlib3_files__20230808T051503Z--20230808T051504Z","metadata":{"zlibrary_id":"22433983","md5":"63332c8d6514aa6081d088de96ed1d4f"}}',
    ),
    {
      ok: true,
      aacid: 'aacid__zlib3_files__20230808T051503Z__22433983__NRgUGwTJYJpkQjTbz2jA3M',
      dataFolder: 'annas_archive_data__aacid__zlib3_files__20230808T051503Z--20230808T051504Z',
    },
  )
  // metadata may be any JSON value, e.g. a string holding XML
  assert.deepEqual(check('{"metadata":"<record id=\\"1\\"/>","aacid":"a"}'), {
    ok: true,
    aacid: 'a',
    dataFolder: null,
  })
  assert.deepEqual(check('{"aacid":"a","metadata":null}'), { ok: true, aacid: 'a', dataFolder: null })
})

test('every error code, with its column', () => {
  const cases: [string, RecordLineError, number][] = [
    ['', 'invalid-json', 1],
    ['   ', 'invalid-json', 4],
    ['{"aacid":"a","metadata":1', 'invalid-json', 26],
    ['{"aacid":"a","metadata":1}x', 'invalid-json', 27],
    ['{"aacid":"a","metadata":01}', 'invalid-json', 26],
    ['{"aacid":"a","metadata":"\\x"}', 'invalid-json', 26],
    ['{"aacid":"a","metadata":"\u0001"}', 'invalid-json', 26],
    ['{"aacid":"a","metadata":[1,]}', 'invalid-json', 28],
    ['{"aacid":"a",,"metadata":1}', 'invalid-json', 14],
    ["{'aacid':'a'}", 'invalid-json', 2],
    ['[{"aacid":"a","metadata":1}]', 'not-an-object', 1],
    ['  "aacid"', 'not-an-object', 3],
    ['42', 'not-an-object', 1],
    ['null', 'not-an-object', 1],
    ['{"aacid":"a","metadata":1,"extra":2}', 'unexpected-key', 27],
    ['{"AACID":"a","metadata":1}', 'unexpected-key', 2],
    ['{"aacid":"a","metadata":1,"aacid":"b"}', 'duplicate-key', 27],
    ['{"aacid":"a","metadata":1,"metadata":2}', 'duplicate-key', 27],
    ['{"aacid":"a","data_folder":"d","metadata":1,"data_folder":"d"}', 'duplicate-key', 45],
    ['{"metadata":1}', 'missing-key', 14],
    ['{"aacid":"a"}', 'missing-key', 13],
    ['{}', 'missing-key', 2],
    ['{"aacid":1,"metadata":1}', 'invalid-field-type', 10],
    ['{"aacid":null,"metadata":1}', 'invalid-field-type', 10],
    ['{"aacid":"a","metadata":1,"data_folder":["d"]}', 'invalid-field-type', 41],
    ['{"aacid":"a","metadata":1,"data_folder":null}', 'invalid-field-type', 41],
  ]
  for (const [line, code, column] of cases) {
    const p = problemOf(line)
    assert.equal(p.code, code, `${JSON.stringify(line)}: ${p.message}`)
    assert.equal(p.column, column, `${JSON.stringify(line)} (${code}): ${p.message}`)
    assert.ok(p.message.length > 0)
    const want = reference(line)
    assert.equal(want.ok ? 'ok' : want.code, code, `the reference on ${JSON.stringify(line)}`)
  }
  assert.match(problemOf('{"aacid":"a","metadata":1,"extra":2}').message, /"extra"/)
  assert.match(problemOf('{"metadata":1}').message, /"aacid"/)
  assert.match(problemOf('{"aacid":"a"}').message, /"metadata"/)
})

test('precedence: invalid JSON first, then keys, duplicates, presence, types', () => {
  assert.equal(problemOf('{"extra":1').code, 'invalid-json')
  assert.equal(problemOf('{"aacid":1,"aacid":2} ]').code, 'invalid-json')
  assert.equal(problemOf('{"aacid":1,"x":2}').code, 'unexpected-key')
  assert.equal(problemOf('{"aacid":1,"aacid":"a","metadata":1,"x":2}').code, 'unexpected-key')
  assert.equal(problemOf('{"aacid":1,"aacid":"a","metadata":1}').code, 'duplicate-key')
  assert.equal(problemOf('{"aacid":1}').code, 'missing-key')
  assert.equal(problemOf('{"data_folder":1,"aacid":2,"metadata":1}').column, 26) // aacid's type before data_folder's
})

test('keys are compared after decoding escapes, as JSON.parse does', () => {
  assert.deepEqual(check('{"\\u0061acid":"a","meta\\u0064ata":1,"data\\u005ffolder":"d"}'), {
    ok: true,
    aacid: 'a',
    dataFolder: 'd',
  })
  assert.equal(problemOf('{"aacid":"a","\\u0061acid":"b","metadata":1}').code, 'duplicate-key')
  assert.equal(problemOf('{"aacid":"a","metadata":1,"aacid\\u0000":1}').code, 'unexpected-key')
  assert.equal(problemOf('{"aacid":"a","metadata":1,"__proto__":{}}').code, 'unexpected-key')
  assert.equal(problemOf('{"aacid":"a","metadata":1,"":1}').code, 'unexpected-key')
})

test('whitespace is exactly JSON whitespace: space, tab, LF, CR', () => {
  assert.equal(check(' \t\r\n{ "aacid" : "a" , "metadata" : [ 1 , { } ] } \r').ok, true)
  assert.equal(check('{"aacid":"a","metadata":1}\r').ok, true)
  for (const ws of ['\f', '\v', '\u00a0', '\ufeff', '\u2028', '\u0000']) {
    assert.equal(problemOf(`${ws}{"aacid":"a","metadata":1}`).code, 'invalid-json', JSON.stringify(ws))
    assert.equal(problemOf(`{"aacid":"a","metadata":1}${ws}`).code, 'invalid-json', JSON.stringify(ws))
    assert.equal(problemOf(`{"aacid":"a",${ws}"metadata":1}`).code, 'invalid-json', JSON.stringify(ws))
  }
})

test('numbers: exactly the RFC 8259 grammar, like JSON.parse', () => {
  for (const n of [...VALID_NUMBERS, ...INVALID_NUMBERS]) {
    for (const line of [
      `{"aacid":"a","metadata":${n}}`,
      `{"aacid":"a","metadata":[${n}]}`,
      `{"aacid":"a","metadata":{"n":${n} }}`,
      n,
      ` ${n} `,
    ]) {
      assert.deepEqual(verdictOf(check(line)), reference(line), line)
    }
  }
  for (const n of VALID_NUMBERS) assert.equal(check(`{"aacid":"a","metadata":${n}}`).ok, true, n)
  for (const n of INVALID_NUMBERS)
    assert.equal(problemOf(`{"aacid":"a","metadata":${n}}`).code, 'invalid-json', n)
})

test('strings: every escape, and the extracted values equal JSON.parse', () => {
  const values = [
    '\\" \\\\ \\/ \\b \\f \\n \\r \\t',
    '\\u0000\\u001f\\u0020\\u007F\\u00e9\\u00E9\\uABCD\\uffff',
    '\\ud83d\\ude00 and 😀 raw',
    '\\ud800 lone high, \\udc00 lone low, \\udc00\\ud800 reversed',
    '\ufeffBOM first',
    '\\ufeffescaped BOM first',
    'Привет мир 你好世界 café naïve \u2028\u2029 \u007f',
    '',
    'x'.repeat(1000) + '\\n' + 'é'.repeat(1000),
  ]
  for (const v of values) {
    for (const line of [
      `{"aacid":"${v}","metadata":"${v}","data_folder":"${v}"}`,
      `{"data_folder":"${v}","metadata":{"${v}":"${v}"},"aacid":"${v}"}`,
    ]) {
      const want = reference(line)
      assert.equal(want.ok, true, line)
      assert.deepEqual(check(line), want, line)
      // the same bytes given as a plain Uint8Array (not a Buffer) decode the same way
      assert.deepEqual(check(new Uint8Array(Buffer.from(line))), want, line)
    }
  }
  const bad = [
    '\\x',
    "\\'",
    '\\a',
    '\\U0041',
    '\\u12',
    '\\u12G4',
    '\\uZZZZ',
    '\\u',
    '\\',
    '\t',
    '\n',
    '\r',
    '\u0000',
    '\u001f',
    '\u0008',
  ]
  for (const v of bad) {
    const line = `{"aacid":"a","metadata":"${v}"}`
    assert.equal(reference(line).ok, false, line)
    assert.equal(problemOf(line).code, 'invalid-json', line)
    assert.equal(problemOf(`{"aacid":"${v}","metadata":1}`).code, 'invalid-json', line)
    assert.equal(problemOf(`{"${v}":1,"aacid":"a","metadata":1}`).code, 'invalid-json', line)
  }
  assert.equal(problemOf('{"aacid":"a","metadata":"abc').code, 'invalid-json')
  assert.equal(problemOf('{"aacid":"a","metadata":"abc\\"}').code, 'invalid-json')
})

test('only bytes [start, end) are read, at any alignment, from a Buffer or a plain Uint8Array', () => {
  const lines = [
    '{"aacid":"first","metadata":{"t":"Привет мир 你好世界 café"}}',
    '{"aacid":"second","data_folder":"df","metadata":"a long enough string to be scanned a word at a time"}',
    '{"aacid":"a","metadata":"unterminated',
    '{"aacid":"a","metadata":"unterminated\\u00e',
    '{"aacid":"a","metadata":[1,2',
    '  "a top-level string, not terminated',
  ]
  // Each line is followed by bytes that would complete it, were they read.
  const after = '"]}}\n'
  for (let pad = 0; pad < 9; pad++) {
    const chunk = Buffer.from(' '.repeat(pad) + lines.map((l) => l + after).join(''))
    const starts: number[] = []
    let at = pad
    for (const line of lines) {
      starts.push(at)
      at += Buffer.byteLength(line) + after.length
    }
    const views: [Uint8Array, number][] = [
      [chunk, 0], // a Buffer, usually inside Node's shared pool
      [new Uint8Array(chunk), 0], // a plain Uint8Array of its own
      [chunk.subarray(1), -1], // shifted by one byte
      [new Uint8Array(chunk.buffer.slice(0), chunk.byteOffset, chunk.length), 0], // a plain view into a bigger buffer
    ]
    for (const [view, shift] of views) {
      lines.forEach((line, k) => {
        const from = starts[k]! + shift
        if (from < 0) return
        assert.deepEqual(
          verdictOf(checkRecordLine(view, from, from + Buffer.byteLength(line))),
          reference(line),
          `${line} at ${from}`,
        )
      })
    }
  }
  const buf = Buffer.from('{"aacid":"a","metadata":1}')
  assert.throws(() => checkRecordLine(buf, -1, 3), RangeError)
  assert.throws(() => checkRecordLine(buf, 5, 4), RangeError)
  assert.throws(() => checkRecordLine(buf, 0, buf.length + 1), RangeError)
  assert.throws(() => checkRecordLine(buf, 0.5, 3), RangeError)
  assert.deepEqual(checkRecordLine(buf, 0, buf.length), { ok: true, aacid: 'a', dataFolder: null })
})

test('10,000 levels of nesting inside metadata are valid and do not overflow the stack', () => {
  const d = 10_000
  const lines = [
    `{"aacid":"a","metadata":${'['.repeat(d)}${']'.repeat(d)}}`,
    `{"aacid":"a","metadata":${'{"k":'.repeat(d)}null${'}'.repeat(d)}}`,
    `{"aacid":"a","metadata":${'[{"k":'.repeat(d)}1${'}]'.repeat(d)},"data_folder":"f"}`,
  ]
  for (const line of lines) {
    assert.deepEqual(reference(line).ok, true)
    assert.deepEqual(check(line), reference(line))
  }
  const deeper = 1_000_000
  assert.equal(check(`{"aacid":"a","metadata":${'['.repeat(deeper)}${']'.repeat(deeper)}}`).ok, true)
  assert.equal(
    problemOf(`{"aacid":"a","metadata":${'['.repeat(deeper)}${']'.repeat(deeper - 1)}}`).code,
    'invalid-json',
  )
  assert.equal(problemOf(`{"aacid":"a","metadata":${'['.repeat(d)}${']'.repeat(d)}]}`).code, 'invalid-json')
  assert.equal(problemOf(`{"aacid":"a","metadata":${'['.repeat(d)}${'}'.repeat(d)}}`).code, 'invalid-json')
})

test('a 100 MB line is checked in linear time, and errors deep inside it are found', (t) => {
  const unit = Buffer.from(
    'Привет мир \\"quoted\\" 你好世界 café\\n\\u00e9\\ud83d\\ude00 plain ascii text here. ',
  )
  const text = Buffer.alloc(unit.length * Math.floor(86e6 / unit.length), unit)
  const depth = 4_000_000
  const items = Buffer.alloc(2 * 3_000_000, '7,')
  const line = Buffer.concat([
    Buffer.from('{"data_folder":"annas_archive_data__x","metadata":{"description":"'),
    text,
    Buffer.from('","deep":'),
    Buffer.alloc(depth, '['),
    Buffer.alloc(depth, ']'),
    Buffer.from(',"items":['),
    items,
    Buffer.from('0]},"aacid":"aacid__big"}'),
  ])
  assert.ok(line.length > 100e6)
  const t0 = performance.now()
  assert.deepEqual(checkRecordLine(line, 0, line.length), {
    ok: true,
    aacid: 'aacid__big',
    dataFolder: 'annas_archive_data__x',
  })
  const ms = performance.now() - t0
  // About 0.2 s at the expected speed; anything quadratic would take hours.
  assert.ok(ms < 10_000, `took ${ms.toFixed(0)} ms`)
  t.diagnostic(
    `${(line.length / 1e6).toFixed(0)} MB line with ${depth} levels of nesting checked in ${ms.toFixed(0)} ms`,
  )

  const prefix = Buffer.byteLength('{"data_folder":"annas_archive_data__x","metadata":{"description":"')
  const at = prefix + Math.floor(40e6 / unit.length) * unit.length + unit.indexOf('plain') // mid-description
  const broken = Buffer.from(line)
  broken[at] = 0x01
  assert.deepEqual(checkRecordLine(broken, 0, broken.length), {
    ok: false,
    code: 'invalid-json',
    message: `invalid JSON at column ${at + 1}: raw control character in string`,
    column: at + 1,
  })
  const truncated = checkRecordLine(line, 0, line.length - 1)
  assert.equal(truncated.ok, false)
  assert.equal(!truncated.ok && truncated.code, 'invalid-json')
})

// -------------------------------------------------------------------------------------------
// Randomized equivalence with JSON.parse

/** Checks `bytes` placed in a bigger buffer with random bytes around it, at a random alignment. */
function checkEmbedded(g: Gen, bytes: Buffer): RecordLineCheck {
  if (g.chance(0.3)) return checkRecordLine(bytes, 0, bytes.length)
  const before = g.int(9)
  const after = g.int(9)
  const host = Buffer.alloc(before + bytes.length + after)
  for (let k = 0; k < host.length; k++) host[k] = g.pick([0x22, 0x5d, 0x7d, 0x5c, 0x20, 0x30, 0x41])
  bytes.copy(host, before)
  const view = g.chance(0.3) ? new Uint8Array(host.buffer, host.byteOffset, host.length) : host
  return checkRecordLine(view, before, before + bytes.length)
}

test('randomized: the same verdicts and values as JSON.parse on 60,000+ lines and mutations (seed 20240901)', (t) => {
  const g = new Gen(20240901)
  const tally = new Map<string, number>()
  const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1)
  let cases = 0
  let skippedNotUtf8 = 0
  const compare = (bytes: Buffer, origin: string) => {
    const text = bytes.toString('utf8')
    const want = reference(text)
    const got = checkEmbedded(g, bytes)
    if (!got.ok)
      assert.ok(
        got.column >= 1 && got.column <= bytes.length + 1,
        `column ${got.column} of ${bytes.length} bytes`,
      )
    const gotVerdict = verdictOf(got)
    if (JSON.stringify(gotVerdict) !== JSON.stringify(want)) {
      assert.deepEqual(
        gotVerdict,
        want,
        `${origin} case ${cases}: ${JSON.stringify(text).slice(0, 2000)}\n${JSON.stringify(got)}`,
      )
    }
    cases++
    count(`${origin}:${want.ok ? 'ok' : want.code}`)
  }
  const valid: Buffer[] = []
  for (let k = 0; k < 30_000; k++) {
    g.bad = k % 3 === 0 ? 0 : 0.02
    const bytes = Buffer.from(g.line(), 'utf8')
    compare(bytes, 'generated')
    if (g.bad === 0 && valid.length < 5000) valid.push(bytes)
  }
  for (let k = 0; k < 35_000; k++) {
    let bytes = g.pick(valid)
    for (let m = g.chance(0.8) ? 1 : 1 + g.int(3); m > 0; m--) bytes = g.mutate(bytes)
    if (!isUtf8(bytes)) {
      skippedNotUtf8++ // outside the contract: lines are known to be valid UTF-8
      continue
    }
    compare(bytes, 'mutated')
  }
  assert.ok(cases >= 50_000, `only ${cases} cases`)
  // every outcome must have been exercised by both sources
  for (const origin of ['generated', 'mutated']) {
    for (const outcome of [
      'ok',
      'invalid-json',
      'not-an-object',
      'unexpected-key',
      'duplicate-key',
      'missing-key',
      'invalid-field-type',
    ]) {
      assert.ok(
        (tally.get(`${origin}:${outcome}`) ?? 0) > 20,
        `${origin}:${outcome} seen ${tally.get(`${origin}:${outcome}`) ?? 0} times`,
      )
    }
  }
  t.diagnostic(
    `${cases} cases (${skippedNotUtf8} mutations skipped as not UTF-8): ${JSON.stringify(Object.fromEntries([...tally].sort()))}`,
  )
})
