/**
 * Reading an upstream list as it arrives: bytes in, batches of judged entries out, never the
 * whole list in memory. A 1,000,000-entry list is a few hundred megabytes of JSON; `JSON.parse`
 * of it costs gigabytes and blocks for tens of seconds, so it is tokenised by
 * `@streamparser/json` (a streaming parser with no dependencies; stream-json's own README says
 * it is not meant for hostile input). Each array element is judged by `classifyEntry` as soon
 * as it is complete and then dropped. The entry limit is checked as elements arrive, so a list
 * over it is refused the moment it is crossed.
 */
import { JSONParser } from '@streamparser/json'
import { isUtf8 } from 'node:buffer'
import { errorMessage } from '../errors.js'
import { MirrorError } from './errors.js'
import { displayLocation } from './fetch.js'
import { classifyEntry, tooManyEntries, type EntryVerdict, type ListContext } from './list.js'

/**
 * Checks that bytes arriving in chunks are UTF-8, a character cut at a chunk's end carried over
 * to the next. `isUtf8` (simdutf) checks without building the string that `TextDecoder` with
 * `fatal` made of every chunk only to throw it away: a tenth of the parse time of a large list.
 */
class Utf8Check {
  private carry: Uint8Array | null = null

  write(chunk: Uint8Array): boolean {
    let bytes = chunk
    if (this.carry) {
      bytes = new Uint8Array(this.carry.length + chunk.length)
      bytes.set(this.carry)
      bytes.set(chunk, this.carry.length)
      this.carry = null
    }
    // The last character's lead byte, within the last four bytes: cut before it when its
    // continuation bytes have not all arrived.
    let cut = bytes.length
    for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 4); i--) {
      const b = bytes[i]!
      if ((b & 0xc0) === 0x80) continue
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
      if (bytes.length - i < need) cut = i
      break
    }
    if (cut < bytes.length) this.carry = bytes.slice(cut)
    return isUtf8(bytes.subarray(0, cut))
  }

  /** The bytes ended: a character still cut is not UTF-8. */
  end(): boolean {
    return this.carry === null
  }
}

export interface ListBatch {
  verdicts: EntryVerdict[]
}

/** Entries judged per batch: a batch is one short transaction for the writer. */
export const LIST_BATCH = 2000

export async function readListStream(
  chunks: AsyncIterable<Uint8Array>,
  ctx: ListContext,
  onBatch: (b: ListBatch) => Promise<void> | void,
  batchSize = LIST_BATCH,
): Promise<{ entries: number }> {
  const where = `${ctx.source}: the list at ${displayLocation(ctx.location)}`
  // `$` reports the top-level value once it ends (emptied as it goes: see onValue), so a second
  // top-level value or a top-level non-array is caught.
  const parser = new JSONParser({
    paths: ['$', '$.*'],
    keepStack: false,
    stringBufferSize: 64 * 1024,
    separator: '',
  })
  const utf8 = new Utf8Check()
  let failure: MirrorError | null = null
  let entries = 0
  let tops = 0
  let batch: ListBatch = { verdicts: [] }
  parser.onValue = ({ value, key, parent }) => {
    // keepStack:false drops an emitted element from its parent only when no enclosing value is
    // to be emitted too, and `$` is: left alone, the top-level array kept every parsed entry
    // until the end (measured: about 600 bytes of worker heap an entry, 600 MB at a million).
    // Each element has been handed over once it is reported, so the array is emptied here, as
    // the parser itself does (it counts keys apart from the array's length).
    if (key !== undefined && Array.isArray(parent)) parent.length = 0
    if (failure) return
    if (key === undefined) {
      tops++
      if (tops > 1 || !Array.isArray(value))
        failure = new MirrorError('list-invalid', `${where} is not a JSON array`)
      return
    }
    if (typeof key !== 'number') {
      failure = new MirrorError('list-invalid', `${where} is not a JSON array`)
      return
    }
    entries++
    if (entries > ctx.maxEntries) {
      failure = tooManyEntries(ctx, entries)
      return
    }
    batch.verdicts.push(classifyEntry(value, key, ctx))
  }
  parser.onError = (e) => {
    failure ??= new MirrorError('list-invalid', `${where} is not JSON: ${errorMessage(e)}`)
  }
  const flush = async (): Promise<void> => {
    if (batch.verdicts.length === 0) return
    const b = batch
    batch = { verdicts: [] }
    await onBatch(b)
  }
  let sawBytes = false
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue
    if (!utf8.write(chunk)) throw new MirrorError('list-invalid', `${where} is not UTF-8`)
    if (!sawBytes && /^\s*$/.test(Buffer.from(chunk).toString('latin1'))) continue
    if (!sawBytes) {
      const first = Buffer.from(chunk).toString('latin1').trimStart()[0]
      if (first !== '[')
        throw new MirrorError(
          'list-invalid',
          first !== undefined && '{"ntf-0123456789'.includes(first)
            ? `${where} is not a JSON array`
            : `${where} is not JSON: it does not start with [`,
        )
      sawBytes = true
    }
    try {
      parser.write(chunk)
    } catch (e) {
      failure ??= new MirrorError('list-invalid', `${where} is not JSON: ${errorMessage(e)}`)
    }
    if (failure) throw failure
    if (batch.verdicts.length >= batchSize) await flush()
  }
  if (!utf8.end()) throw new MirrorError('list-invalid', `${where} is not UTF-8`)
  if (!parser.isEnded) {
    try {
      parser.end()
    } catch (e) {
      failure ??= new MirrorError('list-invalid', `${where} is not JSON: ${errorMessage(e)}`)
    }
  }
  if (failure) throw failure
  if (tops === 0) throw new MirrorError('list-invalid', `${where} is not JSON: it is empty or ends early`)
  await flush()
  return { entries }
}
