/**
 * Leases, table `leases` (created by migration 009): which process may do what on one
 * database, so that `serve` and a CLI command in another shell never undo each other's work
 * (a second scan deleting the first one's unfinished rows, a second engine answering for the
 * first). SQLite's own locking covers one transaction; a lease covers a whole job. This
 * module owns every query on the table.
 *
 * Columns:
 * - `name`: what is held: a job's name (`scan`, `fleet_apply`, ...: one run of a job kind at
 *   a time across processes), `catalog` (any writer of the catalog and torrents: scan, torrent
 *   making, mirror placing), or `serve` (the serving process, for its whole life: it owns the
 *   engine, and others forward to it).
 * - `job`: what the holder is doing, for messages (`scan`, `torrents make`, `serve`).
 * - `holder`: `serve` or `cli`.
 * - `pid`, `host`: the holding process (`os.hostname()`).
 * - `token`: random, per acquisition: only the acquirer renews or releases it.
 * - `acquired_at`, `heartbeat_at`: ISO 8601 UTC; the holder renews `heartbeat_at` every
 *   HEARTBEAT_MS while it holds the lease.
 * - `http_url`: for `serve`, where its HTTP API answers (NULL when http is disabled).
 *
 * A lease has expired, and may be taken over, when its holder is gone: on the same host, its
 * pid no longer exists; on any host, its heartbeat is older than TTL_MS. Taking is one
 * IMMEDIATE transaction (read, check, write), so two processes cannot both win.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Db } from '../db/index.js'
import { ConfigError } from '../errors.js'

export const HEARTBEAT_MS = 10_000
/** Several missed heartbeats: a holder whose event loop stalls briefly keeps its lease. */
export const TTL_MS = 90_000

export type LeaseHolderKind = 'serve' | 'cli'

export interface LeaseInfo {
  name: string
  job: string
  holder: LeaseHolderKind
  pid: number
  host: string
  acquiredAt: string
  heartbeatAt: string
  httpUrl: string | null
}

/** Someone else holds the lease: exit 2, with a message that names the holder and what to do. */
export class LeaseHeldError extends ConfigError {
  override readonly code = 'lease-held'
  constructor(
    readonly held: LeaseInfo,
    /** What the CLI adds: how to wait, or how long it waited. */
    suffix = '',
  ) {
    super(heldMessage(held) + suffix)
  }
}

/**
 * Waiting for a held lease (the CLI's `--wait`): poll until the holder ends, at growing
 * intervals (bounded by `maxPollMs`), for at most `timeoutMs`.
 */
export interface LeaseWait {
  timeoutMs: number
  /** Called once, when the lease is found held: the CLI says whom it waits for. */
  onWait?: (held: LeaseInfo) => void
  signal?: AbortSignal
  maxPollMs?: number
}

export function heldMessage(h: LeaseInfo, sameHost = h.host === hostname()): string {
  const since = h.acquiredAt.slice(11, 16)
  if (h.name === 'serve')
    return `serve is already running on this database (pid ${h.pid}${sameHost ? '' : ` on ${h.host}`}) since ${since} UTC; stop it first`
  const where = `${h.holder === 'serve' ? 'serve' : 'aacseed'} (pid ${h.pid}${sameHost ? '' : ` on ${h.host}`})`
  return `${h.job} is running in ${where} since ${since} UTC; wait, or stop ${h.holder === 'serve' ? 'serve' : 'it'}`
}

interface Row {
  name: string
  job: string
  holder: LeaseHolderKind
  pid: number
  host: string
  token: string
  acquired_at: string
  heartbeat_at: string
  http_url: string | null
}

function info(r: Row): LeaseInfo {
  return {
    name: r.name,
    job: r.job,
    holder: r.holder,
    pid: r.pid,
    host: r.host,
    acquiredAt: r.acquired_at,
    heartbeatAt: r.heartbeat_at,
    httpUrl: r.http_url,
  }
}

/** Whether a process of this host exists (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface LeasesOptions {
  holder: LeaseHolderKind
  /** For tests: another process's identity, clock and liveness check. */
  pid?: number
  host?: string
  now?: () => Date
  alive?: (pid: number) => boolean
  ttlMs?: number
  heartbeatMs?: number
  /** Wait for a held lease instead of failing at once (CLI commands with `--wait`). */
  wait?: LeaseWait
}

export class Lease {
  #timer: NodeJS.Timeout | undefined
  #released = false

  constructor(
    private readonly leases: Leases,
    readonly name: string,
    readonly token: string,
    heartbeatMs: number,
  ) {
    if (heartbeatMs > 0) {
      this.#timer = setInterval(() => this.heartbeat(), heartbeatMs)
      this.#timer.unref()
    }
  }

  /** Renews the lease; false when it was lost (taken over after it expired). */
  heartbeat(): boolean {
    if (this.#released) return false
    try {
      return this.leases.renew(this.name, this.token)
    } catch {
      // A closed or busy database: the next beat tries again; the TTL is several beats long.
      return true
    }
  }

  release(): void {
    if (this.#released) return
    this.#released = true
    clearInterval(this.#timer)
    try {
      this.leases.drop(this.name, this.token)
    } catch {
      // The database is closing: the lease expires with this process.
    }
  }
}

export class Leases {
  readonly #db: Db
  readonly #holder: LeaseHolderKind
  readonly #pid: number
  readonly #host: string
  readonly #now: () => Date
  readonly #alive: (pid: number) => boolean
  readonly #ttlMs: number
  readonly #heartbeatMs: number
  readonly #wait: LeaseWait | undefined

  constructor(db: Db, opts: LeasesOptions) {
    this.#db = db
    this.#holder = opts.holder
    this.#pid = opts.pid ?? process.pid
    this.#host = opts.host ?? hostname()
    this.#now = opts.now ?? (() => new Date())
    this.#alive = opts.alive ?? pidAlive
    this.#ttlMs = opts.ttlMs ?? TTL_MS
    this.#heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS
    this.#wait = opts.wait
  }

  /** Whether a held lease is waited for (`wait` was given). */
  get waits(): boolean {
    return this.#wait !== undefined
  }

  #expired(r: Row): boolean {
    if (r.host === this.#host && !this.#alive(r.pid)) return true
    return this.#now().getTime() - Date.parse(r.heartbeat_at) > this.#ttlMs
  }

  #row(name: string): Row | undefined {
    return this.#db.prepare('SELECT * FROM leases WHERE name = ?').get(name) as Row | undefined
  }

  /** The live holder of a lease, or undefined when it is free or expired. */
  holderOf(name: string): LeaseInfo | undefined {
    const r = this.#row(name)
    return r && !this.#expired(r) ? info(r) : undefined
  }

  /** Takes the lease, or returns who holds it. */
  tryAcquire(name: string, job: string, extra: { httpUrl?: string } = {}): Lease | LeaseInfo {
    const token = randomBytes(12).toString('hex')
    const take = this.#db.transaction((): LeaseInfo | undefined => {
      const r = this.#row(name)
      if (r && !this.#expired(r)) return info(r)
      const now = this.#now().toISOString()
      this.#db
        .prepare(
          `INSERT INTO leases (name, job, holder, pid, host, token, acquired_at, heartbeat_at, http_url)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET job = excluded.job, holder = excluded.holder, pid = excluded.pid,
             host = excluded.host, token = excluded.token, acquired_at = excluded.acquired_at,
             heartbeat_at = excluded.heartbeat_at, http_url = excluded.http_url`,
        )
        .run(name, job, this.#holder, this.#pid, this.#host, token, now, now, extra.httpUrl ?? null)
      return undefined
    })
    // IMMEDIATE: the write lock is taken before the read, so the check and the write are one step.
    const held = take.immediate()
    return held ?? new Lease(this, name, token, this.#heartbeatMs)
  }

  /** Takes the lease or throws LeaseHeldError, at once (serve's own leases never wait). */
  acquire(name: string, job: string, extra: { httpUrl?: string } = {}): Lease {
    const got = this.tryAcquire(name, job, extra)
    if (got instanceof Lease) return got
    throw new LeaseHeldError(got)
  }

  /**
   * Takes the lease; when it is held and `wait` was given, polls until its holder ends (or
   * dies) or `wait.timeoutMs` passes. Returns who still holds it then.
   */
  async tryAcquireWaiting(
    name: string,
    job: string,
  ): Promise<Lease | { held: LeaseInfo; waitedMs?: number }> {
    const first = this.tryAcquire(name, job)
    if (first instanceof Lease) return first
    const wait = this.#wait
    if (!wait) return { held: first }
    wait.onWait?.(first)
    const started = Date.now()
    const maxPoll = wait.maxPollMs ?? 5000
    let held = first
    let delay = Math.min(250, maxPoll)
    for (;;) {
      const left = started + wait.timeoutMs - Date.now()
      if (left <= 0 || wait.signal?.aborted) return { held, waitedMs: Date.now() - started }
      await sleep(Math.min(delay, left), wait.signal)
      delay = Math.min(delay * 2, maxPoll)
      const got = this.tryAcquire(name, job)
      if (got instanceof Lease) return got
      held = got
    }
  }

  /** `acquire`, waiting as `wait` says; throws LeaseHeldError when the lease stays held. */
  async take(name: string, job: string): Promise<Lease> {
    const got = await this.tryAcquireWaiting(name, job)
    if (got instanceof Lease) return got
    const suffix =
      got.waitedMs !== undefined
        ? `; gave up after waiting ${Math.round(got.waitedMs / 1000)} s (--wait-timeout)`
        : this.#holder === 'cli' && name !== 'serve'
          ? ' (or pass --wait)'
          : ''
    throw new LeaseHeldError(got.held, suffix)
  }

  /** Runs `fn` holding the leases `names` (taken in order, all or none), then releases them. */
  async with<T>(names: readonly string[], job: string, fn: () => Promise<T>): Promise<T> {
    const held: Lease[] = []
    try {
      for (const n of names) held.push(await this.take(n, job))
      return await fn()
    } finally {
      for (const l of held.reverse()) l.release()
    }
  }

  /** Sets the HTTP address of a held lease (serve knows it only once it listens). */
  setHttpUrl(lease: Lease, url: string | null): void {
    this.#db
      .prepare('UPDATE leases SET http_url = ? WHERE name = ? AND token = ?')
      .run(url, lease.name, lease.token)
  }

  /** @internal Lease.heartbeat */
  renew(name: string, token: string): boolean {
    return (
      this.#db
        .prepare('UPDATE leases SET heartbeat_at = ? WHERE name = ? AND token = ?')
        .run(this.#now().toISOString(), name, token).changes === 1
    )
  }

  /** @internal Lease.release */
  drop(name: string, token: string): void {
    this.#db.prepare('DELETE FROM leases WHERE name = ? AND token = ?').run(name, token)
  }
}

export type CatalogLock = <T>(fn: () => Promise<T>, job?: string) => Promise<T>

/**
 * One writer of the catalog and torrents at a time (a scan deletes the unfinished rows of
 * any other writer): in this process, a queue; across processes, the `catalog` lease, taken
 * once the queue reaches `fn` and released when it ends. Without `leases`, the queue alone.
 */
export function catalogLock(leases: Leases | undefined, defaultJob: string): CatalogLock {
  let tail: Promise<unknown> = Promise.resolve()
  return <T>(fn: () => Promise<T>, job = defaultJob): Promise<T> => {
    const guarded = (): Promise<T> => (leases ? leases.with(['catalog'], job, fn) : fn())
    const run = tail.then(guarded, guarded)
    tail = run.catch(() => {})
    return run
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
