/**
 * When something that keeps failing is worth a loud line: a tracker that stops answering, a
 * seedbox that misses the fleet's poll, a job whose runs keep reporting problems. Each of them
 * fails again and again (every announce retry, every minute's poll, every run), and a line per
 * failure says nothing new after the first. The rule, one for all of them:
 * - an outage is one warning; while it lasts, a reminder at most every `reminderMs`;
 * - its end is worth one line when a warning was written for it (a caller's debug line otherwise);
 * - a thing that flaps (back, then failing again) writes at most one warning per `reminderMs`:
 *   the first warning of an outage is not due sooner than `reminderMs` after the last one.
 *
 * Only the state and the clock are here: the caller writes the lines, in its own words, and
 * decides when it asks (TrackerLog waits a few seconds to count the torrents a tracker fails).
 */
export interface OutageOptions {
  /** Reminders of an outage that lasts, and warnings of one that flaps: at most this often. */
  reminderMs: number
  /** The clock, in ms (tests pass their own). */
  now?: () => number
}

/** A warning that is due: the outage's first, or a reminder that it lasts. */
export interface OutageWarning {
  kind: 'first' | 'reminder'
  /** How long it has been failing, in ms. */
  downMs: number
}

/** An outage that ended. */
export interface OutageEnd {
  downMs: number
  /** A warning was written for it, so its end is worth a line too. */
  warned: boolean
}

export class Outage {
  readonly #reminderMs: number
  readonly #now: () => number
  #since: number | null = null
  #warned = false
  #lastWarnAt: number | null = null

  constructor(opts: OutageOptions) {
    this.#reminderMs = opts.reminderMs
    this.#now = opts.now ?? Date.now
  }

  /** It is failing (since when, in ms), or null while it works. */
  get since(): number | null {
    return this.#since
  }

  /** A warning was written for the outage going on now. */
  get warned(): boolean {
    return this.#warned
  }

  /** It failed now: an outage starts, unless one is going on. */
  failed(): void {
    this.#since ??= this.#now()
  }

  /**
   * When the next warning is due (ms, maybe already past), or null while it works: at once for
   * an outage's first unless the last warning was less than `reminderMs` ago, then every
   * `reminderMs`.
   */
  warningDueAt(): number | null {
    if (this.#since === null) return null
    return this.#lastWarnAt === null
      ? this.#since
      : Math.max(this.#since, this.#lastWarnAt + this.#reminderMs)
  }

  /** The warning due now, counted as written (the caller writes it), or null when none is. */
  warning(): OutageWarning | null {
    const due = this.warningDueAt()
    const now = this.#now()
    if (due === null || now < due) return null
    const kind = this.#warned ? 'reminder' : 'first'
    this.#warned = true
    this.#lastWarnAt = now
    return { kind, downMs: now - this.#since! }
  }

  /** It works now: the outage that ended, or null when there was none. */
  recovered(): OutageEnd | null {
    if (this.#since === null) return null
    const end = { downMs: this.#now() - this.#since, warned: this.#warned }
    this.#since = null
    this.#warned = false
    return end
  }
}

/** One `Outage` per key (a seedbox, a job), all with the same options. */
export class Outages {
  readonly #opts: OutageOptions
  readonly #byKey = new Map<string, Outage>()

  constructor(opts: OutageOptions) {
    this.#opts = opts
  }

  /** The key's outage, made the first time it is asked for. */
  of(key: string): Outage {
    let o = this.#byKey.get(key)
    if (!o) this.#byKey.set(key, (o = new Outage(this.#opts)))
    return o
  }

  /** The key works now: the outage that ended, or null when there was none. */
  recovered(key: string): OutageEnd | null {
    return this.#byKey.get(key)?.recovered() ?? null
  }
}
