/** Messages between the metadata reader and its line workers. */
import type { FileContext } from './record-rules.js'

export interface ChunkRequest {
  seq: number
  /** Transferred, not copied: the reader gives up the chunk. */
  buffer: ArrayBuffer
  length: number
  context: FileContext
}

export interface LineProblem {
  /** 0-based line index within the chunk. */
  lineIdx: number
  /** Byte offset within the chunk. */
  offset: number
  aacid: string | null
  code: string
  message: string
}

export interface ChunkResult {
  seq: number
  /** Lines in the chunk, good or bad. */
  lines: number
  /** Per valid record: byte offset within the chunk, byte length, 0-based line index. */
  offsets: Float64Array
  lengths: Uint32Array
  lineIdx: Uint32Array
  /** Per valid record, joined with '\n' (neither can contain a newline). */
  aacids: string
  folders: string
  problems: LineProblem[]
}

export interface ChunkFailure {
  seq: number
  error: string
}
