/** Messages between the metadata reader (main thread), its decompress worker and its line workers. */
import type { FileContext } from './record-rules.js'

export interface MetaFrame {
  frame: number
  compressedOffset: number
  decompressedOffset: number
}

export interface ReadProblem {
  line: number | null
  /** Byte offset in the decompressed stream (or in the compressed file, for zstd errors). */
  offset: number | null
  aacid: string | null
  code: string
  message: string
}

/** Where line workers write the records they accept: the catalog database, the file's row. */
export interface RecordTarget {
  database: string
  fileId: number
}

/** Main → decompress worker: read this file. */
export interface FileRequest {
  path: string
  context: FileContext
  target: RecordTarget
  chunkBytes: number
  maxLineBytes: number
  /** Items the worker may have in flight before the main thread returns credits. */
  credits: number
}

/** Decompress worker → line worker: a chunk of whole lines. */
export interface ChunkRequest {
  seq: number
  /** Transferred, not copied. */
  buffer: ArrayBuffer
  length: number
  /** Offset of the chunk's first byte in the decompressed stream. */
  base: number
  /** 1-based line number of the chunk's first line. */
  lineBase: number
  /**
   * Where each `\n` of the chunk is (relative to it; transferred): the decompress worker finds
   * them anyway to count lines, and a line worker, the busier thread, need not search again.
   */
  newlines: Int32Array
  /** Whether the whole chunk is valid UTF-8 (checked there too: then no line needs checking here). */
  utf8: boolean
  context: FileContext
  target: RecordTarget
}

export interface LineProblem {
  /** 1-based line number in the file. */
  line: number
  /** Absolute byte offset in the decompressed stream. */
  offset: number
  aacid: string | null
  code: string
  message: string
}

/** Line worker → main, once the chunk's records are committed. */
export interface ChunkResult {
  type: 'chunk'
  seq: number
  /** Lines in the chunk, good or bad. */
  lines: number
  /** Valid records written. */
  records: number
  problems: LineProblem[]
  /**
   * For the duplicate check without a second pass: the chunk's first and last AACID, whether its
   * AACIDs were in ascending order, and the AACIDs repeated on adjacent lines. In a file sorted
   * by AACID (as releases are) a repeat can only be adjacent.
   */
  first: string | null
  last: string | null
  /** Lines of the first and last valid records. */
  firstLine: number
  lastLine: number
  sorted: boolean
  repeats: Array<{ aacid: string; first: number; last: number; n: number }>
  /** Valid records per `data_folder` named (for meta_file_folders without reading the records back). */
  folders: Array<[folder: string, records: number]>
}

export interface ChunkFailure {
  type: 'chunk-failed'
  seq: number
  error: string
}

/** Decompress worker → main. */
export type DecompressMessage =
  | { type: 'long'; seq: number; line: number; offset: number; length: number; maxLine: number }
  | { type: 'problem'; problem: ReadProblem }
  | { type: 'progress'; compressedBytes: number }
  | { type: 'done'; items: number; frames: MetaFrame[]; compressedBytes: number; decompressedBytes: number }
  | { type: 'failed'; error: string; code: string | null }

/** Decompress worker → pool, answering `quiesce`: no checkpoint is under way (see checkpointer.ts). */
export interface Quiesced {
  type: 'quiesced'
}
