/**
 * Shared by the tests of the line checkers (record-line.test.ts, record-lines-wasm.test.ts):
 * the reference verdict of a line (JSON.parse), and a generator of record lines, valid and
 * broken, and of byte-level mutations. Not a test file itself.
 */
import type { RecordLineCheck, RecordLineError } from '../../src/catalog/record-line.js'

// -------------------------------------------------------------------------------------------
// The reference: JSON.parse for the grammar and the values, plus a scan of the top level of
// the (then known valid) text for duplicates, which JSON.parse silently merges.

const ALLOWED = new Set(['aacid', 'metadata', 'data_folder'])

export type Verdict =
  { ok: true; aacid: string; dataFolder: string | null } | { ok: false; code: RecordLineError }

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

export function reference(text: string): Verdict {
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

export function verdictOf(r: RecordLineCheck): Verdict {
  return r.ok ? r : { ok: false, code: r.code }
}

export const VALID_NUMBERS = [
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
export const INVALID_NUMBERS = [
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

export class Gen {
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
