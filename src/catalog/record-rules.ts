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

// The hot path of a scan: one regex per record for the file's collection, and the timestamp
// read by arithmetic. Anything it does not accept goes through parseAacId for the exact error.
// The id may not end in '_' (it would run into the `__` before the shortuuid).
let fastCollection = ''
let fastRe = /$^/
let lastFolder: DataFolder | null = null

function fastSeconds(ctx: FileContext, aacid: string): number | null {
  if (ctx.collection !== fastCollection) {
    fastCollection = ctx.collection
    fastRe = new RegExp(`^aacid__${ctx.collection}__(\\d{8}T\\d{6}Z)__(?:([\\x21-\\x7e]*[\\x21-\\x5e\\x60-\\x7e])__)?[0-9A-Za-z]+$`)
  }
  if (aacid.length > AACID_MAX_LENGTH) return null
  const m = fastRe.exec(aacid)
  if (m === null) return null
  const id = m[2]
  if (id !== undefined && (id.includes('/') || id.includes('\\'))) return null
  return utcSeconds(m[1]!)
}

/**
 * `YYYYMMDDTHHMMSSZ` to seconds since the epoch, or null when it is not a real date and time;
 * by arithmetic (days from the civil date), as Date is far too slow for a million records.
 */
function utcSeconds(ts: string): number | null {
  const d = (i: number): number => ts.charCodeAt(i) - 48
  const y = d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3)
  const mo = d(4) * 10 + d(5)
  const day = d(6) * 10 + d(7)
  const h = d(9) * 10 + d(10)
  const mi = d(11) * 10 + d(12)
  const se = d(13) * 10 + d(14)
  if (y < 1970 || mo < 1 || mo > 12 || day < 1 || h > 23 || mi > 59 || se > 59) return null
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
  if (day > (mo === 2 ? (leap ? 29 : 28) : DAYS_IN_MONTH[mo - 1]!)) return null
  // Howard Hinnant's days_from_civil.
  const yy = mo <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const doy = Math.floor((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  const days = era * 146097 + doe - 719468
  return days * 86400 + h * 3600 + mi * 60 + se
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

export function checkRecordRules(ctx: FileContext, aacid: string, dataFolder: string | null): RuleViolation | null {
  let t = fastSeconds(ctx, aacid)
  if (t === null) {
    let id
    try {
      id = parseAacId(aacid)
    } catch (e) {
      return { code: e instanceof AacError ? e.code : 'invalid-aacid', message: (e as Error).message }
    }
    if (id.collection !== ctx.collection) {
      return { code: 'aacid-wrong-collection', message: `AACID belongs to collection ${id.collection}, not to this file's ${ctx.collection}` }
    }
    t = id.timestamp.seconds
  }
  if (t < ctx.fromS || t > ctx.toS) {
    return { code: 'aacid-out-of-range', message: `AACID timestamp ${aacid.split('__')[2]} lies outside the file's range` }
  }
  if (dataFolder !== null) {
    if (dataFolder.includes('/') || dataFolder.includes('\\') || dataFolder.includes('\0') || dataFolder === '.' || dataFolder === '..' || dataFolder.includes('..')) {
      return { code: 'invalid-data-folder', message: `data_folder ${JSON.stringify(dataFolder)} must be a bare folder name, not a path` }
    }
    let folder: DataFolder
    try {
      // Records of a files collection name a handful of folders, over and over.
      folder = lastFolder?.name === dataFolder ? lastFolder : (lastFolder = parseDataFolderName(dataFolder))
    } catch (e) {
      return { code: 'invalid-data-folder', message: (e as Error).message }
    }
    if (folder.range.collection !== ctx.collection) {
      return { code: 'data-folder-wrong-collection', message: `data_folder ${dataFolder} belongs to collection ${folder.range.collection}, not ${ctx.collection}` }
    }
    if (t < folder.range.from.seconds || t > folder.range.to.seconds) {
      return { code: 'data-folder-out-of-range', message: `data_folder ${dataFolder} does not contain the record's timestamp ${aacid.split('__')[2]}` }
    }
  }
  return null
}
