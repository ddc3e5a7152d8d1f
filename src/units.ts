/**
 * Byte sizes and shares as people read them, for the terminal and the dashboard alike. This
 * module imports nothing: the server sends its compiled form to the browser as /units.js, where
 * the dashboard's script imports it (the page's Content-Security-Policy allows scripts from the
 * server itself), so the CLI and the page format with the same code.
 */

/** Decimal units, as disks and the torrent list count them. */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB']
  let i = 0
  let v = n
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`
}

/**
 * Binary units, for sizes that are powers of two (piece lengths, buffers): 32768 → `32 KiB`,
 * where decimal units would print the misleading `32.8 KB`.
 */
export function formatBinaryBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`
}

/** A share, rounded down so that 99.97% never reads as 100%. */
export function formatRatio(r: number): string {
  if (r >= 1) return '100%'
  if (r <= 0) return '0%'
  const tenths = Math.floor(r * 1000) / 10
  return tenths === 0 ? '<0.1%' : `${tenths}%`
}
