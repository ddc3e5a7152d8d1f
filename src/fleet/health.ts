/**
 * Fleet health as pure functions over what the polls stored: whether a seedbox is up, what a
 * copy's Transmission state means, and each torrent's verdict (`ok` at its target of complete
 * copies, `degraded` below it, `lost` at none).
 */

/**
 * `up`: the last poll answered. `failing`: polls fail, but for less than the grace period, so the
 * seedbox keeps its placements (a restart or a network blip moves nothing). `down`: failing for
 * the grace period or longer; its torrents are placed elsewhere. `unknown`: never answered.
 */
export type SeedboxStatus = 'up' | 'failing' | 'down' | 'unknown'

export interface SeedboxPollState {
  /** ISO 8601 of the last poll that answered, or null. */
  lastSeenAt: string | null
  /** ISO 8601 of the first failed poll since the last answer, or null when the last poll answered. */
  failingSince: string | null
}

export function seedboxStatus(s: SeedboxPollState, now: Date, graceMs: number): SeedboxStatus {
  if (s.failingSince === null) return s.lastSeenAt === null ? 'unknown' : 'up'
  if (s.lastSeenAt === null) return now.getTime() - Date.parse(s.failingSince) >= graceMs ? 'down' : 'unknown'
  return now.getTime() - Date.parse(s.failingSince) >= graceMs ? 'down' : 'failing'
}

/** Placements stay on a seedbox that is up or only failing within its grace period. */
export function holdsPlacements(status: SeedboxStatus): boolean {
  return status === 'up' || status === 'failing'
}

/**
 * A copy on a seedbox: `complete` (verified and serving: seeding or queued to seed),
 * `downloading` (or queued to), `checking` (verifying), `stopped` (paused by someone, or by a
 * seed limit), `error` (a local error: data missing or unreadable, disk full).
 */
export type CopyState = 'complete' | 'downloading' | 'checking' | 'stopped' | 'error'

/** Transmission's tr_stat_errtype: 1 tracker warning, 2 tracker error, 3 local error. */
export const TR_LOCAL_ERROR = 3

/** From Transmission's `status` (tr_torrent_activity, the same numbers in 3.00 and 4.x), `percentDone` and `error`. */
export function copyState(status: number, percentDone: number, error: number): CopyState {
  if (error === TR_LOCAL_ERROR) return 'error'
  switch (status) {
    case 0:
      return 'stopped'
    case 1:
    case 2:
      return 'checking'
    case 3:
    case 4:
      return 'downloading'
    case 5:
    case 6:
      return percentDone >= 1 ? 'complete' : 'downloading'
    default:
      return 'error'
  }
}

export type TorrentHealth = 'ok' | 'degraded' | 'lost'

export interface CopyInput {
  seedbox: string
  infohash: string
  state: CopyState
  /** The daemon's error text (error 3: the local error; 1, 2: the tracker's). */
  error: number
  errorString: string
}

export interface TorrentHealthInput {
  infohash: string
  name: string
  /** Copies wanted (the local engine's included when it counts). */
  target: number
}

export interface CopyError {
  seedbox: string
  /** `local`: the copy cannot serve (missing data...); `tracker`: a tracker's warning or error. */
  kind: 'local' | 'tracker'
  message: string
}

export interface TorrentHealthReport {
  infohash: string
  name: string
  target: number
  /** Complete copies on seedboxes that hold placements, plus the local engine when it counts. */
  complete: number
  /** Seedboxes with a complete copy. */
  holders: string[]
  downloading: number
  /** The local engine's copy counted. */
  local: boolean
  errors: CopyError[]
  health: TorrentHealth
}

export function verdict(complete: number, target: number): TorrentHealth {
  return complete >= target ? 'ok' : complete > 0 ? 'degraded' : 'lost'
}

/**
 * Each torrent's health. Copies on seedboxes not in `serving` (down, unknown, or no longer
 * configured) count for nothing; `localSeeding` holds the torrents the local engine seeds, and
 * is counted only when the local engine counts as a holder.
 */
export function torrentHealth(
  torrents: readonly TorrentHealthInput[],
  copies: readonly CopyInput[],
  serving: ReadonlySet<string>,
  localSeeding: ReadonlySet<string> | null,
): TorrentHealthReport[] {
  const byHash = new Map<string, CopyInput[]>()
  for (const c of copies) {
    if (!serving.has(c.seedbox)) continue
    const list = byHash.get(c.infohash)
    if (list) list.push(c)
    else byHash.set(c.infohash, [c])
  }
  return torrents.map((t) => {
    const cs = byHash.get(t.infohash) ?? []
    const holders = cs.filter((c) => c.state === 'complete').map((c) => c.seedbox)
    const local = localSeeding?.has(t.infohash) ?? false
    const complete = holders.length + (local ? 1 : 0)
    const errors: CopyError[] = cs
      .filter((c) => c.error !== 0 || c.state === 'error')
      .map((c) => ({
        seedbox: c.seedbox,
        kind: c.error === TR_LOCAL_ERROR || c.state === 'error' ? ('local' as const) : ('tracker' as const),
        message: c.errorString || `Transmission error ${c.error}`,
      }))
    return {
      infohash: t.infohash,
      name: t.name,
      target: t.target,
      complete,
      holders,
      downloading: cs.filter((c) => c.state === 'downloading' || c.state === 'checking').length,
      local,
      errors,
      health: verdict(complete, t.target),
    }
  })
}

export interface HealthCounts {
  ok: number
  degraded: number
  lost: number
}

export function countHealth(reports: readonly Pick<TorrentHealthReport, 'health'>[]): HealthCounts {
  const out: HealthCounts = { ok: 0, degraded: 0, lost: 0 }
  for (const r of reports) out[r.health]++
  return out
}
