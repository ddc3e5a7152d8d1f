/**
 * The fleet's edge: the configured seedboxes' clients, the database, and the clock, around the
 * pure placement (placement.ts) and health (health.ts). `aacseed fleet ...`, `aacseed health`
 * and the `fleet_poll` / `fleet_apply` jobs of `aacseed serve` all go through `Fleet`.
 *
 * Failures of a seedbox are values, never exceptions out of here: a poll that fails is stored
 * (the seedbox is `failing`, then `down` after `fleet.down_after_s`), a push that fails is
 * logged in `fleet_actions` and tried again by the next apply, which re-plans from a fresh
 * poll. Nothing is pushed twice: the plan only adds where the fresh poll saw no copy, and a
 * copy the daemon already has answers `torrent-duplicate`.
 */
import { readFile } from 'node:fs/promises'
import type { Config } from '../config/index.js'
import type { Db } from '../db/index.js'
import { isEngineError, isFailedCopy, type EngineLogger } from '../engines/index.js'
import { AacseedError, errorMessage } from '../errors.js'
import { Outages } from '../log/outage.js'
import { redactUrl, redactUrlsIn } from '../log/redact.js'
import { FleetError } from './errors.js'
import { holdsPlacements } from './health.js'
import {
  planPlacement,
  type Holding,
  type Placement,
  type PlacementInput,
  type PlacementSeedbox,
} from './placement.js'
import { SeedboxClient, type SeedboxClientOptions, type SeedboxConfig } from './seedbox.js'
import {
  fleetTorrents,
  readHealth,
  replicationRules,
  seedboxViews,
  type FleetConfig,
  type HealthState,
  type SeedboxView,
} from './status.js'
import { FleetStore, type ActionRow, type FleetTorrent } from './store.js'

export { replicationRules, type FleetConfig, type SeedboxView } from './status.js'

export interface FleetOptions {
  env?: NodeJS.ProcessEnv
  logger?: EngineLogger
  /** The clock (tests move it to pass grace periods). */
  now?: () => Date
  /** Retry policies of the seedbox clients (tests shorten them). */
  client?: Pick<SeedboxClientOptions, 'retry' | 'pollRetry'>
  /** Polls in flight at once (default 16). */
  pollConcurrency?: number
}

export interface PollReport {
  seedboxes: number
  answered: number
  failed: Array<{ seedbox: string; code: string; error: string }>
  /** Torrents reported by the seedboxes that answered. */
  torrents: number
  ms: number
}

export interface PlanReport {
  at: string
  placement: Placement
  seedboxes: SeedboxView[]
  torrents: ReadonlyMap<string, FleetTorrent>
}

export interface ApplyFailure {
  seedbox: string
  infohash: string
  name: string
  action: 'add' | 'start' | 'remove'
  code: string
  error: string
}

export interface ApplyReport {
  poll: PollReport
  added: number
  duplicate: number
  started: number
  removed: number
  /** Planned actions not tried: their seedbox did not answer this poll. */
  deferred: number
  failed: ApplyFailure[]
  shortfalls: number
}

/** The health state (status.ts `readHealth`) and the recent pushes. */
export interface FleetStatus extends HealthState {
  recentActions: ActionRow[]
}

/** How often a seedbox that stays down, or keeps coming back and going again, is a warning again. */
const POLL_REMINDER_MS = 60 * 60_000

export class Fleet {
  readonly store: FleetStore
  readonly clients: ReadonlyMap<string, SeedboxClient>
  private readonly config: FleetConfig
  private readonly log: EngineLogger
  /** Each seedbox's missed polls: whether it is down, since when, whether a warning is due. */
  private readonly pollOutages = new Outages({
    reminderMs: POLL_REMINDER_MS,
    now: () => this.now().getTime(),
  })
  private readonly now: () => Date
  private readonly pollConcurrency: number

  constructor(
    private readonly fullConfig: Config,
    readonly db: Db,
    opts: FleetOptions = {},
  ) {
    this.config = fullConfig.fleet
    this.store = new FleetStore(db)
    this.log = opts.logger ?? { info() {}, warn() {}, error() {} }
    this.now = opts.now ?? (() => new Date())
    this.pollConcurrency = opts.pollConcurrency ?? 16
    this.clients = new Map(
      this.config.seedboxes.map((s) => [
        s.name,
        new SeedboxClient(s, {
          ...opts.client,
          labels: this.config.labels,
          logger: this.log,
          ...(opts.env ? { env: opts.env } : {}),
        }),
      ]),
    )
  }

  get seedboxConfigs(): readonly SeedboxConfig[] {
    return this.config.seedboxes
  }

  /** Polls every seedbox (one batched torrent-get each) and stores what each answered, or its failure. */
  async poll(signal?: AbortSignal): Promise<PollReport> {
    const started = performance.now()
    const report: PollReport = { seedboxes: this.clients.size, answered: 0, failed: [], torrents: 0, ms: 0 }
    await mapLimit([...this.clients.values()], this.pollConcurrency, async (client) => {
      if (signal?.aborted) return
      try {
        const poll = await client.poll()
        this.store.recordPoll(client.name, redactUrl(client.url), poll, this.now().toISOString())
        report.answered++
        report.torrents += poll.torrents.length
        const end = this.pollOutages.recovered(client.name)
        if (end) {
          const seconds = Math.round(end.downMs / 1000)
          const fields = { seedbox: client.name, downSeconds: seconds }
          const msg = `fleet: seedbox ${client.name} answers the poll again after ${seconds} s`
          if (end.warned) this.log.info(fields, msg)
          else this.log.debug?.(fields, msg)
        }
      } catch (e) {
        const code = e instanceof AacseedError ? e.code : 'error'
        // A client library's message may quote the URL it called, credentials and all.
        const reason = redactUrlsIn(errorMessage(e))
        if (!(e instanceof AacseedError))
          this.log.error({ seedbox: client.name, err: reason }, 'fleet: poll failed unexpectedly')
        this.store.recordFailure(client.name, redactUrl(client.url), code, reason, this.now().toISOString())
        report.failed.push({ seedbox: client.name, code, error: reason })
        // A warning when it stops answering, a reminder at most hourly, an info line when it is
        // back (log/outage.ts): the poll runs every minute, and a line a minute for a seedbox that
        // is down for a day says nothing new (the stored failure and `fleet status` say it every time).
        const outage = this.pollOutages.of(client.name)
        outage.failed()
        const warning = outage.warning()
        // The seedbox and the reason are in the message as well as in fields: journalctl's default
        // output shows only the message. The name is the config's (lowercase letters, digits and
        // `-`, schema.ts); the reason's URLs are redacted.
        const fields = { seedbox: client.name, code, err: reason }
        const missed = `fleet: seedbox ${client.name} did not answer the poll (${reason})`
        if (warning?.kind === 'first') this.log.warn(fields, missed)
        else if (warning) {
          const minutes = Math.round(warning.downMs / 60_000)
          this.log.warn(
            { ...fields, downSeconds: Math.round(warning.downMs / 1000) },
            `fleet: seedbox ${client.name} still does not answer the poll after ${minutes} min (${reason})`,
          )
        } else this.log.debug?.(fields, missed)
      }
    })
    const cutoff = new Date(this.now().getTime() - this.config.history_days * 86_400_000).toISOString()
    this.store.pruneHistory(cutoff)
    report.ms = Math.round(performance.now() - started)
    return report
  }

  /** The configured seedboxes as the stored polls see them now. */
  seedboxViews(now = this.now()): SeedboxView[] {
    return seedboxViews(this.db, this.config, now, this.store)
  }

  /**
   * Every torrent the fleet keeps: those aacseed made, then those a seed plan gave it (which it downloads
   * from the swarm).
   */
  torrents(): FleetTorrent[] {
    return fleetTorrents(this.db, this.store)
  }

  /**
   * The placement input from the stored state: which seedboxes hold placements, their room, and the copies.
   */
  placementInput(now = this.now()): {
    input: PlacementInput
    seedboxes: SeedboxView[]
    torrents: Map<string, FleetTorrent>
  } {
    const torrents = new Map(this.torrents().map((t) => [t.infohash, t]))
    const views = this.seedboxViews(now)
    const copies = this.store.copies().filter((c) => torrents.has(c.infohash) && this.clients.has(c.seedbox))
    const pending = new Map<string, number>()
    for (const c of copies) {
      if (c.state === 'seeding') continue
      const size = torrents.get(c.infohash)!.totalSize
      pending.set(
        c.seedbox,
        (pending.get(c.seedbox) ?? 0) + Math.ceil(size * (1 - Math.min(1, c.percentDone))),
      )
    }
    const seedboxes: PlacementSeedbox[] = views.map((v) => ({
      name: v.name,
      weight: this.config.seedboxes.find((s) => s.name === v.name)!.weight,
      up: holdsPlacements(v.status),
      capacityBytes: v.capacityBytes > 0 ? v.capacityBytes : Infinity,
      // Unknown free space: keep what it holds, download nothing new.
      freeBytes:
        v.freeBytes === null ? 0 : Math.max(0, v.freeBytes - v.reserveBytes - (pending.get(v.name) ?? 0)),
    }))
    const holdings: Holding[] = copies.map((c) => ({
      seedbox: c.seedbox,
      infohash: c.infohash,
      complete: c.state === 'seeding',
      active: c.state !== 'stopped' && !isFailedCopy(c.state),
    }))
    const input: PlacementInput = {
      torrents: [...torrents.values()].map((t) => ({
        infohash: t.infohash,
        size: t.totalSize,
        kind: t.kind,
        collection: t.collection,
      })),
      seedboxes,
      holdings,
      rules: replicationRules(this.config),
      removeExtra: this.config.remove_extra,
      // The local engine's copy, where the health model counts it (and only there).
      externalCopies: new Map(
        readHealth(this.db, this.fullConfig, now)
          .torrents.filter((t) => t.local)
          .map((t) => [t.infohash, 1]),
      ),
    }
    return { input, seedboxes: views, torrents }
  }

  /** The plan from the stored state (poll first for a fresh one). */
  plan(now = this.now()): PlanReport {
    const { input, seedboxes, torrents } = this.placementInput(now)
    return { at: now.toISOString(), placement: planPlacement(input), seedboxes, torrents }
  }

  /** Poll, plan, store the plan, push what is missing and (with `remove_extra`) remove extras. */
  async apply(signal?: AbortSignal): Promise<ApplyReport> {
    const poll = await this.poll(signal)
    const answered = new Set(
      [...this.clients.keys()].filter((n) => !poll.failed.some((f) => f.seedbox === n)),
    )
    const plan = this.plan()
    this.store.savePlacement(plan.placement.holders, plan.at)
    const report: ApplyReport = {
      poll,
      added: 0,
      duplicate: 0,
      started: 0,
      removed: 0,
      deferred: 0,
      failed: [],
      shortfalls: plan.placement.shortfalls.length,
    }
    type Task = { seedbox: string; infohash: string; action: 'add' | 'start' | 'remove' }
    const tasks: Task[] = [
      ...plan.placement.additions.map((a) => ({
        seedbox: a.seedbox,
        infohash: a.infohash,
        action: a.action,
      })),
      ...plan.placement.removals.map((r) => ({
        seedbox: r.seedbox,
        infohash: r.infohash,
        action: 'remove' as const,
      })),
    ]
    const copies = new Map(this.store.copies().map((c) => [`${c.seedbox} ${c.infohash}`, c]))
    // One queue per seedbox (a daemon takes one push at a time from us), `push_concurrency` queues at once.
    const queues = new Map<string, Task[]>()
    for (const t of tasks) {
      if (!answered.has(t.seedbox)) {
        report.deferred++
        continue
      }
      const q = queues.get(t.seedbox)
      if (q) q.push(t)
      else queues.set(t.seedbox, [t])
    }
    await mapLimit([...queues.values()], this.config.push_concurrency, async (queue) => {
      for (const task of queue) {
        if (signal?.aborted) return
        const client = this.clients.get(task.seedbox)!
        const torrent = plan.torrents.get(task.infohash)!
        const at = () => this.now().toISOString()
        try {
          let outcome: 'ok' | 'duplicate' = 'ok'
          if (task.action === 'add') {
            const bytes = await readFile(torrent.torrentPath).catch((e: unknown) => {
              throw new FleetError(
                'fleet-torrent-missing',
                `cannot read ${torrent.torrentPath}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`,
              )
            })
            const r = await client.push({ torrent: bytes, infoHash: torrent.infohash, name: torrent.name })
            if (r === 'added') report.added++
            else {
              report.duplicate++
              outcome = 'duplicate'
            }
          } else if (task.action === 'start') {
            await client.start(
              task.infohash,
              copies.get(`${task.seedbox} ${task.infohash}`)?.state === 'error',
            )
            report.started++
          } else {
            await client.remove(task.infohash, this.config.delete_data_on_remove)
            report.removed++
          }
          this.store.recordAction({
            at: at(),
            seedbox: task.seedbox,
            infohash: task.infohash,
            action: task.action,
            outcome,
            errorCode: null,
            error: null,
          })
          this.log.debug?.(
            { seedbox: task.seedbox, torrent: torrent.name, action: task.action, outcome },
            `fleet: ${task.action} on ${task.seedbox}`,
          )
        } catch (e) {
          if (!(e instanceof AacseedError)) throw e
          const failure: ApplyFailure = {
            seedbox: task.seedbox,
            infohash: task.infohash,
            name: torrent.name,
            action: task.action,
            code: e.code,
            error: e.message,
          }
          report.failed.push(failure)
          this.store.recordAction({
            at: at(),
            seedbox: task.seedbox,
            infohash: task.infohash,
            action: task.action,
            outcome: 'failed',
            errorCode: e.code,
            error: e.message,
          })
          this.log.warn(
            {
              seedbox: task.seedbox,
              torrent: torrent.name,
              action: task.action,
              code: e.code,
              err: e.message,
            },
            `fleet: ${task.action} on ${task.seedbox} failed`,
          )
          // A seedbox that stopped answering fails every task after this one too: leave the rest to the next
          // apply.
          if (
            isEngineError(e) &&
            (e.code === 'engine-unreachable' || e.code === 'engine-timeout' || e.code === 'engine-auth')
          ) {
            report.deferred += queue.length - queue.indexOf(task) - 1
            return
          }
        }
      }
    })
    return report
  }

  /** Seedboxes, every torrent's health, and the recent pushes, from the stored polls. */
  status(now = this.now()): FleetStatus {
    return { ...readHealth(this.db, this.fullConfig, now), recentActions: this.store.recentActions(20) }
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()))
  }
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
