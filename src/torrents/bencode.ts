/**
 * Bencoding (BEP 3). Encoding is canonical: dictionary keys sorted by their raw bytes,
 * integers without leading zeros. Decoding is strict because it reads untrusted upstream
 * .torrent files: anything a canonical encoder would not write is rejected, with the byte
 * offset, so that re-encoding a decoded value always gives back the same bytes.
 */
import { TorrentError } from './errors.js'

export type BencodeValue = Buffer | string | number | bigint | BencodeValue[] | BencodeDict | Bencoded
/**
 * A value already bencoded elsewhere, written byte for byte: an upstream info dictionary is
 * kept as it was written, because its SHA-1 is the infohash the swarm knows.
 */
export class Bencoded {
  constructor(readonly bytes: Buffer) {}
}
/** `undefined` values are skipped when encoding, so optional keys can be written inline. */
export interface BencodeDict {
  [key: string]: BencodeValue | undefined
}

/**
 * What `decode` returns: byte strings stay bytes (their encoding is the caller's business) and
 * share memory with the input; integers are numbers when safe, bigints beyond.
 */
export type Decoded = Buffer | number | bigint | Decoded[] | DecodedDict
export interface DecodedDict {
  [key: string]: Decoded
}

export class BencodeError extends TorrentError {
  readonly offset: number
  constructor(message: string, offset: number) {
    super('invalid-bencode', `invalid bencode at byte ${offset}: ${message}`)
    this.offset = offset
  }
}

export function encode(value: BencodeValue): Buffer {
  const out = new Encoder()
  out.value(value)
  return out.finish()
}

// Text runs are joined into one string and written with one call at the end, binary values kept
// as they are: a small Buffer per string and per length prefix cost 8-18 ms for a 350-file info
// dictionary, most of a `torrents make` process's work after hashing.
class Encoder {
  private readonly parts: Array<string | Uint8Array> = []
  private text = ''

  value(v: BencodeValue): void {
    if (typeof v === 'string') {
      this.text += `${utf8Length(v)}:${v}`
    } else if (Buffer.isBuffer(v)) {
      this.text += `${v.length}:`
      this.bytes(v)
    } else if (typeof v === 'number') {
      // A float or an unsafe integer here is a bug in the caller, not data.
      if (!Number.isSafeInteger(v)) throw new TypeError(`bencode: ${v} is not a safe integer; use a bigint`)
      this.text += `i${v}e`
    } else if (typeof v === 'bigint') {
      this.text += `i${v}e`
    } else if (v instanceof Bencoded) {
      this.bytes(v.bytes)
    } else if (Array.isArray(v)) {
      this.text += 'l'
      for (const item of v) this.value(item)
      this.text += 'e'
    } else if (v !== null && typeof v === 'object') {
      // BEP 3: "Keys must be strings and appear in sorted order (sorted as raw strings, not alphanumerics)".
      const keys = sortedKeys(v)
      this.text += 'd'
      for (const k of keys) {
        this.text += `${utf8Length(k)}:${k}`
        this.value(v[k]!)
      }
      this.text += 'e'
    } else {
      throw new TypeError(`bencode: cannot encode ${v === null ? 'null' : typeof v}`)
    }
  }

  finish(): Buffer {
    this.flush()
    let length = 0
    for (const p of this.parts) length += typeof p === 'string' ? Buffer.byteLength(p, 'utf8') : p.length
    const buf = Buffer.allocUnsafe(length)
    let at = 0
    for (const p of this.parts) {
      if (typeof p === 'string') at += buf.write(p, at, 'utf8')
      else {
        buf.set(p, at)
        at += p.length
      }
    }
    return buf
  }

  private bytes(b: Uint8Array): void {
    this.flush()
    this.parts.push(b)
  }

  private flush(): void {
    if (this.text !== '') this.parts.push(this.text)
    this.text = ''
  }
}

// Printable ASCII: one byte a character (anything else is measured).
const ASCII = /^[ -~]*$/
const SURROGATE = /[\ud800-\udfff]/

function utf8Length(s: string): number {
  return ASCII.test(s) ? s.length : Buffer.byteLength(s, 'utf8')
}

/**
 * The keys of `v` with a value, in UTF-8 byte order. By insertion: dictionaries have a handful of
 * keys, and Array#sort with a comparator cost ~4 ms over the 350 two-key file entries of an
 * info dictionary in a fresh process.
 */
function sortedKeys(v: BencodeDict): string[] {
  const keys: string[] = []
  for (const k of Object.keys(v)) {
    if (v[k] === undefined) continue
    let i = keys.length
    while (i > 0 && compareUtf8(keys[i - 1]!, k) > 0) i--
    keys.splice(i, 0, k)
  }
  return keys
}

/**
 * Order by UTF-8 bytes. UTF-16 code units (JavaScript's own order) agree with it, except for
 * characters beyond U+FFFF (surrogate pairs) against U+E000–U+FFFF, and lone surrogates.
 */
function compareUtf8(a: string, b: string): number {
  if (SURROGATE.test(a) || SURROGATE.test(b))
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
  return a < b ? -1 : a > b ? 1 : 0
}

export interface DecodeOptions {
  /** Deepest nesting of lists and dictionaries accepted (the top level is depth 1). Default 32. */
  maxDepth?: number
  /**
   * Accept dictionary keys out of order. Some old tools wrote them so; the infohash is taken
   * from the raw bytes anyway. Duplicate keys are always rejected: they make a value ambiguous.
   */
  allowUnsortedKeys?: boolean
  /**
   * Dictionary keys as byte strings: each key is returned as a latin1 string, one character per
   * byte, so binary keys (a BEP 48 scrape's `files`, keyed by raw infohashes) survive;
   * `Buffer.from(key, 'latin1')` gives the bytes back. By default keys must be UTF-8.
   */
  byteKeys?: boolean
}

export function decode(buf: Uint8Array, opts: DecodeOptions = {}): Decoded {
  return decodeTopLevel(asBuffer(buf), opts).value
}

/**
 * Decodes a dictionary and also returns the exact input bytes of each of its values, because
 * an infohash is the SHA-1 of the `info` value as it was written, not as we would write it.
 */
export function decodeDict(
  bytes: Uint8Array,
  opts: DecodeOptions = {},
): { dict: DecodedDict; raw: Map<string, Buffer> } {
  const buf = asBuffer(bytes)
  if (buf[0] !== 0x64 /* d */) throw new BencodeError('expected a dictionary', 0)
  const { value, raw } = decodeTopLevel(buf, opts)
  return { dict: value as DecodedDict, raw }
}

// Other libraries (create-torrent, for one) hand out plain Uint8Arrays; a view costs no copy.
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const DEFAULT_MAX_DEPTH = 32
// Room for any 64-bit value with its sign; BEP 3 sets no limit, but no torrent needs more.
const MAX_INT_CHARS = 40

function decodeTopLevel(buf: Buffer, opts: DecodeOptions): { value: Decoded; raw: Map<string, Buffer> } {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH
  const sorted = !opts.allowUnsortedKeys
  const byteKeys = opts.byteKeys ?? false
  const raw = new Map<string, Buffer>()
  let pos = 0

  const fail = (message: string, at = pos): never => {
    throw new BencodeError(message, at)
  }

  // A declared length is checked against what is left of the input before it is used, so a
  // hostile "4294967295:" costs nothing. Byte strings are views into the input, not copies.
  const readLength = (): number => {
    const start = pos
    while (pos < buf.length && buf[pos]! >= 0x30 && buf[pos]! <= 0x39) {
      pos++
      // 15 digits are already far more than any input we could hold.
      if (pos - start > 15) fail('string length too long', start)
    }
    if (pos === start) fail('expected a string length', start)
    if (buf[start] === 0x30 && pos - start > 1) fail('string length with a leading zero', start)
    if (buf[pos] !== 0x3a /* : */) fail("expected ':' after a string length")
    const n = Number(buf.toString('latin1', start, pos))
    pos++
    if (n > buf.length - pos) fail(`string of ${n} bytes runs past the end of the input`, start)
    return n
  }

  const readBytes = (): Buffer => {
    const n = readLength()
    const b = buf.subarray(pos, pos + n)
    pos += n
    return b
  }

  const readInt = (): number | bigint => {
    const start = pos
    pos++ // 'i'
    // Bounded so that a megabyte of digits cannot make us parse a megabyte-long BigInt.
    let end = buf.subarray(pos, pos + MAX_INT_CHARS + 1).indexOf(0x65 /* e */)
    if (end < 0) fail(pos + MAX_INT_CHARS < buf.length ? 'integer too long' : 'unterminated integer', start)
    end += pos
    const text = buf.toString('latin1', pos, end)
    // Canonical: no leading zeros, no "-0", no "+", at least one digit.
    if (!/^(?:0|-?[1-9][0-9]*)$/.test(text))
      fail(`non-canonical integer ${JSON.stringify(text.slice(0, 40))}`, start)
    pos = end + 1
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : BigInt(text)
  }

  const readValue = (depth: number): Decoded => {
    if (pos >= buf.length) fail('unexpected end of input')
    const c = buf[pos]!
    if (c === 0x69 /* i */) return readInt()
    if (c >= 0x30 && c <= 0x39) return readBytes()
    if (c === 0x6c /* l */ || c === 0x64 /* d */) {
      if (depth >= maxDepth) fail(`nested deeper than ${maxDepth} levels`)
      return c === 0x6c ? readList(depth + 1) : readDictBody(depth + 1)
    }
    return fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`)
  }

  const readList = (depth: number): Decoded[] => {
    pos++ // 'l'
    const list: Decoded[] = []
    for (;;) {
      if (pos >= buf.length) fail('unterminated list')
      if (buf[pos] === 0x65) break
      list.push(readValue(depth))
    }
    pos++
    return list
  }

  const readDictBody = (depth: number): DecodedDict => {
    pos++ // 'd'
    // A null prototype: keys such as "__proto__" from untrusted input stay plain data.
    const dict = Object.create(null) as DecodedDict
    let prev: Buffer | null = null
    for (;;) {
      if (pos >= buf.length) fail('unterminated dictionary')
      if (buf[pos] === 0x65) break
      const keyAt = pos
      if (buf[pos]! < 0x30 || buf[pos]! > 0x39) fail('dictionary key is not a string')
      const keyBytes = readBytes()
      if (prev !== null) {
        const cmp = Buffer.compare(prev, keyBytes)
        if (cmp === 0) fail(`duplicate dictionary key ${JSON.stringify(keyBytes.toString('latin1'))}`, keyAt)
        if (cmp > 0 && sorted)
          fail(`dictionary key ${JSON.stringify(keyBytes.toString('latin1'))} out of order`, keyAt)
      }
      prev = keyBytes
      let key: string
      if (byteKeys) key = keyBytes.toString('latin1')
      else {
        try {
          key = utf8.decode(keyBytes)
        } catch {
          return fail('dictionary key is not UTF-8', keyAt)
        }
      }
      // With unsorted keys allowed, equal keys need not be adjacent.
      if (!sorted && Object.prototype.hasOwnProperty.call(dict, key))
        fail(`duplicate dictionary key ${JSON.stringify(key)}`, keyAt)
      const valueAt = pos
      dict[key] = readValue(depth)
      if (depth === 1) raw.set(key, buf.subarray(valueAt, pos))
    }
    pos++
    return dict
  }

  const value = readValue(0)
  if (pos !== buf.length) fail('trailing data after the value')
  return { value, raw }
}
