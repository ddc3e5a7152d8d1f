/**
 * Sizes as operators write them: `10TB`, `500 GiB`, `1.5T`, or a plain number of bytes.
 * Decimal units are powers of 1000 (a "10 TB" disk holds 10^13 bytes), binary ones of 1024;
 * a bare letter (`T`) is decimal, as disks are sold.
 */
const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  p: 1e15,
  pb: 1e15,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
}

/** Bytes, or null when `s` is not a size. */
export function parseSize(s: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(s)
  if (!m) return null
  const unit = UNITS[m[2]!.toLowerCase()]
  if (unit === undefined) return null
  // Exact decimal arithmetic: 4.1 × 10^9 in floating point is 4,099,999,999.9…
  const [whole, frac = ''] = m[1]!.split('.')
  const n = (BigInt(whole! + frac) * BigInt(unit)) / 10n ** BigInt(frac.length)
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : null
}
