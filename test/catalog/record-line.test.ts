import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isUtf8 } from 'node:buffer'
import { checkRecordLine, type RecordLineCheck, type RecordLineError } from '../../src/catalog/record-line.js'

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
// The reference: JSON.parse for the grammar and the values, plus a scan of the top level of
// the (then known valid) text for duplicates, which JSON.parse silently merges.

const ALLOWED = new Set(['aacid', 'metadata', 'data_folder'])

type Verdict = { ok: true; aacid: string; dataFolder: string | null } | { ok: false; code: RecordLineError }

/** The top-level keys of valid JSON object text, in document order, duplicates included. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = []
  let depth = 0
  let expectKey = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string)
      expectKey = false
      i = j
    } else if (c === '{') {
      depth++
      expectKey = depth === 1
    } else if (c === '[') {
      depth++
    } else if (c === '}' || c === ']') {
      depth--
    } else if (c === ',' && depth === 1) {
      expectKey = true
    }
  }
  return keys
}

function reference(text: string): Verdict {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return { ok: false, code: 'invalid-json' }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, code: 'not-an-object' }
  const keys = topLevelKeys(text)
  if (keys.some((k) => !ALLOWED.has(k))) return { ok: false, code: 'unexpected-key' }
  if (new Set(keys).size !== keys.length) return { ok: false, code: 'duplicate-key' }
  const o = v as Record<string, unknown>
  if (!keys.includes('aacid') || !keys.includes('metadata')) return { ok: false, code: 'missing-key' }
  if (typeof o.aacid !== 'string') return { ok: false, code: 'invalid-field-type' }
  if (keys.includes('data_folder') && typeof o.data_folder !== 'string')
    return { ok: false, code: 'invalid-field-type' }
  return {
    ok: true,
    aacid: o.aacid,
    dataFolder: keys.includes('data_folder') ? (o.data_folder as string) : null,
  }
}

function verdictOf(r: RecordLineCheck): Verdict {
  return r.ok ? r : { ok: false, code: r.code }
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

const VALID_NUMBERS = [
  '0',
  '-0',
  '1',
  '-1',
  '10',
  '1234567890',
  '0.5',
  '-0.0',
  '1.25',
  '1e5',
  '1E5',
  '1e+5',
  '1e-5',
  '1E-05',
  '0e0',
  '-0.0e-0',
  '12.34e+56',
  '99999999999999999999999999',
  '1e400',
  '1.7976931348623157e308',
  '5e-324',
]
const INVALID_NUMBERS = [
  '01',
  '00',
  '-01',
  '1.',
  '.5',
  '-.5',
  '-',
  '+1',
  '1e',
  '1e+',
  '1E-',
  '--1',
  '1.e5',
  '1..5',
  '1.5.5',
  '1ee5',
  '0x1',
  '0X1F',
  'NaN',
  'Infinity',
  '-Infinity',
  '1_000',
  '٣',
  '１',
  '0.e1',
  '1e5.5',
  '+',
]

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

function prng(seed: number): () => number {
  let s = seed | 0
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Gen {
  readonly rand: () => number
  /** Chance that any one generated token is malformed. */
  bad = 0.02
  constructor(seed: number) {
    this.rand = prng(seed)
  }
  int(n: number): number {
    return Math.floor(this.rand() * n)
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!
  }
  chance(p: number): boolean {
    return this.rand() < p
  }

  ws(): string {
    if (this.chance(this.bad / 4)) return this.pick(['\f', '\v', '\u00a0', '\ufeff', '\u2028', '\u0000'])
    return this.chance(0.7) ? '' : this.pick([' ', '  ', '\t', '\n', '\r', '\r\n', ' \t '])
  }

  hex4(): string {
    const h = this.int(8) === 0 ? 0xd800 + this.int(0x800) : this.int(0x10000)
    const s = h.toString(16).padStart(4, '0')
    return this.chance(0.5) ? s.toUpperCase() : s
  }

  stringContent(): string {
    let s = ''
    const n = this.chance(0.1) ? this.int(300) : this.int(12)
    for (let k = 0; k < n; k++) {
      const r = this.rand()
      if (r < 0.45) s += this.pick(['a', 'b', 'Z', '0', ' ', '-', '_', '.', '/', "'", '~', '\u007f'])
      else if (r < 0.65) s += this.pick(['é', 'Ж', 'щ', '中', '文', '😀', '\u2028', '\ufeff', '\u00a0', 'ß'])
      else if (r < 0.8) s += '\\' + this.pick(['"', '\\', '/', 'b', 'f', 'n', 'r', 't'])
      else if (r < 0.9) s += '\\u' + this.hex4()
      else if (r < 0.93) s += this.pick(['\\ud83d\\ude00', '\\uD800', '\\uDFFF', '\\udc00\\ud800'])
      else if (this.chance(this.bad * 5))
        s += this.pick([
          '\\x',
          "\\'",
          '\\a',
          '\\U0041',
          '\\u12',
          '\\uZZ00',
          '\\u00G0',
          '\t',
          '\n',
          '\r',
          '\u0001',
          '\u001f',
          '\\',
        ])
      else s += 'x'
    }
    return s
  }

  string(content = this.stringContent()): string {
    if (this.chance(this.bad / 2)) return this.pick([`'${content}'`, `"${content}`, content])
    return `"${content}"`
  }

  number(): string {
    if (this.chance(this.bad * 3)) return this.pick(INVALID_NUMBERS)
    if (this.chance(0.2)) return this.pick(VALID_NUMBERS)
    let s = this.chance(0.3) ? '-' : ''
    s += this.chance(0.2) ? '0' : String(1 + this.int(9)) + String(this.int(1e6)).slice(0, this.int(7))
    if (this.chance(0.3)) s += '.' + String(this.int(1e6))
    if (this.chance(0.2)) s += this.pick(['e', 'E']) + this.pick(['', '+', '-']) + String(this.int(400))
    return s
  }

  literal(): string {
    if (this.chance(this.bad * 2))
      return this.pick(['True', 'nul', 'tru', 'undefined', 'nulll', 'falsey', 'f', 'NULL'])
    return this.pick(['true', 'false', 'null'])
  }

  value(depth: number): string {
    const r = this.rand()
    if (depth > 0 && r < 0.35) {
      if (this.chance(0.03)) {
        const d = 1 + this.int(200)
        return '['.repeat(d) + this.value(0) + ']'.repeat(d)
      }
      const n = this.int(5)
      const items: string[] = []
      const obj = this.chance(0.5)
      for (let k = 0; k < n; k++)
        items.push(
          obj ? this.member(this.string(), depth - 1) : this.ws() + this.value(depth - 1) + this.ws(),
        )
      let body = items.join(this.chance(this.bad) ? this.pick([',,', ' ', ';']) : ',')
      if (n > 0 && this.chance(this.bad)) body += ','
      if (n === 0) body = this.ws()
      return obj ? `{${body}}` : `[${body}]`
    }
    if (r < 0.6) return this.string()
    if (r < 0.85) return this.number()
    return this.literal()
  }

  member(key: string, depth: number): string {
    const colon = this.chance(this.bad) ? this.pick(['', '=', '::']) : ':'
    return this.ws() + key + this.ws() + colon + this.ws() + this.value(depth) + this.ws()
  }

  /** A record line: mostly well-formed records, with wrong keys, types and JSON now and then. */
  line(): string {
    if (this.chance(0.05)) return this.ws() + this.value(3) + this.ws()
    const members: string[] = []
    const aacidKey = this.pick(['"aacid"', '"aacid"', '"aacid"', '"\\u0061acid"', '"aaci\\u0064"'])
    if (!this.chance(0.03)) {
      const value = this.chance(0.9)
        ? this.string(
            this.chance(0.5)
              ? 'aacid__zlib3_records__20230808T014342Z__22430000__hnyiZz2K44Ur5SBAuAgpg8'
              : this.stringContent(),
          )
        : this.value(1)
      members.push(this.ws() + aacidKey + this.ws() + ':' + this.ws() + value + this.ws())
    }
    if (!this.chance(0.03))
      members.push(this.member(this.pick(['"metadata"', '"metadata"', '"meta\\u0064ata"']), 4))
    if (this.chance(0.3)) {
      const value = this.chance(0.9) ? this.string() : this.value(1)
      members.push(this.ws() + this.pick(['"data_folder"', '"data\\u005ffolder"']) + ':' + value)
    }
    if (this.chance(0.04))
      members.push(
        this.member(
          this.string(this.pick(['extra', 'AACID', 'aacid ', '', '__proto__', 'metadata\\u0000'])),
          1,
        ),
      )
    if (this.chance(0.04) && members.length > 0) members.push(this.pick(members))
    for (let k = members.length - 1; k > 0; k--) {
      const j = this.int(k + 1)
      ;[members[k], members[j]] = [members[j]!, members[k]!]
    }
    let body = members.join(this.chance(this.bad) ? ' ' : ',')
    if (this.chance(this.bad)) body += ','
    let line = this.ws() + '{' + body + '}' + this.ws()
    if (this.chance(this.bad)) line += this.pick(['x', '}', ' 1', '{}', '"'])
    return line
  }

  /** One random byte-level change: replace, insert, delete, truncate or duplicate. */
  mutate(b: Buffer): Buffer {
    const special = Buffer.from('"\\{}[]:,. \t\n\r0123456789-+eEuabcfnrt/\x00\x01\x1f\x7f\x80\xff')
    const byte = (): number => (this.chance(0.8) ? special[this.int(special.length)]! : this.int(256))
    const at = this.int(b.length + 1)
    const out = Buffer.from(b)
    switch (this.int(5)) {
      case 0:
        if (at < b.length) out[at] = byte()
        return out
      case 1:
        return Buffer.concat([b.subarray(0, at), Buffer.from([byte()]), b.subarray(at)])
      case 2:
        return Buffer.concat([b.subarray(0, at), b.subarray(at + 1)])
      case 3:
        return b.subarray(0, at)
      default: {
        const to = at + this.int(Math.min(8, b.length - at + 1))
        return Buffer.concat([b.subarray(0, to), b.subarray(at, to), b.subarray(to)])
      }
    }
  }
}

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
