/**
 * The embedded engine's tracker trouble as log lines per tracker, not per torrent.
 *
 * A tracker that is down fails the announce of every torrent on it, and each torrent retries on
 * its own (30 s doubling, announcer.ts): at 10,000 torrents a line per failed announce was 10,000
 * warnings per retry round in journald. So:
 * - a tracker that stops answering (refused connection, timeout, HTTP error, an answer that is
 *   not bencoded) is one warning, naming the tracker, the error and the torrents affected; it is
 *   written a few seconds after the first failure (`windowMs`), so the count covers the round of
 *   announces that found it down. While it stays down, a reminder at most every `reminderMs`;
 *   when it answers again, one info line. A tracker that flaps logs at most one warning per
 *   `reminderMs`: an outage shorter than the wait for its warning is not logged at all.
 * - a tracker that answers with a `failure reason` for one torrent (unregistered torrent) or
 *   a `warning message` is a warning for that torrent, once per torrent and message, and at most
 *   `torrentLines` such lines per tracker per `torrentWindowMs`; the rest are summed up in one
 *   line (10,000 unregistered torrents announced over a few minutes are a few dozen lines).
 * - every failed announce is still a `debug` line, with the torrent.
 * Tracker URLs carry passkeys: every URL and message is logged through the one redactor.
 */
import { boundedLine, type BoundedLine } from '../log/bounded.js'
import { Outage } from '../log/outage.js'
import { redactUrl, redactUrlsIn } from '../log/redact.js'
import type { EngineLogger } from './engine.js'

/** What went wrong with one announce. */
export interface TrackerTrouble {
  /** The announce URL as the torrent lists it (passkey and all: only the redactor shows it). */
  tracker: string
  /**
   * `unreachable`: the tracker did not answer usefully (connection, timeout, HTTP status, bad
   * answer), a fault of the tracker; `refused`: it answered with a failure reason for this
   * torrent; `warning`: it answered with a warning message; `unsupported`: a protocol this
   * engine does not announce to.
   */
  kind: 'unreachable' | 'refused' | 'warning' | 'unsupported'
  /** The error, without the URL. */
  message: string
}

export interface TrackerLogOptions {
  /** How long after a tracker's first failure its warning is written (default 5 s). */
  windowMs?: number
  /** Reminders of a tracker still down, and its warnings when it flaps: at most this often (default 1 h). */
  reminderMs?: number
  /** Per-torrent warnings (refused, warning) per tracker per `torrentWindowMs` (default 10). */
  torrentLines?: number
  /** The window of `torrentLines`; the rest of a window's are one line at its end (default 1 min). */
  torrentWindowMs?: number
  now?: () => number
}

interface TrackerState {
  /** Torrents whose last announce to this tracker failed, with the error. */
  readonly failing: Map<string, string>
  /** Torrents that failed during this outage (the count the recovery line reports). */
  readonly affected: Set<string>
  /** Whether it is down, since when, and whether a warning is due (log/outage.ts). */
  readonly outage: Outage
  lastError: string
  warnTimer: NodeJS.Timeout | undefined
  /** Each torrent's last refusal or warning from this tracker, so a retry repeats it at debug only. */
  readonly told: Map<string, string>
  /** Its per-torrent refusals and warnings, `torrentLines` a window and one line for the rest. */
  readonly torrentWarn: BoundedLine
}

export class TrackerLog {
  private readonly trackers = new Map<string, TrackerState>()
  private readonly unsupported = new Set<string>()
  private readonly windowMs: number
  private readonly reminderMs: number
  private readonly torrentLinesMax: number
  private readonly torrentWindowMs: number
  private readonly now: () => number

  constructor(
    private readonly log: EngineLogger,
    private readonly prefix: string,
    opts: TrackerLogOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? 5000
    this.reminderMs = opts.reminderMs ?? 60 * 60_000
    this.torrentLinesMax = opts.torrentLines ?? 10
    this.torrentWindowMs = opts.torrentWindowMs ?? 60_000
    this.now = opts.now ?? Date.now
  }

  /** A tracker answered an announce of `infoHash` (with peers, or with a refusal or warning). */
  answered(tracker: string, infoHash: string): void {
    const s = this.trackers.get(tracker)
    if (!s) return
    s.told.delete(infoHash)
    this.up(s, tracker, infoHash)
  }

  private up(s: TrackerState, tracker: string, infoHash: string): void {
    s.failing.delete(infoHash)
    const end = s.outage.recovered()
    if (!end) return
    const seconds = Math.round(end.downMs / 1000)
    const affected = s.affected.size
    if (end.warned)
      this.log.info(
        { tracker: redactUrl(tracker), downSeconds: seconds, torrents: affected },
        `${this.prefix}: tracker ${redactUrl(tracker)} answers again after ${seconds} s; ${affected} torrent(s) were affected`,
      )
    else
      this.log.debug?.(
        { tracker: redactUrl(tracker), downSeconds: seconds, torrents: affected },
        `${this.prefix}: tracker ${redactUrl(tracker)} answers again`,
      )
    s.affected.clear()
    clearTimeout(s.warnTimer)
    s.warnTimer = undefined
  }

  /** An announce of `infoHash` (named `name`) had trouble. */
  trouble(infoHash: string, name: string, t: TrackerTrouble): void {
    const tracker = redactUrl(t.tracker)
    const message = redactUrlsIn(t.message)
    const fields = { infoHash, name, tracker, kind: t.kind, err: message }
    this.log.debug?.(fields, `${this.prefix}: announce to ${tracker} failed: ${message}`)
    if (t.kind === 'unsupported') {
      if (this.unsupported.has(t.tracker)) return
      this.unsupported.add(t.tracker)
      this.log.warn(
        { tracker, err: message },
        `${this.prefix}: tracker ${tracker} is not announced to: ${message} (said once for all torrents)`,
      )
      return
    }
    const s = this.state(t.tracker)
    if (t.kind === 'unreachable') return this.down(s, t.tracker, infoHash, message)
    // It answered: it is up, whatever it said about this torrent.
    this.up(s, t.tracker, infoHash)
    if (s.told.get(infoHash) === message) return
    s.told.set(infoHash, message)
    s.torrentWarn(
      fields,
      t.kind === 'refused'
        ? `${this.prefix}: tracker ${tracker} refused torrent ${name}: ${message}`
        : `${this.prefix}: tracker ${tracker} warns about torrent ${name}: ${message}`,
    )
  }

  /** A torrent left the engine: it no longer counts as affected by a tracker still down. */
  forget(infoHash: string): void {
    for (const s of this.trackers.values()) {
      s.failing.delete(infoHash)
      s.told.delete(infoHash)
    }
  }

  /** Stops the timers (the engine closes). */
  close(): void {
    for (const s of this.trackers.values()) {
      clearTimeout(s.warnTimer)
      s.torrentWarn.close()
    }
    this.trackers.clear()
  }

  private down(s: TrackerState, tracker: string, infoHash: string, message: string): void {
    const now = this.now()
    s.failing.set(infoHash, message)
    s.affected.add(infoHash)
    s.lastError = message
    s.outage.failed()
    if (s.warnTimer) return
    // The first warning of an outage after the window, so that it counts the round of announces
    // that found the tracker down; a reminder when one is due (the next failure after that asks again).
    const due = s.outage.warningDueAt()!
    if (s.outage.warned && now < due) return
    s.warnTimer = this.timer(
      () => {
        s.warnTimer = undefined
        if (s.failing.size === 0) return
        const warning = s.outage.warning()
        if (!warning) return
        const shown = redactUrl(tracker)
        const minutes = Math.round(warning.downMs / 60_000)
        this.log.warn(
          {
            tracker: shown,
            err: s.lastError,
            torrents: s.failing.size,
            downSeconds: Math.round(warning.downMs / 1000),
          },
          warning.kind === 'reminder'
            ? `${this.prefix}: tracker ${shown} still not answering after ${minutes} min (${s.lastError}); ${s.failing.size} torrent(s) affected`
            : `${this.prefix}: tracker ${shown} is not answering (${s.lastError}); ${s.failing.size} torrent(s) affected, each retried with backoff`,
        )
      },
      Math.max(this.windowMs, due - now),
    )
  }

  private state(tracker: string): TrackerState {
    let s = this.trackers.get(tracker)
    if (!s) {
      const shown = redactUrl(tracker)
      s = {
        failing: new Map(),
        affected: new Set(),
        outage: new Outage({ reminderMs: this.reminderMs, now: this.now }),
        lastError: '',
        warnTimer: undefined,
        told: new Map(),
        torrentWarn: boundedLine((f, m) => this.log.warn(f, m), {
          lines: this.torrentLinesMax,
          windowMs: this.torrentWindowMs,
          summary: (more, latest) => [
            { tracker: shown, torrents: more, err: latest.fields.err },
            `${this.prefix}: tracker ${shown} refused or warned about ${more} more torrent(s) in ${this.torrentWindowMs / 1000} s (such as: ${String(latest.fields.err)}); each is a debug line`,
          ],
        }),
      }
      this.trackers.set(tracker, s)
    }
    return s
  }

  private timer(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  }
}
