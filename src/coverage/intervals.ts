/**
 * Interval arithmetic on the AACID timeline, in whole seconds. Both ends of an AACID range are
 * inclusive (the standard: `aacid__{collection}__{from}--{to}`, "both timestamps inclusive"),
 * so [a, b] covers b - a + 1 seconds, [0, 9] and [10, 19] are adjacent (no gap between them),
 * and [0, 10] and [10, 20] overlap in the one second 10.
 */

/** An inclusive span of Unix seconds, `from <= to`. */
export interface Span {
  from: number
  to: number
}

/** Seconds covered by one span: both ends count. */
export function spanSeconds(s: Span): number {
  return s.to - s.from + 1
}

/**
 * The union of spans as sorted, disjoint, non-adjacent spans: overlapping and adjacent spans
 * merge, since no second lies between [0, 9] and [10, 19].
 */
export function mergeSpans(spans: Iterable<Span>): Span[] {
  const sorted = [...spans].sort((a, b) => a.from - b.from || a.to - b.to)
  const out: Span[] = []
  for (const s of sorted) {
    const last = out[out.length - 1]
    if (last && s.from <= last.to + 1) {
      if (s.to > last.to) last.to = s.to
    } else {
      out.push({ from: s.from, to: s.to })
    }
  }
  return out
}

/** Total seconds of a merged (disjoint) list of spans. */
export function totalSeconds(merged: readonly Span[]): number {
  let n = 0
  for (const s of merged) n += spanSeconds(s)
  return n
}

/** The seconds between consecutive spans of a merged list that none of them covers. */
export function gapsBetween(merged: readonly Span[]): Span[] {
  const out: Span[] = []
  for (let i = 1; i < merged.length; i++) {
    const prev = merged[i - 1]!
    const next = merged[i]!
    if (next.from > prev.to + 1) out.push({ from: prev.to + 1, to: next.from - 1 })
  }
  return out
}

/** The inclusive intersection of two spans, or null. */
export function intersect(a: Span, b: Span): Span | null {
  const from = Math.max(a.from, b.from)
  const to = Math.min(a.to, b.to)
  return from <= to ? { from, to } : null
}

/**
 * Every pair of items whose spans intersect, with the intersection, by a sweep over the items
 * sorted by start: O(n log n + pairs). Stops after `limit` pairs (a pathological catalog where
 * every range overlaps every other must not cost n² memory); `truncated` says so.
 */
export function overlappingPairs<T extends Span>(
  items: readonly T[],
  limit = 10_000,
): { pairs: Array<{ a: T; b: T; overlap: Span }>; truncated: boolean } {
  const sorted = [...items].sort((x, y) => x.from - y.from || x.to - y.to)
  const pairs: Array<{ a: T; b: T; overlap: Span }> = []
  // Items whose span may still reach later starts; pruned lazily.
  let active: T[] = []
  for (const item of sorted) {
    active = active.filter((x) => x.to >= item.from)
    for (const other of active) {
      if (pairs.length >= limit) return { pairs, truncated: true }
      pairs.push({ a: other, b: item, overlap: { from: item.from, to: Math.min(other.to, item.to) } })
    }
    active.push(item)
  }
  return { pairs, truncated: false }
}
