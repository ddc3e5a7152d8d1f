/**
 * The AAC naming rules (docs/aac-rules.md), as pure parse/format functions.
 *
 * AACID:  aacid__{collection}__{timestamp}__{collection-specific id}__{shortuuid}
 *         aacid__{collection}__{timestamp}__{shortuuid}      (id dropped to fit 150 chars)
 * Range:  aacid__{collection}__{from}--{to}                  (`–` U+2013 in the written standard)
 */
import { randomBytes } from 'node:crypto'
import { AacseedError } from '../errors.js'

export type AacErrorCode =
  | 'invalid-collection'
  | 'invalid-timestamp'
  | 'invalid-aacid'
  | 'aacid-too-long'
  | 'invalid-shortuuid'
  | 'invalid-range'
  | 'range-reversed'
  | 'invalid-meta-file-name'
  | 'invalid-data-folder-name'
  | 'invalid-torrent-file-name'

export class AacError extends AacseedError {
  declare readonly code: AacErrorCode
  constructor(code: AacErrorCode, message: string) {
    super(code, message)
  }
}

export const AACID_MAX_LENGTH = 150
export const SHORTUUID_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
const SHORTUUID_LENGTH = 22

/** A compact UTC timestamp, kept both as written and as seconds since the epoch for range math. */
export interface AacTimestamp {
  readonly text: string
  readonly seconds: number
}

export interface AacId {
  text: string
  collection: string
  timestamp: AacTimestamp
  /** The source's own id, or null in the 4-part form. */
  id: string | null
  shortuuid: string
}

export interface AacRange {
  collection: string
  from: AacTimestamp
  to: AacTimestamp
}

export type MetaFileExtension = '.jsonl.seekable.zst' | '.jsonl.zst' | '.jsonl.zstd'
// Longest first: `.jsonl.zst` is a suffix of nothing else, but order documents intent.
export const META_FILE_EXTENSIONS: readonly MetaFileExtension[] = [
  '.jsonl.seekable.zst',
  '.jsonl.zst',
  '.jsonl.zstd',
]

export interface MetaFile {
  kind: 'meta'
  name: string
  prefix: string
  range: AacRange
  extension: MetaFileExtension
}

export interface DataFolder {
  kind: 'data'
  name: string
  prefix: string
  range: AacRange
}

export type ReleaseName = MetaFile | DataFolder

// Letters, digits and single underscores: `__` separates the parts of an AACID.
const NAME_RE = /^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*$/
const TIMESTAMP_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/
const SHORTUUID_RE = /^[0-9A-Za-z]+$/
// The id becomes part of a file name inside a data folder; nothing that could leave it or hide in it.
const ID_RE = /^[\x21-\x7e]+$/

export function isCollectionName(s: string): boolean {
  return NAME_RE.test(s)
}

export function parseCollection(s: string): string {
  if (!NAME_RE.test(s)) {
    throw new AacError(
      'invalid-collection',
      `invalid collection name ${JSON.stringify(s)}: use ASCII letters, digits and single underscores`,
    )
  }
  return s
}

export function parseTimestamp(s: string): AacTimestamp {
  const m = TIMESTAMP_RE.exec(s)
  if (!m)
    throw new AacError(
      'invalid-timestamp',
      `invalid timestamp ${JSON.stringify(s)}: expected YYYYMMDDTHHMMSSZ`,
    )
  const y = Number(m[1])
  const mo = Number(m[2])
  const d = Number(m[3])
  const h = Number(m[4])
  const mi = Number(m[5])
  const se = Number(m[6])
  // Date.UTC rolls 20230231 over into March: each field is checked against its range instead
  // (a Date built to read them back cost a tenth of reading a million-entry upstream list).
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
  if (
    y < 1970 ||
    mo < 1 ||
    mo > 12 ||
    d < 1 ||
    d > (mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1]!) ||
    h > 23 ||
    mi > 59 ||
    se > 59
  ) {
    throw new AacError(
      'invalid-timestamp',
      `invalid timestamp ${JSON.stringify(s)}: not a real UTC date and time`,
    )
  }
  return { text: s, seconds: Date.UTC(y, mo - 1, d, h, mi, se) / 1000 }
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

export function formatTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '')
}

export function timestampFromSeconds(seconds: number): AacTimestamp {
  return parseTimestamp(formatTimestamp(new Date(seconds * 1000)))
}

export function parseShortuuid(s: string): string {
  if (!SHORTUUID_RE.test(s))
    throw new AacError('invalid-shortuuid', `invalid shortuuid ${JSON.stringify(s)}: expected [0-9A-Za-z]+`)
  return s
}

/** Python `shortuuid.uuid()`: a random UUID4 in base57, most significant digit first, padded to 22. */
export function newShortuuid(): string {
  const b = randomBytes(16)
  b[6] = (b[6]! & 0x0f) | 0x40 // version 4
  b[8] = (b[8]! & 0x3f) | 0x80 // RFC 4122 variant
  return encodeShortuuid(BigInt('0x' + b.toString('hex')))
}

export function encodeShortuuid(n: bigint): string {
  let out = ''
  const base = BigInt(SHORTUUID_ALPHABET.length)
  while (n > 0n) {
    out = SHORTUUID_ALPHABET[Number(n % base)]! + out
    n /= base
  }
  return out.padStart(SHORTUUID_LENGTH, SHORTUUID_ALPHABET[0])
}

export function decodeShortuuid(s: string): bigint {
  let n = 0n
  const base = BigInt(SHORTUUID_ALPHABET.length)
  for (const ch of s) {
    const d = SHORTUUID_ALPHABET.indexOf(ch)
    if (d < 0) throw new AacError('invalid-shortuuid', `${JSON.stringify(s)} is not base57 shortuuid`)
    n = n * base + BigInt(d)
  }
  return n
}

export function parseAacId(s: string): AacId {
  if (s.length > AACID_MAX_LENGTH) {
    throw new AacError('aacid-too-long', `AACID is ${s.length} characters, longer than ${AACID_MAX_LENGTH}`)
  }
  const parts = s.split('__')
  if (parts[0] !== 'aacid' || parts.length < 4) {
    throw new AacError(
      'invalid-aacid',
      `invalid AACID ${JSON.stringify(s)}: expected aacid__{collection}__{timestamp}__[{id}__]{shortuuid}`,
    )
  }
  // The collection cannot contain `__` and the shortuuid has no `_`, so everything between
  // the timestamp and the last part is the id, even if the id itself contains `__`.
  const collection = parseCollectionIn(parts[1]!, s)
  const timestamp = parseTimestampIn(parts[2]!, s)
  const shortuuid = parts[parts.length - 1]!
  if (!SHORTUUID_RE.test(shortuuid)) {
    throw new AacError(
      'invalid-shortuuid',
      `invalid AACID ${JSON.stringify(s)}: shortuuid ${JSON.stringify(shortuuid)} is not [0-9A-Za-z]+`,
    )
  }
  let id: string | null = null
  if (parts.length > 4) {
    id = parts.slice(3, -1).join('__')
    if (!ID_RE.test(id)) {
      throw new AacError(
        'invalid-aacid',
        `invalid AACID ${JSON.stringify(s)}: id ${JSON.stringify(id)} must be printable ASCII without spaces`,
      )
    }
    if (id.includes('/') || id.includes('\\')) {
      throw new AacError(
        'invalid-aacid',
        `invalid AACID ${JSON.stringify(s)}: id must not contain a path separator`,
      )
    }
  }
  return { text: s, collection, timestamp, id, shortuuid }
}

function parseCollectionIn(c: string, whole: string): string {
  if (!NAME_RE.test(c))
    throw new AacError(
      'invalid-collection',
      `invalid collection ${JSON.stringify(c)} in ${JSON.stringify(whole)}`,
    )
  return c
}

function parseTimestampIn(t: string, whole: string): AacTimestamp {
  try {
    return parseTimestamp(t)
  } catch (e) {
    throw new AacError('invalid-timestamp', `${(e as Error).message} in ${JSON.stringify(whole)}`)
  }
}

export function formatAacId(
  collection: string,
  timestamp: string,
  id: string | null,
  shortuuid: string,
): string {
  return id === null
    ? `aacid__${collection}__${timestamp}__${shortuuid}`
    : `aacid__${collection}__${timestamp}__${id}__${shortuuid}`
}

/**
 * A new AACID. The standard keeps AACIDs within 150 characters by truncating the
 * collection-specific id, or dropping it when nothing of it would fit.
 */
export function newAacId(
  collection: string,
  opts: { id?: string | null; timestamp?: string; shortuuid?: string } = {},
): AacId {
  parseCollection(collection)
  const ts = opts.timestamp ?? formatTimestamp(new Date())
  parseTimestamp(ts)
  const uuid = opts.shortuuid ?? newShortuuid()
  parseShortuuid(uuid)
  let id = opts.id ?? null
  if (id !== null) {
    const room = AACID_MAX_LENGTH - formatAacId(collection, ts, '', uuid).length
    id = id.slice(0, Math.max(0, room))
    // A cut must not leave a trailing `_` that would merge into the next `__` separator.
    id = id.replace(/_+$/, '')
    if (id === '') id = null
  }
  const text = formatAacId(collection, ts, id, uuid)
  if (text.length > AACID_MAX_LENGTH) {
    throw new AacError(
      'aacid-too-long',
      `collection name too long: even without an id the AACID has ${text.length} characters`,
    )
  }
  return parseAacId(text)
}

/** Accepts `--` (real releases) and `–` U+2013 (the written standard). */
export function parseRange(s: string): AacRange {
  const m = /^aacid__([^_].*?)__(\d{8}T\d{6}Z)(?:--|\u2013)(\d{8}T\d{6}Z)$/.exec(s)
  if (!m)
    throw new AacError(
      'invalid-range',
      `invalid AACID range ${JSON.stringify(s)}: expected aacid__{collection}__{from}--{to}`,
    )
  const collection = parseCollectionIn(m[1]!, s)
  const from = parseTimestampIn(m[2]!, s)
  const to = parseTimestampIn(m[3]!, s)
  if (from.seconds > to.seconds)
    throw new AacError(
      'range-reversed',
      `invalid AACID range ${JSON.stringify(s)}: ${from.text} is after ${to.text}`,
    )
  return { collection, from, to }
}

/** Always writes `--`, as real releases do. */
export function formatRange(r: AacRange): string {
  return `aacid__${r.collection}__${r.from.text}--${r.to.text}`
}

export function makeRange(collection: string, from: string, to: string): AacRange {
  return parseRange(`aacid__${collection}__${from}--${to}`)
}

export function rangeContains(r: AacRange, t: AacTimestamp): boolean {
  return t.seconds >= r.from.seconds && t.seconds <= r.to.seconds
}

export function rangeContainsAacId(r: AacRange, id: AacId): boolean {
  return id.collection === r.collection && rangeContains(r, id.timestamp)
}

export function rangeContainsRange(outer: AacRange, inner: AacRange): boolean {
  return (
    outer.collection === inner.collection &&
    outer.from.seconds <= inner.from.seconds &&
    inner.to.seconds <= outer.to.seconds
  )
}

export function rangesOverlap(a: AacRange, b: AacRange): boolean {
  return a.collection === b.collection && a.from.seconds <= b.to.seconds && b.from.seconds <= a.to.seconds
}

/** The inclusive intersection of two ranges of one collection, or null. */
export function rangeIntersection(a: AacRange, b: AacRange): AacRange | null {
  if (!rangesOverlap(a, b)) return null
  const from = a.from.seconds >= b.from.seconds ? a.from : b.from
  const to = a.to.seconds <= b.to.seconds ? a.to : b.to
  return { collection: a.collection, from, to }
}

const RELEASE_RE = /^([A-Za-z0-9]+(?:_[A-Za-z0-9]+)*)_(meta|data)__(aacid__.*)$/

export function parseMetaFileName(name: string): MetaFile {
  const ext = META_FILE_EXTENSIONS.find((e) => name.endsWith(e))
  const m = ext ? RELEASE_RE.exec(name.slice(0, -ext.length)) : null
  if (!ext || !m || m[2] !== 'meta') {
    throw new AacError(
      'invalid-meta-file-name',
      `invalid metadata file name ${JSON.stringify(name)}: expected {prefix}_meta__aacid__{collection}__{from}--{to}.jsonl.zst (or .jsonl.zstd, .jsonl.seekable.zst)`,
    )
  }
  return {
    kind: 'meta',
    name,
    prefix: m[1]!,
    range: parseRangeIn(m[3]!, name, 'invalid-meta-file-name'),
    extension: ext,
  }
}

export function parseDataFolderName(name: string): DataFolder {
  const m = RELEASE_RE.exec(name)
  if (!m || m[2] !== 'data') {
    throw new AacError(
      'invalid-data-folder-name',
      `invalid data folder name ${JSON.stringify(name)}: expected {prefix}_data__aacid__{collection}__{from}--{to}`,
    )
  }
  return { kind: 'data', name, prefix: m[1]!, range: parseRangeIn(m[3]!, name, 'invalid-data-folder-name') }
}

function parseRangeIn(s: string, name: string, code: AacErrorCode): AacRange {
  try {
    return parseRange(s)
  } catch (e) {
    const inner = e as AacError
    throw new AacError(
      inner.code === 'range-reversed' ? 'range-reversed' : code,
      `${inner.message} in ${JSON.stringify(name)}`,
    )
  }
}

/** Classifies a directory entry of a release root by its name alone. */
export function parseReleaseName(name: string, isDirectory: boolean): ReleaseName {
  return isDirectory ? parseDataFolderName(name) : parseMetaFileName(name)
}

export function formatMetaFileName(
  prefix: string,
  range: AacRange,
  extension: MetaFileExtension = '.jsonl.zst',
): string {
  return `${prefix}_meta__${formatRange(range)}${extension}`
}

export function formatDataFolderName(prefix: string, range: AacRange): string {
  return `${prefix}_data__${formatRange(range)}`
}

/** The standard names a torrent by the original file or folder name plus `.torrent`. */
export function torrentFileName(release: ReleaseName | string): string {
  return `${typeof release === 'string' ? release : release.name}.torrent`
}

export function parseTorrentFileName(name: string): ReleaseName {
  if (!name.endsWith('.torrent'))
    throw new AacError(
      'invalid-torrent-file-name',
      `invalid torrent file name ${JSON.stringify(name)}: must end in .torrent`,
    )
  const base = name.slice(0, -'.torrent'.length)
  try {
    return /_meta__/.test(base) && META_FILE_EXTENSIONS.some((e) => base.endsWith(e))
      ? parseMetaFileName(base)
      : parseDataFolderName(base)
  } catch (e) {
    throw new AacError(
      'invalid-torrent-file-name',
      `invalid torrent file name ${JSON.stringify(name)}: ${(e as Error).message}`,
    )
  }
}
