/**
 * Piece length policy. Small pieces let a downloader fetch one AAC blob without much else;
 * few pieces keep the .torrent small and the clients' bookkeeping cheap. The rule: the smallest
 * power of two from 32 KiB that keeps the torrent at or under 2,048 pieces (so 1,025–2,048 pieces
 * on the way up), capped at 16 MiB, the largest piece common clients handle well.
 *
 *   total size            piece length   pieces
 *   ≤ 64 MiB              32 KiB         1 – 2,048
 *   ≤ 128 MiB             64 KiB         1,025 – 2,048
 *   ≤ 256 MiB             128 KiB        〃
 *   ≤ 512 MiB             256 KiB        〃
 *   ≤ 1 GiB               512 KiB        〃
 *   ≤ 2 GiB               1 MiB          〃
 *   ≤ 4 GiB               2 MiB          〃
 *   ≤ 8 GiB               4 MiB          〃
 *   ≤ 16 GiB              8 MiB          〃
 *   > 16 GiB              16 MiB         1,025 and up: 100 GB → 5,961 pieces (119 KB of hashes
 *                                        in the .torrent), 1 TB → 59,605 pieces (1.2 MB)
 */
import { TorrentError } from './errors.js'

export const MIN_PIECE_LENGTH = 32 * 1024
export const MAX_PIECE_LENGTH = 16 * 1024 * 1024
export const TARGET_MAX_PIECES = 2048

export function choosePieceLength(totalSize: number): number {
  let length = MIN_PIECE_LENGTH
  while (length < MAX_PIECE_LENGTH && totalSize > length * TARGET_MAX_PIECES) length *= 2
  return length
}

export function isValidPieceLength(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_PIECE_LENGTH && n <= MAX_PIECE_LENGTH && (n & (n - 1)) === 0
}

export function validatePieceLength(n: number): number {
  if (!isValidPieceLength(n)) {
    throw new TorrentError(
      'invalid-piece-length',
      `invalid piece length ${n}: must be a power of two from ${MIN_PIECE_LENGTH} (32 KiB) to ${MAX_PIECE_LENGTH} (16 MiB)`,
      { field: 'piece_length' },
    )
  }
  return n
}

/** The configured `torrents.piece_length`: 0 picks one from the size, anything else must be valid. */
export function resolvePieceLength(configured: number, totalSize: number): number {
  return configured === 0 ? choosePieceLength(totalSize) : validatePieceLength(configured)
}
