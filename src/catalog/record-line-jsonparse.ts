/**
 * Reference implementation of the record-line check with JSON.parse: slow on big files,
 * but obviously right; tests compare the fast checker against it.
 */
export type RecordLineError =
  'invalid-json' | 'not-an-object' | 'unexpected-key' | 'duplicate-key' | 'missing-key' | 'invalid-field-type'

export type RecordLineCheck =
  | { ok: true; aacid: string; dataFolder: string | null }
  | { ok: false; code: RecordLineError; message: string; column: number }

const ALLOWED = new Set(['aacid', 'metadata', 'data_folder'])

export function checkRecordLineWithJsonParse(text: string): RecordLineCheck {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch (e) {
    return { ok: false, code: 'invalid-json', message: `invalid JSON: ${(e as Error).message}`, column: 1 }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { ok: false, code: 'not-an-object', message: 'record is not a JSON object', column: 1 }
  const o = v as Record<string, unknown>
  for (const k of Object.keys(o)) {
    if (!ALLOWED.has(k))
      return {
        ok: false,
        code: 'unexpected-key',
        message: `unexpected key ${JSON.stringify(k)}: only aacid, metadata and data_folder are allowed`,
        column: 1,
      }
  }
  if (!('aacid' in o)) return { ok: false, code: 'missing-key', message: 'missing key "aacid"', column: 1 }
  if (!('metadata' in o))
    return { ok: false, code: 'missing-key', message: 'missing key "metadata"', column: 1 }
  if (typeof o.aacid !== 'string')
    return { ok: false, code: 'invalid-field-type', message: '"aacid" is not a string', column: 1 }
  if ('data_folder' in o && typeof o.data_folder !== 'string')
    return { ok: false, code: 'invalid-field-type', message: '"data_folder" is not a string', column: 1 }
  return { ok: true, aacid: o.aacid, dataFolder: typeof o.data_folder === 'string' ? o.data_folder : null }
}
