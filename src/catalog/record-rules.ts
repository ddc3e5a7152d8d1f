/**
 * The standard's rules for one record of a metadata file, beyond JSON well-formedness:
 * its AACID belongs to the file's collection and lies in the file's range, and its
 * `data_folder` is a bare data-folder name of the same collection whose range contains it.
 */
import { AacError, parseAacId, parseDataFolderName, type DataFolder } from '../aac/index.js'

export interface FileContext {
  collection: string
  fromS: number
  toS: number
}

export interface RuleViolation {
  code: string
  message: string
}

// The hot path of a scan, the AACID's shape checked on the bytes of the line and its timestamp
// read by arithmetic, is done with the line's JSON in WebAssembly (AACID_FAST in
// record-lines.c): a regular expression, or the same test on the decoded string, cost a tenth
// of a scan's CPU, and that test in JavaScript still 0.3 s of CPU for a million records. Any
// AACID it does not pass goes through parseAacId here, for the exact verdict.
let lastFolder: DataFolder | null = null

/** The bytes every fast-path AACID of a file of `collection` starts with (see record-lines.c). */
export function aacidPrefix(collection: string): Uint8Array {
  return new TextEncoder().encode(`aacid__${collection}__`)
}

/** After a check that passed: the AACID's timestamp in seconds since the epoch (the record's key). */
export let ruleSeconds = 0

/** The rules for a record whose AACID is at hand as text. */
export function checkRecordRules(
  ctx: FileContext,
  aacid: string,
  dataFolder: string | null,
): RuleViolation | null {
  return checkRules(ctx, aacid, null, dataFolder, null)
}

/**
 * After a check that passed: whether the AACID passed on the fast path, which proves its bytes
 * are ASCII and its text, so they can stand for it (record-key.ts).
 */
export let ruleFast = false

/**
 * `checkRecordRules` for an AACID given by `text`, which decodes it, called only when `seconds`
 * is null or a message names it. `seconds` is the AACID's timestamp when it passed the fast
 * path (AACID_FAST in record-lines.c), which proves it valid and of `ctx.collection`.
 */
export function checkRawRecordRules(
  ctx: FileContext,
  text: () => string,
  dataFolder: string | null,
  seconds: number | null,
): RuleViolation | null {
  return checkRules(ctx, null, text, dataFolder, seconds)
}

function checkRules(
  ctx: FileContext,
  aacidText: string | null,
  text: (() => string) | null,
  dataFolder: string | null,
  seconds: number | null,
): RuleViolation | null {
  let t = seconds
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
