/**
 * zstd-napi's low-level binding: `ZSTD_decompressStream` with its (ret, produced, consumed),
 * which is what tells frame ends apart (ret is 0 exactly when a frame ends).
 */
import { createRequire } from 'node:module'

export interface DecompressContext {
  decompressStream(dst: Uint8Array, src: Uint8Array): [ret: number, produced: number, consumed: number]
}

const require = createRequire(import.meta.url)
const binding = require('zstd-napi/binding') as { DCtx: new () => DecompressContext }

export function newDecompressContext(): DecompressContext {
  return new binding.DCtx()
}
