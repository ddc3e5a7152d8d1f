/**
 * The standard's rules for one record of a metadata file, beyond JSON well-formedness:
 * its AACID belongs to the file's collection and lies in the file's range, and its
 * `data_folder` is a bare data-folder name of the same collection whose range contains it.
 */
import { AACID_MAX_LENGTH, AacError, parseAacId, parseDataFolderName, type DataFolder } from '../aac/index.js'

export interface FileContext {
  collection: string
  fromS: number
  toS: number
}

export interface RuleViolation {
  code: string
  message: string
}

// The hot path of a scan: the AACID's shape checked on the bytes of the line (a regular
// expression, or the same test on the decoded string, cost a tenth of a scan's CPU), and its
// timestamp read by arithmetic. It accepts exactly
//   ^aacid__{collection}__\d{8}T\d{6}Z__(?:{id}__)?[0-9A-Za-z]+$
// where the id is printable ASCII without `/` or `\` and does not end in `_` (it would run into
// the `__` before the shortuuid): bytes that are all ASCII, so they are the decoded AACID too.
// Anything else goes through parseAacId for the exact error.
let fastCollection = ''
let fastPrefix = new Uint8Array(0)
let lastFolder: DataFolder | null = null

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a)
}

/**
 * The AACID's timestamp in seconds when the AACID written at `b[from, to)` passes the fast check, else null.
 */
function fastSeconds(ctx: FileContext, b: Uint8Array, from: number, to: number): number | null {
  if (ctx.collection !== fastCollection) {
    fastCollection = ctx.collection
    fastPrefix = new TextEncoder().encode(`aacid__${ctx.collection}__`)
  }
  const prefix = fastPrefix
  if (to - from > AACID_MAX_LENGTH) return null
  const ts = from + prefix.length
  const rest = ts + 18 // after `{timestamp}__`
  if (rest >= to) return null
  for (let k = 0; k < prefix.length; k++) if (b[from + k] !== prefix[k]) return null
  for (let k = 0; k < 15; k++) {
    const c = b[ts + k]!
    if (k === 8 ? c !== 0x54 /* T */ : !isDigit(c)) return null
  }
  if (b[ts + 15] !== 0x5a /* Z */ || b[ts + 16] !== 0x5f || b[ts + 17] !== 0x5f) return null
  // The shortuuid is the trailing run of letters and digits; anything before it is `{id}__`.
  let j = to
  while (j > rest && isAlnum(b[j - 1]!)) j--
  if (j === to) return null
  if (j > rest) {
    const idEnd = j - 2
    if (idEnd <= rest || b[idEnd] !== 0x5f || b[idEnd + 1] !== 0x5f || b[idEnd - 1] === 0x5f) return null
    for (let k = rest; k < idEnd; k++) {
      const c = b[k]!
      if (c < 0x21 || c > 0x7e || c === 0x2f /* / */ || c === 0x5c /* \ */) return null
    }
  }
  return utcSeconds(b, ts)
}

/** Days since the epoch of the last date read: the records of a file share a few dates. */
let lastDate = -1
let lastDays = 0

/**
 * The `YYYYMMDDTHHMMSSZ` (digits already checked) at `b[at]` to seconds since the epoch, or
 * null when it is not a real date and time; by arithmetic (days from the civil date), as Date
 * is far too slow for a million records.
 */
function utcSeconds(b: Uint8Array, at: number): number | null {
  const d = (i: number): number => b[at + i]! - 48
  const y = d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3)
  const mo = d(4) * 10 + d(5)
  const day = d(6) * 10 + d(7)
  const h = d(9) * 10 + d(10)
  const mi = d(11) * 10 + d(12)
  const se = d(13) * 10 + d(14)
  if (h > 23 || mi > 59 || se > 59) return null
  const date = y * 10000 + mo * 100 + day
  if (date !== lastDate) {
    if (y < 1970 || mo < 1 || mo > 12 || day < 1) return null
    const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
    if (day > (mo === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[mo - 1]!)) return null
    // Howard Hinnant's days_from_civil.
    const yy = mo <= 2 ? y - 1 : y
    const era = Math.floor(yy / 400)
    const yoe = yy - era * 400
    const doy = Math.floor((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5) + day - 1
    const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
    lastDays = era * 146097 + doe - 719468
    lastDate = date
  }
  return lastDays * 86400 + h * 3600 + mi * 60 + se
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/** After a check that passed: the AACID's timestamp in seconds since the epoch (the record's key). */
export let ruleSeconds = 0

/**
 * `raw[rawFrom, rawTo)`, when given, is the AACID as written in the line (JSON string content,
 * escapes not decoded; see record-line.ts), for the fast path.
 */
export function checkRecordRules(
  ctx: FileContext,
  aacid: string,
  dataFolder: string | null,
  raw?: Uint8Array,
  rawFrom = 0,
  rawTo = 0,
): RuleViolation | null {
  return checkRules(ctx, aacid, null, dataFolder, raw, rawFrom, rawTo)
}

/**
 * After a check that passed: whether the AACID passed on the fast path, which proves its bytes
 * (`raw[rawFrom, rawTo)`) are ASCII and its text, so they can stand for it (record-key.ts).
 */
export let ruleFast = false

/**
 * `checkRecordRules` for an AACID given by its bytes alone (`raw[rawFrom, rawTo)`, as written);
 * `text` decodes it, called only when the fast path cannot decide or a message names it.
 */
export function checkRawRecordRules(
  ctx: FileContext,
  text: () => string,
  dataFolder: string | null,
  raw: Uint8Array,
  rawFrom: number,
  rawTo: number,
): RuleViolation | null {
  return checkRules(ctx, null, text, dataFolder, raw, rawFrom, rawTo)
}

function checkRules(
  ctx: FileContext,
  aacidText: string | null,
  text: (() => string) | null,
  dataFolder: string | null,
  raw: Uint8Array | undefined,
  rawFrom: number,
  rawTo: number,
): RuleViolation | null {
  let t = raw !== undefined ? fastSeconds(ctx, raw, rawFrom, rawTo) : null
  const fast = t !== null
  if (t === null) {
    const aacid = (aacidText ??= text!())
    let id
    try {
      id = parseAacId(aacid)
    } catch (e) {
      return { code: e instanceof AacError ? e.code : 'invalid-aacid', message: (e as Error).message }
    }
    if (id.collection !== ctx.collection) {
      return {
        code: 'aacid-wrong-collection',
        message: `AACID belongs to collection ${id.collection}, not to this file's ${ctx.collection}`,
      }
    }
    t = id.timestamp.seconds
  }
  if (t < ctx.fromS || t > ctx.toS) {
    return {
      code: 'aacid-out-of-range',
      message: `AACID timestamp ${(aacidText ?? text!()).split('__')[2]} lies outside the file's range`,
    }
  }
  if (dataFolder !== null) {
    if (
      dataFolder.includes('/') ||
      dataFolder.includes('\\') ||
      dataFolder.includes('\0') ||
      dataFolder === '.' ||
      dataFolder === '..' ||
      dataFolder.includes('..')
    ) {
      return {
        code: 'invalid-data-folder',
        message: `data_folder ${JSON.stringify(dataFolder)} must be a bare folder name, not a path`,
      }
    }
    let folder: DataFolder
    try {
      // Records of a files collection name a handful of folders, over and over.
      folder = lastFolder?.name === dataFolder ? lastFolder : (lastFolder = parseDataFolderName(dataFolder))
    } catch (e) {
      return { code: 'invalid-data-folder', message: (e as Error).message }
    }
    if (folder.range.collection !== ctx.collection) {
      return {
        code: 'data-folder-wrong-collection',
        message: `data_folder ${dataFolder} belongs to collection ${folder.range.collection}, not ${ctx.collection}`,
      }
    }
    if (t < folder.range.from.seconds || t > folder.range.to.seconds) {
      return {
        code: 'data-folder-out-of-range',
        message: `data_folder ${dataFolder} does not contain the record's timestamp ${(aacidText ?? text!()).split('__')[2]}`,
      }
    }
  }
  ruleSeconds = t
  ruleFast = fast
  return null
}
