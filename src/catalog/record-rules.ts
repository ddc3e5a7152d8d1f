/**
 * The standard's rules for one record of a metadata file, beyond JSON well-formedness:
 * its AACID belongs to the file's collection and lies in the file's range, and its
 * `data_folder` is a bare data-folder name of the same collection whose range contains it.
 */
import { AacError, parseAacId, parseDataFolderName } from '../aac/index.js'

export interface FileContext {
  collection: string
  fromS: number
  toS: number
}

export interface RuleViolation {
  code: string
  message: string
}

export function checkRecordRules(ctx: FileContext, aacid: string, dataFolder: string | null): RuleViolation | null {
  let id
  try {
    id = parseAacId(aacid)
  } catch (e) {
    return { code: e instanceof AacError ? e.code : 'invalid-aacid', message: (e as Error).message }
  }
  if (id.collection !== ctx.collection) {
    return { code: 'aacid-wrong-collection', message: `AACID belongs to collection ${id.collection}, not to this file's ${ctx.collection}` }
  }
  const t = id.timestamp.seconds
  if (t < ctx.fromS || t > ctx.toS) {
    return { code: 'aacid-out-of-range', message: `AACID timestamp ${id.timestamp.text} lies outside the file's range` }
  }
  if (dataFolder !== null) {
    if (dataFolder.includes('/') || dataFolder.includes('\\') || dataFolder.includes('\0') || dataFolder === '.' || dataFolder === '..' || dataFolder.includes('..')) {
      return { code: 'invalid-data-folder', message: `data_folder ${JSON.stringify(dataFolder)} must be a bare folder name, not a path` }
    }
    let folder
    try {
      folder = parseDataFolderName(dataFolder)
    } catch (e) {
      return { code: 'invalid-data-folder', message: (e as Error).message }
    }
    if (folder.range.collection !== ctx.collection) {
      return { code: 'data-folder-wrong-collection', message: `data_folder ${dataFolder} belongs to collection ${folder.range.collection}, not ${ctx.collection}` }
    }
    if (t < folder.range.from.seconds || t > folder.range.to.seconds) {
      return { code: 'data-folder-out-of-range', message: `data_folder ${dataFolder} does not contain the record's timestamp ${id.timestamp.text}` }
    }
  }
  return null
}
