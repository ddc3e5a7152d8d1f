/**
 * The scan's line check for a whole chunk at once, in WebAssembly (record-lines.c, which says
 * why and what it promises): it accepts the lines that are valid records, giving where their
 * `aacid` and `data_folder` values are, and leaves every other line to `checkRecordLineRaw`
 * (record-line.ts), which decides it and words its problem. The scan's verdicts, messages and
 * columns are therefore exactly the JavaScript checker's; the WebAssembly only spares it the
 * lines it would accept, nearly all of them.
 *
 * The module is compiled once per thread, synchronously (it is 6 KB), from the committed
 * record-lines.wasm beside the C source: tsc does not copy it into dist, and reading it from the
 * source tree works the same from a checkout and from the published package (package.json
 * `files`).
 */
import { readFileSync } from 'node:fs'
import { AACID_MAX_LENGTH } from '../aac/index.js'

/** Flags of a line's result (see record-lines.c). */
export const LINE_ACCEPTED = 1
export const LINE_AACID_ESCAPED = 2
export const LINE_FOLDER_ESCAPED = 4
/** The AACID passed the fast path of the rules: its timestamp follows (see record-lines.c). */
export const LINE_AACID_FAST = 8
/** This line and the one before are LINE_AACID_FAST: their AACIDs' order follows. */
export const LINE_PREV_FAST = 16

/**
 * Int32s per line in the results: flags, aacid from, to, data_folder from, to, then with
 * LINE_AACID_FAST the AACID's days since the epoch and seconds into the day, and with
 * LINE_PREV_FAST -1, 0 or 1 as it sorts before, equal to or after the line before's.
 */
export const LINE_RESULT_INTS = 8

const MAX_CHUNK_BYTES = 16 * 1024 * 1024
const MAX_LINES_PER_BYTE = 1 / 32

/** Bytes written after a chunk: a `\n` and room for a 16-byte load that starts before it. */
const CHUNK_PAD = 1 + 16

/** The little of the WebAssembly API used here (its types come with lib.dom, not compiled in). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object, imports: object) => { exports: unknown }
}

interface Exports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number }
  __heap_base: { value: number }
  check_lines(
    chunk: number,
    length: number,
    ends: number,
    count: number,
    prefix: number,
    prefixLength: number,
    maxLength: number,
    out: number,
  ): void
}

let exports: Exports | null = null
let bytes: Uint8Array = new Uint8Array(0)
let ints: Int32Array = new Int32Array(0)
let heapBase = 0

function instance(): Exports {
  if (exports) return exports
  const module = new WebAssembly.Module(
    readFileSync(new URL('../../../src/catalog/record-lines.wasm', import.meta.url)),
  )
  exports = new WebAssembly.Instance(module, {}).exports as unknown as Exports
  heapBase = (exports.__heap_base.value + 15) & ~15
  return exports
}

/**
 * Checks the lines of `chunk[0, length)`, which end at its `\n`s, at `newlines` (in order),
 * and, when the chunk does not end with one, at `length`. Returns LINE_RESULT_INTS int32s per
 * line, valid until the next call: flags (0: not accepted, ask checkRecordLineRaw; else
 * LINE_ACCEPTED with the escape flags), then the positions in the chunk of the `aacid` value's
 * content and of the `data_folder` value's (-1, -1 when absent), as record-line.ts's
 * `aacidRawFrom`/`aacidRawTo` give them, and what LINE_RESULT_INTS says. `prefix` is
 * `aacidPrefix` of the file's collection (record-rules.ts).
 *
 * Null (every line to checkRecordLineRaw) for a chunk longer than MAX_CHUNK_BYTES (16 MiB: a
 * line longer than the 2 MiB chunks the reader cuts by default, which allows lines of up to
 * 64 MiB, or `catalog.chunk_bytes` set above it) or with more than MAX_LINES_PER_BYTE lines a
 * byte (not records but empty or cut lines, whose results would take more memory than their
 * bytes): this thread's WebAssembly memory, which never shrinks, stays within about 35 MB
 * (under 5 MB with 2 MiB chunks).
 */
export function checkChunkLines(
  chunk: Uint8Array,
  length: number,
  newlines: Int32Array,
  prefix: Uint8Array,
): Int32Array | null {
  const n = newlines.length
  const count = n + ((n > 0 ? newlines[n - 1]! + 1 : 0) < length ? 1 : 0)
  if (length > MAX_CHUNK_BYTES || (count > 64 && count > length * MAX_LINES_PER_BYTE)) return null
  const x = instance()
  const chunkAt = heapBase
  const endsAt = (chunkAt + length + CHUNK_PAD + 3) & ~3
  const prefixAt = endsAt + 4 * count
  const outAt = (prefixAt + prefix.length + 3) & ~3
  const need = outAt + 4 * LINE_RESULT_INTS * count
  const memory = x.memory
  if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536))
  if (bytes.buffer !== memory.buffer) {
    bytes = new Uint8Array(memory.buffer)
    ints = new Int32Array(memory.buffer)
  }
  bytes.set(chunk.subarray(0, length), chunkAt)
  bytes[chunkAt + length] = 0x0a
  ints.set(newlines, endsAt >> 2)
  if (count > n) ints[(endsAt >> 2) + n] = length
  bytes.set(prefix, prefixAt)
  x.check_lines(chunkAt, length, endsAt, count, prefixAt, prefix.length, AACID_MAX_LENGTH, outAt)
  return ints.subarray(outAt >> 2, (outAt >> 2) + LINE_RESULT_INTS * count)
}
