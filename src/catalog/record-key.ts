/**
 * How a record is keyed in the catalog: by its metadata file, its AACID's timestamp (seconds
 * since the epoch) and a 48-bit tag hashed from the whole AACID, not by the AACID text.
 *
 * The text was three quarters of a record row (about 72 of 96 bytes a record); the file id,
 * the seconds and the tag take about 11. Everything that looks a record up still starts from
 * an AACID: its collection and timestamp pick the files whose range holds it, and the tag
 * finds it among that file's records of the same second.
 *
 * Two AACIDs of one file and one second may share a tag (about one pair in 10^14 at a few
 * records a second). Nothing trusts a tag alone where the text is at hand: `get` and the
 * duplicate and immutability checks read the line back and compare the AACID itself. The
 * checks between metadata files and data folders compare tags only, so a file missing from
 * a data folder could be hidden by another file of the same second and tag (see store.ts).
 */

import { parseAacId } from '../aac/index.js'

/** fmix32 of MurmurHash3: every input bit reaches every output bit. */
function mix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/**
 * The tag of an AACID: a signed 48-bit integer (exact in a double, six bytes in SQLite), from
 * two independent 32-bit FNV-1a lanes over the UTF-16 code units (AACIDs are ASCII, so these
 * are its bytes). Never change it: stored tags are compared with tags computed now.
 */
export function aacidTag(aacid: string): number {
  let a = 0x811c9dc5 | 0
  let b = 0x050c5d1f | 0
  for (let i = 0; i < aacid.length; i++) {
    const c = aacid.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
  }
  return (mix(a) | 0) * 65536 + (mix(b ^ aacid.length) >>> 16)
}

/**
 * `aacidTag` of the AACID whose bytes are `b[from, to)`, without decoding it: the same number
 * when those bytes are ASCII (each byte is then its UTF-16 code unit), which the caller knows.
 */
export function aacidTagOfAscii(b: Uint8Array, from: number, to: number): number {
  let a = 0x811c9dc5 | 0
  let h = 0x050c5d1f | 0
  for (let i = from; i < to; i++) {
    const c = b[i]!
    a = Math.imul(a ^ c, 0x01000193)
    h = Math.imul(h ^ c, 0x5bd1e995)
  }
  return (mix(a) | 0) * 65536 + (mix(h ^ (to - from)) >>> 16)
}

/** The AACID's timestamp in seconds since the epoch (the AACID must be valid). */
export function aacidSeconds(aacid: string): number {
  return parseAacId(aacid).timestamp.seconds
}

/** Whether two AACIDs get the same key (the same second and tag); false for an invalid one. */
export function sameKey(a: string, b: string): boolean {
  try {
    return aacidTag(a) === aacidTag(b) && aacidSeconds(a) === aacidSeconds(b)
  } catch {
    return false
  }
}
