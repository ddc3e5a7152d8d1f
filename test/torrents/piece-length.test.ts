import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  choosePieceLength,
  isValidPieceLength,
  resolvePieceLength,
  TorrentError,
  validatePieceLength,
} from '../../src/torrents/index.js'

const KiB = 1024
const MiB = 1024 ** 2
const GiB = 1024 ** 3

test('the documented table', () => {
  const table: [number, number][] = [
    [0, 32 * KiB],
    [1, 32 * KiB],
    [64 * MiB, 32 * KiB],
    [64 * MiB + 1, 64 * KiB],
    [128 * MiB, 64 * KiB],
    [128 * MiB + 1, 128 * KiB],
    [1 * GiB, 512 * KiB],
    [2 * GiB, 1 * MiB],
    [8 * GiB, 4 * MiB],
    [16 * GiB, 8 * MiB],
    [16 * GiB + 1, 16 * MiB],
    [100e9, 16 * MiB],
    [1e12, 16 * MiB],
    [2 ** 50, 16 * MiB],
  ]
  for (const [size, want] of table) assert.equal(choosePieceLength(size), want, `size ${size}`)
})

test('keeps 1,025–2,048 pieces until the 16 MiB cap, with the fewest pieces never above 2,048', () => {
  for (let size = 1; size < 64 * GiB; size = Math.ceil(size * 1.37) + 12345) {
    const length = choosePieceLength(size)
    assert.ok(isValidPieceLength(length))
    const pieces = Math.ceil(size / length)
    if (length < 16 * MiB) assert.ok(pieces <= 2048, `${size}: ${pieces} pieces of ${length}`)
    if (length > 32 * KiB)
      assert.ok(pieces > 1024, `${size}: ${pieces} pieces of ${length}; half the length would do`)
  }
  assert.equal(Math.ceil(1e12 / choosePieceLength(1e12)), 59_605)
})

test('validates an explicit piece length', () => {
  for (const ok of [32 * KiB, 64 * KiB, 4 * MiB, 16 * MiB]) assert.equal(validatePieceLength(ok), ok)
  for (const bad of [0, 16 * KiB, 32 * MiB, 48 * KiB, 32 * KiB + 1, 1.5, -32 * KiB, Number.NaN]) {
    assert.throws(
      () => validatePieceLength(bad),
      (e: unknown) =>
        e instanceof TorrentError &&
        e.code === 'invalid-piece-length' &&
        /power of two from 32768 \(32 KiB\) to 16777216 \(16 MiB\)/.test(e.message),
      String(bad),
    )
  }
})

test('0 in the configuration means "choose from the size"', () => {
  assert.equal(resolvePieceLength(0, 3 * GiB), 2 * MiB)
  assert.equal(resolvePieceLength(1 * MiB, 3 * GiB), 1 * MiB)
  assert.throws(() => resolvePieceLength(1000, 3 * GiB), /invalid piece length 1000/)
})
