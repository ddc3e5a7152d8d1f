/**
 * The standard's rules for one record of a metadata file, beyond JSON well-formedness:
 * its AACID belongs to the file's collection and lies in the file's range, and its
 * `data_folder` is a bare data-folder name of the same collection whose range contains it.
 */
import { AACID_MAX_LENGTH, AacError, parseAacId, parseDataFolderName, parseTimestamp, type DataFolder } from '../aac/index.js'

export interface FileContext {
  collection: string
  fromS: number
  toS: number
}

export interface RuleViolation {
  code: string
  message: string
}

// The hot path of a scan: one regex per record for the file's collection, and a memo of the
// timestamps already seen. Anything it does not accept goes through parseAacId for the exact error.
// The id may not end in '_' (it would run into the `__` before the shortuuid).
let fastCollection = ''
let fastRe = /$^/
const secondsOf = new Map<string, number>()
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
  const ts = m[1]!
  let t = secondsOf.get(ts)
  if (t === undefined) {
    try {
      t = parseTimestamp(ts).seconds
    } catch {
      return null
    }
    if (secondsOf.size > 100_000) secondsOf.clear()
    secondsOf.set(ts, t)
  }
  return t
}

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
