/**
 * Validates one line of an AAC metadata file (JSON Lines) without building objects.
 *
 * A line must be a JSON object with exactly the top-level keys `aacid` (required, string),
 * `metadata` (required, any JSON value) and `data_folder` (optional, string)
 * (docs/aac-rules.md, "Files on disk").
 *
 * The JSON grammar accepted is exactly `JSON.parse`'s (RFC 8259): whitespace is space, tab,
 * LF and CR; strings allow every escape `\" \\ \/ \b \f \n \r \t \uXXXX` (lone surrogates
 * included) and no raw byte below 0x20; numbers are `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`.
 * Nesting has no depth limit: containers are tracked on an explicit byte stack, not by recursion.
 *
 * Verdicts, in order of precedence:
 *  1. `invalid-json` when `JSON.parse` of the line's text would throw;
 *  2. `not-an-object` when the top-level value is not an object;
 *  3. `unexpected-key`, then `duplicate-key` (the first such key in the line);
 *  4. `missing-key` (`aacid` before `metadata`);
 *  5. `invalid-field-type` (`aacid` before `data_folder`).
 * This is the order of a check on `JSON.parse`'s result (keys, presence, then types), with
 * duplicates, which `JSON.parse` silently merges, ranked right after unknown keys.
 *
 * Speed: almost every byte of a real line sits inside a string value, so the string scanner
 * reads sixteen bytes at a time as four little-endian int32s from a `DataView` of the same
 * memory and tests them with SWAR arithmetic (is any byte `"`, `\` or below 0x20, and which is
 * the first?); bytes are looked at one by one only in the last 8 of a line. Nothing is allocated
 * for skipped values; only the extracted `aacid`/`data_folder` become strings.
 *
 * The scan runs this checker only on the lines that its WebAssembly check of a whole chunk
 * (record-lines.c, twice as fast) does not accept; it is the reference that check is tested
 * against, and it decides and words every problem.
 */

export type RecordLineError =
  'invalid-json' | 'not-an-object' | 'unexpected-key' | 'duplicate-key' | 'missing-key' | 'invalid-field-type'

export type RecordLineCheck =
  | { ok: true; aacid: string; dataFolder: string | null }
  | {
      ok: false
      code: RecordLineError
      message: string
      /** 1-based byte column where it went wrong, best effort */ column: number
    }

// ---------------------------------------------------------------------------------------------
// Byte classes

const QUOTE = 0x22
const BACKSLASH = 0x5c

/** Bytes that end a run of plain string content: `"`, `\` and the controls below 0x20. */
const STR_STOP = new Uint8Array(256)
for (let c = 0; c < 0x20; c++) STR_STOP[c] = 1
STR_STOP[QUOTE] = 1
STR_STOP[BACKSLASH] = 1

/** JSON whitespace. */
const WS = new Uint8Array(256)
WS[0x20] = 1
WS[0x09] = 1
WS[0x0a] = 1
WS[0x0d] = 1

/** Characters allowed after a backslash other than `u`. */
const SIMPLE_ESCAPE = new Uint8Array(256)
for (const ch of '"\\/bfnrt') SIMPLE_ESCAPE[ch.charCodeAt(0)] = 1

const HEX = new Uint8Array(256)
for (const ch of '0123456789abcdefABCDEF') HEX[ch.charCodeAt(0)] = 1

// SWAR constants as int32 so V8 keeps the arithmetic in integer registers.
const ONES = 0x01010101
const HIGHS = 0x80808080 | 0
const CONTROL_OR_QUOTE = 0x02020202
const BELOW_21 = 0x21212121
const BACKSLASHES = 0x5c5c5c5c

// ---------------------------------------------------------------------------------------------
// Per-call scanner state, kept in module variables so the hot functions return plain numbers.

/**
 * A `DataView` over the whole `ArrayBuffer` behind the current line, for 4-byte reads, and
 * `buf.byteOffset`: byte `i` of `buf` is byte `base + i` of `view`. Kept for the last `buf`
 * seen (the lines of a file come from few chunks), as `.buffer` and `.byteOffset` are slow.
 */
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0))
let viewLength = 0
let base = 0
let viewOf: Uint8Array | null = null

/**
 * After a check that succeeded: bytes `[aacidRawFrom, aacidRawTo)` of its buffer are the `aacid`
 * value as written, between its quotes and escapes not decoded, for the rules of record-rules.ts,
 * which are cheaper to test on bytes than on the decoded string.
 */
export let aacidRawFrom = -1
export let aacidRawTo = -1
/** Whether that `aacid` value holds a backslash escape (then its bytes are not its text). */
let aacidRawEscaped = false
/** The same for `data_folder` (-1 when the line has none). */
export let folderRawFrom = -1
export let folderRawTo = -1
let folderRawEscaped = false

/** Set by `scanString`: whether the string just scanned held a backslash escape. */
let sawEscape = false
/** Where and why the last scan failed (`-1` result). */
let failAt = 0
let failWhy = ''

/** Open containers of the value being skipped: 1 = object, 2 = array. Grows on demand. */
const STACK_START = 1024
let stack = new Uint8Array(STACK_START)
const IN_OBJECT = 1
const IN_ARRAY = 2

/** Makes `view` and `base` cover `buf` up to `end`. */
function bindView(buf: Uint8Array, end: number): void {
  if (buf === viewOf && base + end <= viewLength) return
  if (end === 0) return // nothing will be read (and buf may be detached)
  const ab = buf.buffer
  if (ab !== view.buffer || ab.byteLength !== viewLength) {
    view = new DataView(ab, 0, ab.byteLength)
    viewLength = ab.byteLength
  }
  base = buf.byteOffset
  viewOf = buf
}

function fail(at: number, why: string): number {
  failAt = at
  failWhy = why
  return -1
}

// ---------------------------------------------------------------------------------------------
// Scanners. Each takes `buf`, a position and `end`, and returns the position after what it
// scanned, or -1 after calling `fail`.

function skipWs(buf: Uint8Array, i: number, end: number): number {
  while (i < end && WS[buf[i]!] === 1) i++
  return i
}

/** `i` is just after the opening quote; returns the position after the closing quote. */
function scanString(buf: Uint8Array, i: number, end: number): number {
  const dv = view
  const off = base
  let escaped = false
  for (;;) {
    // Find the next byte that needs attention, 16 and then 8 bytes at a time while they remain.
    find: {
      // Most strings are short (keys, codes, titles): one word at a time for the first eight
      // bytes, before the blocks of sixteen that pay off on long ones.
      if (i + 8 <= end) {
        let m = stops(dv.getInt32(off + i, true))
        if (m !== 0) {
          i += (31 - Math.clz32(m & -m)) >> 3
          break find
        }
        m = stops(dv.getInt32(off + i + 4, true))
        if (m !== 0) {
          i += 4 + ((31 - Math.clz32(m & -m)) >> 3)
          break find
        }
        i += 8
      }
      while (i + 16 <= end) {
        const p = off + i
        const m0 = stops(dv.getInt32(p, true))
        const m1 = stops(dv.getInt32(p + 4, true))
        const m2 = stops(dv.getInt32(p + 8, true))
        const m3 = stops(dv.getInt32(p + 12, true))
        if ((m0 | m1 | m2 | m3) !== 0) {
          let m = m0
          if (m === 0) {
            i += 4
            m = m1
            if (m === 0) {
              i += 4
              m = m2
              if (m === 0) {
                i += 4
                m = m3
              }
            }
          }
          i += (31 - Math.clz32(m & -m)) >> 3 // the lowest flagged byte
          break find
        }
        i += 16
      }
      if (i + 8 <= end) {
        const lo = stops(dv.getInt32(off + i, true))
        const hi = stops(dv.getInt32(off + i + 4, true))
        if ((lo | hi) !== 0) {
          let m = lo
          if (m === 0) {
            i += 4
            m = hi
          }
          i += (31 - Math.clz32(m & -m)) >> 3
          break find
        }
        i += 8
      }
      while (i < end && STR_STOP[buf[i]!] === 0) i++
      if (i >= end) return fail(end, 'unterminated string')
    }
    let c = buf[i]!
    if (c === QUOTE) {
      sawEscape = escaped
      return i + 1
    }
    if (c !== BACKSLASH) return fail(i, 'raw control character in string')
    escaped = true
    i++
    if (i >= end) return fail(end, 'unterminated escape in string')
    c = buf[i]!
    if (SIMPLE_ESCAPE[c] === 1) {
      i++
    } else if (c === 0x75 /* u */) {
      if (i + 4 >= end) return fail(end, 'unterminated \\u escape in string')
      if ((HEX[buf[i + 1]!]! & HEX[buf[i + 2]!]! & HEX[buf[i + 3]!]! & HEX[buf[i + 4]!]!) === 0) {
        return fail(i - 1, 'bad \\u escape in string')
      }
      i += 5
    } else {
      return fail(i - 1, 'bad escape in string')
    }
  }
}

/**
 * For four bytes read little-endian into `v`: nonzero iff one of them is `"`, `\` or below
 * 0x20, with the high bit of each such byte set. It is the classic "has a zero byte" test
 * `(x - 0x01…) & ~x & 0x80…` on `v ^ 0x5c…` (backslash), and its "has a byte below n" form
 * with n = 0x21 on `v ^ 0x02…`, which maps `"` (0x22) to 0x20 and the controls onto
 * themselves while space (0x20) and `!` go to 0x22 and 0x23. Both `~x` keep the high bits
 * of `~v` (the xor constants are ASCII), so they share one mask. A borrow can flag a byte
 * above a true hit, never below: the lowest flagged byte is always a true hit.
 */
function stops(v: number): number {
  return (((v ^ CONTROL_OR_QUOTE) - BELOW_21) | ((v ^ BACKSLASHES) - ONES)) & ~v & HIGHS
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

/** `i` is at `-` or a digit. */
function scanNumber(buf: Uint8Array, i: number, end: number): number {
  const at = i
  if (buf[i] === 0x2d /* - */) i++
  if (i >= end) return fail(at, 'bad number')
  let c = buf[i]!
  if (c === 0x30) {
    i++
  } else if (c >= 0x31 && c <= 0x39) {
    i++
    while (i < end && isDigit(buf[i]!)) i++
  } else {
    return fail(at, 'bad number')
  }
  if (i < end && buf[i] === 0x2e /* . */) {
    i++
    if (i >= end || !isDigit(buf[i]!)) return fail(at, 'bad number: no digit after the decimal point')
    while (i < end && isDigit(buf[i]!)) i++
  }
  if (i < end && (buf[i]! | 0x20) === 0x65 /* e E */) {
    i++
    if (i < end) {
      c = buf[i]!
      if (c === 0x2b || c === 0x2d) i++
    }
    if (i >= end || !isDigit(buf[i]!)) return fail(at, 'bad number: no digit in the exponent')
    while (i < end && isDigit(buf[i]!)) i++
  }
  return i
}

/** `i` is at the first letter of `true`, `false` or `null`. */
function scanLiteral(buf: Uint8Array, i: number, end: number): number {
  const c = buf[i]
  if (c === 0x74 /* t */) {
    if (i + 4 <= end && buf[i + 1] === 0x72 && buf[i + 2] === 0x75 && buf[i + 3] === 0x65) return i + 4
  } else if (c === 0x66 /* f */) {
    if (
      i + 5 <= end &&
      buf[i + 1] === 0x61 &&
      buf[i + 2] === 0x6c &&
      buf[i + 3] === 0x73 &&
      buf[i + 4] === 0x65
    )
      return i + 5
  } else if (c === 0x6e /* n */) {
    if (i + 4 <= end && buf[i + 1] === 0x75 && buf[i + 2] === 0x6c && buf[i + 3] === 0x6c) return i + 4
  }
  return fail(i, 'unexpected character')
}

function push(depth: number, kind: number): void {
  if (depth === stack.length) {
    const bigger = new Uint8Array(stack.length * 2)
    bigger.set(stack)
    stack = bigger
  }
  stack[depth] = kind
}

/** After a `{` or `,` inside an object: whitespace, a key string, whitespace, `:`. */
function scanKeyColon(buf: Uint8Array, i: number, end: number): number {
  if (i >= end || buf[i] !== QUOTE)
    return fail(i, i >= end ? 'unexpected end of input' : 'expected a string key')
  i = scanString(buf, i + 1, end)
  if (i < 0) return i
  i = skipWs(buf, i, end)
  if (i >= end || buf[i] !== 0x3a /* : */) return fail(i, "expected ':' after key")
  return i + 1
}

/**
 * Skips one JSON value, with any leading whitespace, starting at `i`; returns the position
 * just after it (trailing whitespace not skipped). Iterative, so any depth is fine.
 */
function skipValue(buf: Uint8Array, i: number, end: number): number {
  let depth = 0
  for (;;) {
    // A value is expected at i (after optional whitespace).
    while (i < end && WS[buf[i]!] === 1) i++
    if (i >= end) return fail(end, 'unexpected end of input')
    const c = buf[i]!
    if (c === QUOTE) {
      i = scanString(buf, i + 1, end)
    } else if (c === 0x7b /* { */) {
      i = skipWs(buf, i + 1, end)
      if (i < end && buf[i] === 0x7d /* } */) {
        i++
      } else {
        push(depth++, IN_OBJECT)
        i = scanKeyColon(buf, i, end)
        if (i < 0) return i
        continue
      }
    } else if (c === 0x5b /* [ */) {
      i = skipWs(buf, i + 1, end)
      if (i < end && buf[i] === 0x5d /* ] */) {
        i++
      } else {
        push(depth++, IN_ARRAY)
        continue
      }
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      i = scanNumber(buf, i, end)
    } else {
      i = scanLiteral(buf, i, end)
    }
    if (i < 0) return i
    // A value ended at i: close containers until one continues with ','.
    for (;;) {
      if (depth === 0) return i
      while (i < end && WS[buf[i]!] === 1) i++
      if (i >= end) return fail(end, 'unexpected end of input')
      const d = buf[i]!
      const kind = stack[depth - 1]
      if (d === 0x2c /* , */) {
        i++
        if (kind === IN_OBJECT) {
          i = scanKeyColon(buf, skipWs(buf, i, end), end)
          if (i < 0) return i
        }
        break
      }
      if (kind === IN_OBJECT ? d === 0x7d : d === 0x5d) {
        depth--
        i++
        continue
      }
      return fail(i, kind === IN_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'")
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Strings out

type Utf8Slice = (this: Uint8Array, start: number, end: number) => string

/**
 * Node's own decoder behind `Buffer#toString('utf8', a, b)`, without that method's argument
 * handling, which costs more than decoding a short aacid. It takes any Uint8Array and keeps
 * a leading BOM. Not documented, so it is checked here, with `TextDecoder` as the fallback.
 */
const nodeUtf8Slice: Utf8Slice | null = (() => {
  const f = (Buffer.prototype as unknown as { utf8Slice?: Utf8Slice }).utf8Slice
  try {
    if (
      typeof f === 'function' &&
      f.call(new Uint8Array([0x20, 0xef, 0xbb, 0xbf, 0xc3, 0xa9, 0x20]), 1, 6) === '\ufeffé'
    )
      return f
  } catch {
    // fall back
  }
  return null
})()

const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true })

/** The text of bytes `[a, b)`. */
function utf8(buf: Uint8Array, a: number, b: number): string {
  return nodeUtf8Slice !== null ? nodeUtf8Slice.call(buf, a, b) : utf8Decoder.decode(buf.subarray(a, b))
}

/**
 * The value of the (already validated) string literal whose content is `[a, b)`. Escapes are
 * rare in the fields we extract, so that case simply hands the literal to `JSON.parse`.
 */
function stringValue(buf: Uint8Array, a: number, b: number, escaped: boolean): string {
  return escaped ? (JSON.parse(utf8(buf, a - 1, b + 1)) as string) : utf8(buf, a, b)
}

const KEY_OTHER = 0
const KEY_AACID = 1
const KEY_METADATA = 2
const KEY_DATA_FOLDER = 3

function keyOfText(s: string): number {
  return s === 'aacid'
    ? KEY_AACID
    : s === 'metadata'
      ? KEY_METADATA
      : s === 'data_folder'
        ? KEY_DATA_FOLDER
        : KEY_OTHER
}

const AACID_BYTES = new TextEncoder().encode('aacid')
const METADATA_BYTES = new TextEncoder().encode('metadata')
const DATA_FOLDER_BYTES = new TextEncoder().encode('data_folder')

function bytesAre(buf: Uint8Array, a: number, bytes: Uint8Array): boolean {
  for (let k = 0; k < bytes.length; k++) if (buf[a + k] !== bytes[k]) return false
  return true
}

/** Which top-level key the string literal with content `[a, b)` names. */
function keyOf(buf: Uint8Array, a: number, b: number, escaped: boolean): number {
  if (escaped) return keyOfText(stringValue(buf, a, b, true))
  const n = b - a
  if (n === 5) return bytesAre(buf, a, AACID_BYTES) ? KEY_AACID : KEY_OTHER
  if (n === 8) return bytesAre(buf, a, METADATA_BYTES) ? KEY_METADATA : KEY_OTHER
  if (n === 11) return bytesAre(buf, a, DATA_FOLDER_BYTES) ? KEY_DATA_FOLDER : KEY_OTHER
  return KEY_OTHER
}

const KEY_NAMES = ['', 'aacid', 'metadata', 'data_folder']

function valueKind(c: number): string {
  if (c === QUOTE) return 'a string'
  if (c === 0x7b) return 'an object'
  if (c === 0x5b) return 'an array'
  if (c === 0x74 || c === 0x66) return 'a boolean'
  if (c === 0x6e) return 'null'
  return 'a number'
}

function quoteForMessage(s: string): string {
  return JSON.stringify(s.length > 64 ? s.slice(0, 64) + '…' : s)
}

// ---------------------------------------------------------------------------------------------
// The record check

function problem(code: RecordLineError, message: string, column: number): RecordLineCheck {
  return { ok: false, code, message, column }
}

function invalidJson(start: number): RecordLineCheck {
  const column = failAt - start + 1
  return problem('invalid-json', `invalid JSON at column ${column}: ${failWhy}`, column)
}

/**
 * Validates one line `buf[start, end)` (without its newline; surrounding JSON whitespace,
 * including a trailing `\r`, is accepted as `JSON.parse` does). `buf` is known to be valid UTF-8.
 * On success returns the decoded `aacid` and `data_folder` (null when absent), equal to what
 * `JSON.parse` would give.
 */
export function checkRecordLine(buf: Uint8Array, start: number, end: number): RecordLineCheck {
  return check(buf, start, end, false)
}

function check(buf: Uint8Array, start: number, end: number, raw: boolean): RecordLineCheck {
  if (!(
    Number.isInteger(start) &&
    Number.isInteger(end) &&
    start >= 0 &&
    start <= end &&
    end <= buf.length
  )) {
    throw new RangeError(`checkRecordLine: bad range [${start}, ${end}) of ${buf.length} bytes`)
  }
  bindView(buf, end)
  try {
    const r = checkObject(buf, start, end)
    if (r !== RAW_OK || raw) return r
    return { ok: true, aacid: recordAacid(buf), dataFolder: recordDataFolder(buf) }
  } finally {
    if (stack.length > STACK_START * 64) stack = new Uint8Array(STACK_START)
  }
}

function checkObject(buf: Uint8Array, start: number, end: number): RecordLineCheck {
  let i = skipWs(buf, start, end)
  if (i >= end) {
    fail(end, 'empty line')
    return invalidJson(start)
  }
  if (buf[i] !== 0x7b /* { */) {
    const kind = valueKind(buf[i]!)
    const at = i
    i = skipValue(buf, i, end)
    if (i >= 0) i = endOfLine(buf, i, end)
    if (i < 0) return invalidJson(start)
    return problem('not-an-object', `the line is ${kind}, not a JSON object`, at - start + 1)
  }

  // Object-level problems, reported only if the whole line turns out to be valid JSON: the
  // first one of the highest-ranking kind (see the module comment).
  let unexpectedMessage = ''
  let unexpectedColumn = 0
  let duplicateMessage = ''
  let duplicateColumn = 0
  let aacidTypeMessage = ''
  let aacidTypeColumn = 0
  let folderTypeMessage = ''
  let folderTypeColumn = 0
  let aacidFrom = -1
  let aacidTo = -1
  let aacidEscaped = false
  let folderFrom = -1
  let folderTo = -1
  let folderEscaped = false
  let seenAacid = false
  let seenMetadata = false
  let seenFolder = false

  i = skipWs(buf, i + 1, end)
  if (i < end && buf[i] === 0x7d /* } */) {
    i++
  } else {
    for (;;) {
      if (i >= end || buf[i] !== QUOTE) {
        fail(i, i >= end ? 'unexpected end of input' : 'expected a string key')
        return invalidJson(start)
      }
      const keyAt = i
      const keyFrom = i + 1
      i = scanString(buf, keyFrom, end)
      if (i < 0) return invalidJson(start)
      const keyTo = i - 1
      const keyEscaped = sawEscape
      i = skipWs(buf, i, end)
      if (i >= end || buf[i] !== 0x3a /* : */) {
        fail(i, "expected ':' after key")
        return invalidJson(start)
      }
      i = skipWs(buf, i + 1, end)
      const valueAt = i
      const key = keyOf(buf, keyFrom, keyTo, keyEscaped)
      if (key === KEY_OTHER) {
        if (unexpectedColumn === 0) {
          unexpectedMessage = `unexpected top-level key ${quoteForMessage(stringValue(buf, keyFrom, keyTo, keyEscaped))} (allowed: aacid, metadata, data_folder)`
          unexpectedColumn = keyAt - start + 1
        }
      } else if (key === KEY_AACID ? seenAacid : key === KEY_METADATA ? seenMetadata : seenFolder) {
        if (duplicateColumn === 0) {
          duplicateMessage = `duplicate top-level key "${KEY_NAMES[key]}"`
          duplicateColumn = keyAt - start + 1
        }
      }
      if ((key === KEY_AACID || key === KEY_DATA_FOLDER) && i < end && buf[i] === QUOTE) {
        const from = i + 1
        i = scanString(buf, from, end)
        if (i < 0) return invalidJson(start)
        if (key === KEY_AACID) {
          if (!seenAacid) {
            aacidFrom = from
            aacidTo = i - 1
            aacidEscaped = sawEscape
          }
        } else if (!seenFolder) {
          folderFrom = from
          folderTo = i - 1
          folderEscaped = sawEscape
        }
      } else {
        i = skipValue(buf, i, end)
        if (i < 0) return invalidJson(start)
        if (key === KEY_AACID && !seenAacid) {
          aacidTypeMessage = `"aacid" must be a string, not ${valueKind(buf[valueAt]!)}`
          aacidTypeColumn = valueAt - start + 1
        } else if (key === KEY_DATA_FOLDER && !seenFolder) {
          folderTypeMessage = `"data_folder" must be a string, not ${valueKind(buf[valueAt]!)}`
          folderTypeColumn = valueAt - start + 1
        }
      }
      if (key === KEY_AACID) seenAacid = true
      else if (key === KEY_METADATA) seenMetadata = true
      else if (key === KEY_DATA_FOLDER) seenFolder = true

      i = skipWs(buf, i, end)
      if (i >= end) {
        fail(end, 'unexpected end of input')
        return invalidJson(start)
      }
      const d = buf[i]
      if (d === 0x2c /* , */) {
        i = skipWs(buf, i + 1, end)
        continue
      }
      if (d === 0x7d /* } */) {
        i++
        break
      }
      fail(i, "expected ',' or '}'")
      return invalidJson(start)
    }
  }
  const closeColumn = i - start
  if (endOfLine(buf, i, end) < 0) return invalidJson(start)

  if (unexpectedColumn !== 0) return problem('unexpected-key', unexpectedMessage, unexpectedColumn)
  if (duplicateColumn !== 0) return problem('duplicate-key', duplicateMessage, duplicateColumn)
  if (!seenAacid) return problem('missing-key', 'missing top-level key "aacid"', closeColumn)
  if (!seenMetadata) return problem('missing-key', 'missing top-level key "metadata"', closeColumn)
  if (aacidTypeColumn !== 0) return problem('invalid-field-type', aacidTypeMessage, aacidTypeColumn)
  if (folderTypeColumn !== 0) return problem('invalid-field-type', folderTypeMessage, folderTypeColumn)
  return acceptedRecord(aacidFrom, aacidTo, aacidEscaped, folderFrom, folderTo, folderEscaped)
}

/**
 * What `checkRecordLineRaw` returns for a valid record: its values are left in the buffer,
 * where `aacidRaw*`, `recordAacid` and `recordDataFolder` find them.
 */
export const RAW_OK: RecordLineCheck = Object.freeze({ ok: true, aacid: '', dataFolder: null })

/**
 * `checkRecordLine` for a caller that mostly needs no strings (the scan: a record's key is read
 * from its bytes, see record-key.ts): a valid record gives `RAW_OK`, and its `aacid` and
 * `data_folder` are decoded only when asked for, from the same `buf`, before the next check.
 */
export function checkRecordLineRaw(buf: Uint8Array, start: number, end: number): RecordLineCheck {
  return check(buf, start, end, true)
}

/**
 * Takes a record that record-lines.ts's WebAssembly check accepted in the buffer given next to
 * `recordAacid` and `recordDataFolder`: its values' raw positions, as `checkRecordLineRaw`
 * would have set them for the same line (the differential test of record-lines.c holds it to
 * that). Returns `RAW_OK`.
 */
export function acceptedRecord(
  aacidFrom: number,
  aacidTo: number,
  aacidEscaped: boolean,
  folderFrom: number,
  folderTo: number,
  folderEscaped: boolean,
): RecordLineCheck {
  aacidRawFrom = aacidFrom
  aacidRawTo = aacidTo
  aacidRawEscaped = aacidEscaped
  folderRawFrom = folderFrom
  folderRawTo = folderTo
  folderRawEscaped = folderEscaped
  return RAW_OK
}

/** The decoded `aacid` of the record `checkRecordLineRaw` just accepted in `buf`. */
export function recordAacid(buf: Uint8Array): string {
  return stringValue(buf, aacidRawFrom, aacidRawTo, aacidRawEscaped)
}

/** The decoded `data_folder` of that record, null when it names none. */
export function recordDataFolder(buf: Uint8Array): string | null {
  return folderRawFrom < 0 ? null : stringValue(buf, folderRawFrom, folderRawTo, folderRawEscaped)
}

/** After the top-level value: only whitespace may follow. */
function endOfLine(buf: Uint8Array, i: number, end: number): number {
  i = skipWs(buf, i, end)
  return i < end ? fail(i, 'unexpected data after the JSON value') : i
}
