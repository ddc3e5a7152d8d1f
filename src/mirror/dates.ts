/**
 * The dates of upstream lists. Anna's Archive writes `added_to_torrents_list_at` as a day
 * (`2023-12-21`) and `stats_scraped_at` as a time without a zone (`2025-08-14T12:11:10`); both
 * are UTC. An explicit zone (`Z`, `+02:00`) is honoured when a list gives one. The text is kept
 * as the list wrote it (lists we publish must round-trip); this reads it as a moment.
 */

const LIST_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/** Milliseconds since the epoch, or null when `text` is not such a date (or no real day, like 2023-02-30). */
export function parseListDate(text: string): number | null {
  const m = LIST_DATE.exec(text)
  if (!m) return null
  const [y, mo, d, h = '0', mi = '0', s = '0'] = m.slice(1, 7) as [string, string, string, ...string[]]
  const frac = m[7] ?? ''
  const zone = m[8]
  const year = Number(y)
  const month = Number(mo)
  const day = Number(d)
  const hour = Number(h)
  const minute = Number(mi)
  const second = Number(s)
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null
  let ms = Date.UTC(year, month - 1, day, hour, minute, second, Number(frac.padEnd(3, '0').slice(0, 3)))
  // Date.UTC rolls 2023-02-30 over into March: a day that does not exist is not a date.
  if (new Date(ms).getUTCDate() !== day) return null
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1
    const digits = zone.slice(1).replace(':', '')
    const offset = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))
    if (Number(digits.slice(0, 2)) > 23 || Number(digits.slice(2, 4)) > 59) return null
    ms -= sign * offset * 60_000
  }
  return ms
}
