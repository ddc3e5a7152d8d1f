/**
 * Which seedbox should hold which torrent: a pure function over plain data.
 *
 * Rule: each torrent goes to the first seedboxes of its own ranking of the up seedboxes, the
 * ranking being weighted rendezvous hashing (highest random weight, Thaler & Ravishankar 1998;
 * weighted form `-weight / ln(u)`, Schindelhauer & Schomaker 2005) of (infohash, seedbox
 * name). A torrent's ranking depends only on its infohash and the seedbox names, so adding a
 * seedbox moves only the torrents that rank it among their first N (about N/(S+1) of them), and
 * losing one moves only the torrents it held. A seedbox without room for a torrent is skipped
 * and the next in the ranking takes it.
 *
 * Capacity is checked twice per seedbox: the bytes of everything planned on it against its
 * configured capacity, and the bytes it must download (planned, not yet held) against its free
 * space minus the reserve. Torrents are placed largest first (the hardest to fit), and copies a
 * seedbox already holds, where the ranking wants them, are placed before any new copy, so a
 * full seedbox keeps what it has instead of trading it for a newcomer.
 *
 * Copies on seedboxes outside a torrent's planned holders are extras. They are removed only
 * when `removeExtra` is set, and only while the torrent keeps at least its target of complete
 * copies without them (extras on a down seedbox are left alone: they cannot be reached).
 */

/** `other`: an opaque torrent from an upstream list (not an AAC release), placed like any other. */
export type TorrentKind = 'meta' | 'data' | 'other'

export interface PlacementTorrent {
  /** 40 lowercase hex digits (any unique text works; hex infohashes are hashed fastest). */
  infohash: string
  /** Bytes of data. */
  size: number
  kind: TorrentKind
  collection: string
}

export interface PlacementSeedbox {
  name: string
  /** Relative share, > 0: a seedbox of weight 2 gets about twice the torrents of one of weight 1. */
  weight: number
  /** Only up seedboxes get placements; a down one's copies count for nothing. */
  up: boolean
  /** Bytes it may hold in all, its current copies included (Infinity: no limit). */
  capacityBytes: number
  /**
   * Bytes it can still download: free space minus reserve minus what its downloads still need (Infinity: no
   * limit).
   */
  freeBytes: number
}

export interface Holding {
  seedbox: string
  infohash: string
  /** A complete, verified copy that serves peers (seeding or queued to seed). */
  complete: boolean
  /** Checking, downloading or seeding; false when stopped or stopped by a local error: `start` fixes it. */
  active: boolean
}

export interface ReplicationRules {
  /** N, the default number of copies. */
  replicas: number
  /** Per torrent kind (`meta = 3`); a collection's own number wins over this. */
  byKind: Readonly<Partial<Record<TorrentKind, number>>>
  /** Per collection (`zlib3_files = 3`). */
  byCollection: Readonly<Record<string, number>>
}

export interface PlacementInput {
  torrents: readonly PlacementTorrent[]
  seedboxes: readonly PlacementSeedbox[]
  holdings: readonly Holding[]
  rules: ReplicationRules
  removeExtra: boolean
  /** Complete copies outside the seedboxes (the local engine, when it counts as a holder), by infohash. */
  externalCopies?: ReadonlyMap<string, number>
}

export interface PlannedAddition {
  infohash: string
  seedbox: string
  bytes: number
  /** `add`: push the torrent (the seedbox downloads what it lacks); `start`: it is there but stopped. */
  action: 'add' | 'start'
}

export interface PlannedRemoval {
  infohash: string
  seedbox: string
  bytes: number
}

export type KeptReason =
  /** `fleet.remove_extra` is off. */
  | 'remove-extra-off'
  /** Without this copy the torrent would have fewer complete copies than its target. */
  | 'below-target-elsewhere'
  /** The seedbox is down; its copies are reconciled when it is back. */
  | 'seedbox-down'

export interface KeptExtra {
  infohash: string
  seedbox: string
  reason: KeptReason
}

export interface Shortfall {
  infohash: string
  /** Copies wanted (the local engine's included when it counts). */
  target: number
  /** Copies planned (seedboxes plus external copies). */
  planned: number
  reason: string
}

export interface SeedboxPlan {
  name: string
  up: boolean
  /** Torrents planned on it, and their bytes. */
  torrents: number
  bytes: number
  /** Bytes of planned torrents it does not hold yet. */
  newBytes: number
  capacityBytes: number
  freeBytes: number
}

export interface Placement {
  /** Planned seedboxes per torrent, best ranked first. Every torrent has an entry (maybe empty). */
  holders: ReadonlyMap<string, readonly string[]>
  additions: PlannedAddition[]
  removals: PlannedRemoval[]
  /** Extra copies left in place, and why. */
  kept: KeptExtra[]
  /** Torrents that cannot reach their target of copies. */
  shortfalls: Shortfall[]
  seedboxes: SeedboxPlan[]
}

/** The number of copies a torrent should have: its collection's rule, else its kind's, else N. */
export function replicasFor(
  rules: ReplicationRules,
  t: Pick<PlacementTorrent, 'kind' | 'collection'>,
): number {
  return rules.byCollection[t.collection] ?? rules.byKind[t.kind] ?? rules.replicas
}

// ---- hashing ---------------------------------------------------------------------------------

/** murmur3's 32-bit finalizer: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** FNV-1a over UTF-16 code units, with a seed, finalized. */
function hashText(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return fmix32(h >>> 0)
}

/** The value of a lowercase hex digit, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  return -1
}

/**
 * Two 32-bit keys of a torrent. An infohash is already uniform (SHA-1), so its first 16 hex
 * digits are used as they are; any other text is hashed.
 */
function torrentKeys(infohash: string): [number, number] {
  if (infohash.length === 40) {
    let a = 0
    let b = 0
    let ok = true
    for (let i = 0; i < 16; i++) {
      const d = hexDigit(infohash.charCodeAt(i))
      if (d < 0) {
        ok = false
        break
      }
      if (i < 8) a = (a << 4) | d
      else b = (b << 4) | d
    }
    if (ok) return [a >>> 0, b >>> 0]
  }
  return [hashText(infohash, 0x243f6a88), hashText(infohash, 0x85a308d3)]
}

function seedboxKeys(name: string): [number, number] {
  return [hashText(name, 0x13198a2e), hashText(name, 0x03707344)]
}

/** A uniform number in (0, 1) from 53 bits mixed from both keys. */
function unit(t1: number, t2: number, s1: number, s2: number): number {
  const a = fmix32((t1 ^ s1) >>> 0)
  const b = fmix32((t2 ^ s2 ^ Math.imul(a, 0x9e3779b1)) >>> 0)
  return (a * 2097152 + (b >>> 11) + 0.5) / 9007199254740992
}

/** The weighted rendezvous score of a torrent on a seedbox: higher ranks first. Exported for tests. */
export function rendezvousScore(infohash: string, seedbox: string, weight = 1): number {
  const [t1, t2] = torrentKeys(infohash)
  const [s1, s2] = seedboxKeys(seedbox)
  return -weight / Math.log(unit(t1, t2, s1, s2))
}

// ---- the plan --------------------------------------------------------------------------------

interface Box {
  name: string
  s1: number
  s2: number
  weight: number
  capacity: number
  free: number
  bytes: number
  newBytes: number
  torrents: number
}

interface Held {
  /** Index in the up seedboxes, or -1 for a seedbox that is down or unknown. */
  bi: number
  h: Holding
}

export function planPlacement(input: PlacementInput): Placement {
  const seen = new Set<string>()
  for (const s of input.seedboxes) {
    if (seen.has(s.name)) throw new Error(`placement: seedbox ${s.name} listed twice`)
    seen.add(s.name)
    if (!(s.weight > 0))
      throw new Error(`placement: seedbox ${s.name} has weight ${s.weight}; it must be > 0`)
  }
  const boxes: Box[] = input.seedboxes
    .filter((s) => s.up)
    .map((s) => {
      const [s1, s2] = seedboxKeys(s.name)
      return {
        name: s.name,
        s1,
        s2,
        weight: s.weight,
        capacity: s.capacityBytes,
        free: s.freeBytes,
        bytes: 0,
        newBytes: 0,
        torrents: 0,
      }
    })
  const boxIndex = new Map(boxes.map((b, i) => [b.name, i]))
  const downCount = input.seedboxes.length - boxes.length
  const S = boxes.length

  // Torrents by index in the caller's order; `order` places the largest first, then by infohash,
  // so the plan is deterministic and the hardest to fit go while there is room.
  const ts = input.torrents
  const T = ts.length
  const k1 = new Uint32Array(T)
  const k2 = new Uint32Array(T)
  const target = new Int32Array(T)
  const need = new Int32Array(T)
  for (let i = 0; i < T; i++) {
    const t = ts[i]!
    const keys = torrentKeys(t.infohash)
    k1[i] = keys[0]
    k2[i] = keys[1]
    target[i] = replicasFor(input.rules, t)
    need[i] = Math.max(0, target[i]! - (input.externalCopies?.get(t.infohash) ?? 0))
  }
  const order = Array.from({ length: T }, (_, i) => i).sort((a, b) => {
    const x = ts[a]!
    const y = ts[b]!
    return y.size - x.size || (x.infohash < y.infohash ? -1 : x.infohash > y.infohash ? 1 : 0)
  })

  const held: Array<Held[] | undefined> = new Array<Held[] | undefined>(T)
  const byHash = new Map<string, number>()
  if (input.holdings.length > 0) for (let i = 0; i < T; i++) byHash.set(ts[i]!.infohash, i)
  for (const h of input.holdings) {
    const ti = byHash.get(h.infohash)
    if (ti === undefined) continue
    const entry = { bi: boxIndex.get(h.seedbox) ?? -1, h }
    const list = held[ti]
    if (list) list.push(entry)
    else held[ti] = [entry]
  }

  // Chosen seedboxes per torrent: a flat array, `need[ti]` slots from `start[ti]`.
  const start = new Int32Array(T + 1)
  for (let i = 0; i < T; i++) start[i + 1] = start[i]! + need[i]!
  const chosenBox = new Int32Array(start[T]!)
  const count = new Int32Array(T)
  const mixed = new Uint8Array(T)
  const scores = new Float64Array(S)
  const taken = new Uint8Array(S)

  // Seedbox keys in typed arrays: the scoring loop runs T × S times.
  const bs1 = Uint32Array.from(boxes, (b) => b.s1)
  const bs2 = Uint32Array.from(boxes, (b) => b.s2)
  const bw = Float64Array.from(boxes, (b) => b.weight)
  const sameWeight = boxes.every((b) => b.weight === boxes[0]!.weight)
  const score = (ti: number): void => {
    const t1 = k1[ti]!
    const t2 = k2[ti]!
    // With equal weights -w/ln(u) orders as u does: the logarithm is skipped.
    if (sameWeight) for (let i = 0; i < S; i++) scores[i] = unit(t1, t2, bs1[i]!, bs2[i]!)
    else for (let i = 0; i < S; i++) scores[i] = -bw[i]! / Math.log(unit(t1, t2, bs1[i]!, bs2[i]!))
  }
  /** The best `k` seedboxes by score into `best`, best first (k is small: a linear scan per pick). */
  const best = new Int32Array(Math.max(1, S))
  const top = (k: number): number => {
    taken.fill(0)
    const n = Math.min(k, S)
    for (let p = 0; p < n; p++) {
      let b = -1
      for (let i = 0; i < S; i++) if (!taken[i] && (b < 0 || scores[i]! > scores[b]!)) b = i
      taken[b] = 1
      best[p] = b
    }
    return n
  }
  const holds = (ti: number, bi: number): boolean => held[ti]?.some((x) => x.bi === bi) ?? false
  const isChosen = (ti: number, bi: number): boolean => {
    for (let j = start[ti]!, end = j + count[ti]!; j < end; j++) if (chosenBox[j] === bi) return true
    return false
  }
  const fits = (bi: number, size: number, isHeld: boolean): boolean => {
    const b = boxes[bi]!
    return b.bytes + size <= b.capacity && (isHeld || b.newBytes + size <= b.free)
  }
  const put = (ti: number, bi: number, isHeld: boolean): void => {
    const b = boxes[bi]!
    const size = ts[ti]!.size
    b.bytes += size
    if (!isHeld) b.newBytes += size
    b.torrents++
    chosenBox[start[ti]! + count[ti]!] = bi
    count[ti]!++
  }

  // Pass 1: copies already where the ranking wants them stay, as room allows.
  for (const ti of order) {
    if (!held[ti] || need[ti] === 0) continue
    score(ti)
    for (let r = 0, n = top(need[ti]!); r < n; r++)
      if (holds(ti, best[r]!) && fits(best[r]!, ts[ti]!.size, true)) put(ti, best[r]!, true)
  }

  // Pass 2: fill up to the target along each torrent's ranking, skipping seedboxes without room.
  const shortfallOf = new Map<number, Shortfall>()
  for (const ti of order) {
    const t = ts[ti]!
    let full = 0
    if (count[ti]! < need[ti]!) {
      if (count[ti]! > 0) mixed[ti] = 1
      score(ti)
      // The first `need` of the ranking are tried first; the rest of the ranking only when some were full.
      let ranking: ArrayLike<number> = best
      let length = top(need[ti]!)
      for (let r = 0; count[ti]! < need[ti]!; r++) {
        if (r === length) {
          if (length >= S) break
          ranking = Array.from({ length: S }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!)
          length = S
        }
        const bi = ranking[r]!
        if (isChosen(ti, bi)) continue
        const isHeld = holds(ti, bi)
        if (fits(bi, t.size, isHeld)) put(ti, bi, isHeld)
        else full++
      }
    }
    if (count[ti]! < need[ti]!) {
      const why: string[] = []
      if (S < need[ti]!)
        why.push(`only ${S} seedbox(es) up${downCount > 0 ? ` (${downCount} down)` : ''}, ${need[ti]} needed`)
      if (full > 0) why.push(`${full} up seedbox(es) lack room for ${t.size} bytes`)
      shortfallOf.set(ti, {
        infohash: t.infohash,
        target: target[ti]!,
        planned: count[ti]! + target[ti]! - need[ti]!,
        reason: why.join('; ') || 'no seedbox can take it',
      })
    }
  }

  // Holders, additions, removals and kept extras, in the caller's order of torrents.
  const holders = new Map<string, string[]>()
  const additions: PlannedAddition[] = []
  const removals: PlannedRemoval[] = []
  const kept: KeptExtra[] = []
  const shortfalls: Shortfall[] = []
  for (let ti = 0; ti < T; ti++) {
    const t = ts[ti]!
    const from = start[ti]!
    const n = count[ti]!
    // Best ranked first: each pass picks in ranking order, so only a mix of both needs sorting.
    if (mixed[ti] && n > 1) {
      score(ti)
      chosenBox.subarray(from, from + n).sort((a, b) => scores[b]! - scores[a]!)
    }
    const names: string[] = []
    const hs = held[ti]
    for (let j = from; j < from + n; j++) {
      const bi = chosenBox[j]!
      const name = boxes[bi]!.name
      names.push(name)
      const h = hs?.find((x) => x.bi === bi)
      if (!h) additions.push({ infohash: t.infohash, seedbox: name, bytes: t.size, action: 'add' })
      else if (!h.h.active)
        additions.push({ infohash: t.infohash, seedbox: name, bytes: t.size, action: 'start' })
    }
    holders.set(t.infohash, names)
    const sf = shortfallOf.get(ti)
    if (sf) shortfalls.push(sf)
    if (!hs || hs.every((x) => x.bi >= 0 && isChosen(ti, x.bi))) continue
    const extras = hs.filter((x) => x.bi < 0 || !isChosen(ti, x.bi)).map((x) => x.h)
    let complete =
      (input.externalCopies?.get(t.infohash) ?? 0) + hs.filter((x) => x.bi >= 0 && x.h.complete).length
    // Incomplete extras go first (they cost the torrent nothing), then by name: deterministic.
    extras.sort(
      (a, b) =>
        Number(a.complete) - Number(b.complete) ||
        (a.seedbox < b.seedbox ? -1 : a.seedbox > b.seedbox ? 1 : 0),
    )
    for (const h of extras) {
      if (!boxIndex.has(h.seedbox))
        kept.push({ infohash: t.infohash, seedbox: h.seedbox, reason: 'seedbox-down' })
      else if (!input.removeExtra)
        kept.push({ infohash: t.infohash, seedbox: h.seedbox, reason: 'remove-extra-off' })
      else if (complete - (h.complete ? 1 : 0) >= target[ti]!) {
        removals.push({ infohash: t.infohash, seedbox: h.seedbox, bytes: t.size })
        if (h.complete) complete--
      } else kept.push({ infohash: t.infohash, seedbox: h.seedbox, reason: 'below-target-elsewhere' })
    }
  }

  const seedboxes: SeedboxPlan[] = input.seedboxes.map((s) => {
    const bi = boxIndex.get(s.name)
    const b = bi === undefined ? undefined : boxes[bi]
    return {
      name: s.name,
      up: s.up,
      torrents: b?.torrents ?? 0,
      bytes: b?.bytes ?? 0,
      newBytes: b?.newBytes ?? 0,
      capacityBytes: s.capacityBytes,
      freeBytes: s.freeBytes,
    }
  })
  return { holders, additions, removals, kept, shortfalls, seedboxes }
}

/** Placements (torrent on seedbox) in `after` that are not in `before`: what a change of the fleet moves. */
export function movedPlacements(
  before: ReadonlyMap<string, readonly string[]>,
  after: ReadonlyMap<string, readonly string[]>,
): number {
  let moved = 0
  for (const [hash, names] of after) {
    const old = before.get(hash) ?? []
    for (const n of names) if (!old.includes(n)) moved++
  }
  return moved
}
