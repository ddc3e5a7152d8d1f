import { resolve } from 'node:path'
import type { Config } from '../../config/index.js'
import { openDatabase, openExistingDatabase, type Db } from '../../db/index.js'
import { EngineStatusStore } from '../../engines/index.js'
import {
  Fleet,
  FleetStore,
  type FleetStatus,
  type PlanReport,
  type SeedboxView,
  type TorrentHealthReport,
} from '../../fleet/index.js'
import { cliLeases, WAIT_HELP, WAIT_OPTIONS, WAIT_USAGE } from '../leases.js'
import { createLogger } from '../../log/index.js'
import { MirrorStore } from '../../mirror/index.js'
import { defineCommand, stringFlag, writeJson, type CommandContext } from '../command.js'
import { formatBytes } from '../../coverage/format.js'

/** Opens the database and the fleet, runs `fn`, closes both. */
async function withFleet<T>(
  ctx: CommandContext,
  fn: (fleet: Fleet, config: Config) => Promise<T>,
  open: (path: string) => Db = openDatabase,
): Promise<T> {
  const config = ctx.config()
  const db = open(resolve(ctx.cwd, stringFlag(ctx.values.db) ?? config.catalog.database))
  const logger = createLogger({ level: 'warn', destination: ctx.err, pretty: false })
  const fleet = new Fleet(config, db, { env: ctx.env, logger })
  try {
    return await fn(fleet, config)
  } finally {
    await fleet.close()
    db.close()
  }
}

/** A poll from the CLI writes what serve's fleet_poll job writes: one poller at a time. */
async function pollHolding(ctx: CommandContext, fleet: Fleet): Promise<void> {
  await cliLeases(fleet.db, ctx).with(['fleet_poll'], 'fleet poll', () => fleet.poll())
}

/** For the commands that report stored state: a missing database is an error, not created. */
function withStoredFleet<T>(
  ctx: CommandContext,
  fn: (fleet: Fleet, config: Config) => Promise<T>,
): Promise<T> {
  return withFleet(ctx, fn, openExistingDatabase)
}

const bytes = (n: number | null): string => (n === null ? '?' : Number.isFinite(n) ? formatBytes(n) : '∞')

function seedboxLines(views: readonly SeedboxView[]): string[] {
  if (views.length === 0) return ['no seedboxes configured ([[fleet.seedboxes]] in the config)']
  const rows = views.map((v) => [
    v.name,
    v.kind,
    v.version ?? '?',
    v.status,
    v.lastSeenAt ?? 'never',
    v.latencyMs === null ? '-' : `${v.latencyMs} ms`,
    bytes(v.freeBytes),
    String(v.torrents),
    String(v.errors),
    String(v.planned),
    v.error ? `${v.error.code}: ${v.error.message}` : v.tags.join(','),
  ])
  const head = [
    'seedbox',
    'kind',
    'version',
    'status',
    'last seen',
    'rpc',
    'free',
    'torrents',
    'errors',
    'planned',
    'error / tags',
  ]
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(head), ...rows.map(line)]
}

function planJson(p: PlanReport) {
  const name = (h: string) => p.torrents.get(h)?.name ?? h
  return {
    at: p.at,
    torrents: p.torrents.size,
    placements: [...p.placement.holders.values()].reduce((n, l) => n + l.length, 0),
    seedboxes: p.placement.seedboxes.map((s) => ({
      ...s,
      capacityBytes: Number.isFinite(s.capacityBytes) ? s.capacityBytes : null,
      freeBytes: Number.isFinite(s.freeBytes) ? s.freeBytes : null,
      status: p.seedboxes.find((v) => v.name === s.name)?.status,
    })),
    additions: p.placement.additions.map((a) => ({ ...a, name: name(a.infohash) })),
    removals: p.placement.removals.map((r) => ({ ...r, name: name(r.infohash) })),
    kept: p.placement.kept.map((k) => ({ ...k, name: name(k.infohash) })),
    shortfalls: p.placement.shortfalls.map((s) => ({ ...s, name: name(s.infohash) })),
    holders: Object.fromEntries(p.placement.holders),
  }
}

const LIST_LIMIT = 50

function listed<T>(items: readonly T[], fmt: (x: T) => string, all: boolean): string[] {
  const shown = all ? items : items.slice(0, LIST_LIMIT)
  const out = shown.map(fmt)
  if (shown.length < items.length)
    out.push(`  … and ${items.length - shown.length} more (--all lists every one)`)
  return out
}

export const fleetPlan = defineCommand({
  name: 'fleet plan',
  usage: `[--json] [--no-poll] [--all] [--db PATH] ${WAIT_USAGE}`,
  options: {
    json: { type: 'boolean' },
    'no-poll': { type: 'boolean' },
    all: { type: 'boolean' },
    db: { type: 'string' },
    ...WAIT_OPTIONS,
  },
  help: [
    'Polls every seedbox first (--no-poll: plan from the last stored poll), holding the fleet_poll',
    'lease as the fleet_poll job does. Changes no placement.',
    ...WAIT_HELP,
    'Exit 1 when some torrent cannot reach its target of copies.',
  ],
  async run(ctx) {
    return await withFleet(ctx, async (fleet) => {
      if (!ctx.values['no-poll']) await pollHolding(ctx, fleet)
      const p = fleet.plan()
      if (ctx.values.json) writeJson(ctx, planJson(p))
      else {
        const name = (h: string) => p.torrents.get(h)?.name ?? h
        const all = ctx.values.all === true
        const lines = [
          `plan at ${p.at}: ${p.torrents.size} torrent(s) over ${p.seedboxes.length} seedbox(es)`,
        ]
        lines.push(
          ...p.placement.seedboxes.map(
            (s) =>
              `  ${s.name}: ${s.up ? 'up' : 'not placing'}, ${s.torrents} torrent(s), ${bytes(s.bytes)} (${bytes(s.newBytes)} to download; room ${bytes(s.freeBytes)})`,
          ),
        )
        lines.push(`additions: ${p.placement.additions.length}`)
        lines.push(
          ...listed(
            p.placement.additions,
            (a) =>
              `  + ${a.seedbox} ${a.action === 'start' ? 'start' : 'add'} ${name(a.infohash)} (${bytes(a.bytes)})`,
            all,
          ),
        )
        lines.push(`removals: ${p.placement.removals.length}`)
        lines.push(...listed(p.placement.removals, (r) => `  - ${r.seedbox} ${name(r.infohash)}`, all))
        if (p.placement.kept.length > 0) {
          const by = new Map<string, number>()
          for (const k of p.placement.kept) by.set(k.reason, (by.get(k.reason) ?? 0) + 1)
          lines.push(`extra copies kept: ${[...by].map(([r, n]) => `${n} ${r}`).join(', ')}`)
        }
        lines.push(`cannot reach N: ${p.placement.shortfalls.length}`)
        lines.push(
          ...listed(
            p.placement.shortfalls,
            (s) => `  ! ${name(s.infohash)}: ${s.planned}/${s.target}: ${s.reason}`,
            all,
          ),
        )
        ctx.out.write(lines.join('\n') + '\n')
      }
      return p.placement.shortfalls.length > 0 ? 1 : 0
    })
  },
})

export const fleetApply = defineCommand({
  name: 'fleet apply',
  usage: `[--json] [--db PATH] ${WAIT_USAGE}`,
  options: { json: { type: 'boolean' }, db: { type: 'string' }, ...WAIT_OPTIONS },
  help: [...WAIT_HELP, 'Exit 1 when a push failed or some torrent cannot reach its target of copies.'],
  async run(ctx) {
    return await withFleet(ctx, async (fleet) => {
      // serve's fleet_apply job and this command would push the same placements twice.
      const r = await cliLeases(fleet.db, ctx).with(['fleet_apply'], 'fleet apply', () => fleet.apply())
      if (ctx.values.json) writeJson(ctx, r)
      else {
        const lines = [
          `polled ${r.poll.answered}/${r.poll.seedboxes} seedbox(es) in ${r.poll.ms} ms`,
          `${r.added} added, ${r.duplicate} already there, ${r.started} started, ${r.removed} removed, ${r.deferred} deferred (seedbox not answering), ${r.failed.length} failed, ${r.shortfalls} below N`,
          ...r.poll.failed.map((f) => `  ${f.seedbox}: ${f.code}: ${f.error}`),
          ...r.failed.map((f) => `  ${f.action} ${f.name} on ${f.seedbox}: ${f.code}: ${f.error}`),
        ]
        ctx.out.write(lines.join('\n') + '\n')
      }
      return r.failed.length > 0 || r.shortfalls > 0 ? 1 : 0
    })
  },
})

/**
 * `degraded 1/2 NAME  copies: local seeding, box-a seeding [6], box-b downloading [stalledDL], box-c seeding [Seeding] (not counted)`:
 * the one state vocabulary, and in brackets the daemon's own word for it.
 */
function torrentLine(t: TorrentHealthReport): string {
  const errs = t.errors
    .map((e) => ` [${e.seedbox}: ${e.kind === 'tracker' ? 'tracker: ' : ''}${e.message}]`)
    .join('')
  const copies = t.copies
    .map(
      (c) =>
        `${c.holder} ${c.state}${c.native && c.native !== c.state ? ` [${c.native}]` : ''}${c.state === 'seeding' && !c.counted ? ' (not counted)' : ''}`,
    )
    .join(', ')
  return `  ${t.health.padEnd(8)} ${t.complete}/${t.target} ${t.name}  ${copies ? `copies: ${copies}` : 'no copy'}${errs}`
}

function statusJson(s: FleetStatus) {
  return {
    at: s.at,
    replicas: s.replicas,
    counts: s.counts,
    seedboxes: s.seedboxes,
    torrents: s.torrents,
    recent_actions: s.recentActions,
  }
}

export const fleetStatus = defineCommand({
  name: 'fleet status',
  usage: `[--json] [--poll] [--all] [--db PATH] ${WAIT_USAGE}`,
  options: {
    json: { type: 'boolean' },
    poll: { type: 'boolean' },
    all: { type: 'boolean' },
    db: { type: 'string' },
    ...WAIT_OPTIONS,
  },
  help: [
    'From the last stored poll (`aacseed serve` polls on schedule); --poll polls first, holding the',
    'fleet_poll lease as the fleet_poll job does.',
    ...WAIT_HELP,
    '--all lists healthy torrents too.',
  ],
  async run(ctx) {
    return await withStoredFleet(ctx, async (fleet) => {
      if (ctx.values.poll) await pollHolding(ctx, fleet)
      const s = fleet.status()
      if (ctx.values.json) writeJson(ctx, statusJson(s))
      else {
        const all = ctx.values.all === true
        const lines = [
          ...seedboxLines(s.seedboxes),
          '',
          `torrents: ${s.counts.ok} ok, ${s.counts.degraded} degraded, ${s.counts.lost} lost (N = ${s.replicas}; the local engine's copy ${s.localCounts ? 'counts' : 'does not count'})`,
        ]
        const shown = all ? s.torrents : s.torrents.filter((t) => t.health !== 'ok' || t.errors.length > 0)
        lines.push(...listed(shown, torrentLine, all))
        if (s.recentActions.length > 0) {
          lines.push('', 'recent pushes:')
          lines.push(
            ...s.recentActions
              .slice(0, 10)
              .map(
                (a) =>
                  `  ${a.at} ${a.action} ${a.infohash.slice(0, 12)} on ${a.seedbox}: ${a.outcome}${a.error ? ` (${a.error})` : ''}`,
              ),
          )
        }
        ctx.out.write(lines.join('\n') + '\n')
      }
      return 0
    })
  },
})

interface HealthProblem {
  id: string
  severity: 'warning' | 'error'
  summary: string
  details: string
}

export const healthCommand = defineCommand({
  name: 'health',
  usage: '[--json] [--db PATH]',
  options: { json: { type: 'boolean' }, db: { type: 'string' } },
  help: ['From the stored polls and scrapes. Exit 0 when all is well, 1 when there is a problem.'],
  async run(ctx) {
    return await withStoredFleet(ctx, async (fleet) => {
      const s = fleet.status()
      const store = new FleetStore(fleet.db)
      const trackers = store.trackers()
      const engine = new EngineStatusStore(fleet.db).all()
      const problems: HealthProblem[] = []
      for (const b of s.seedboxes) {
        if (b.status === 'down' || b.status === 'failing' || b.status === 'unknown') {
          const sev =
            b.status === 'failing' || (b.status === 'unknown' && b.lastPolledAt === null)
              ? 'warning'
              : 'error'
          problems.push({
            id: `seedbox-${b.status}:${b.name}`,
            severity: sev,
            summary: `seedbox ${b.name} is ${b.status}${b.status === 'unknown' && b.lastPolledAt === null ? ' (never polled)' : ''}`,
            details: b.error ? `${b.error.code}: ${b.error.message}` : `last seen ${b.lastSeenAt ?? 'never'}`,
          })
        }
      }
      for (const t of s.torrents) {
        if (t.health !== 'ok') {
          const on = [...(t.local ? ['the local engine'] : []), ...t.holders]
          problems.push({
            id: `torrent-${t.health}:${t.infohash}`,
            severity: t.health === 'lost' ? 'error' : 'warning',
            summary: `${t.name}: ${t.health}, ${t.complete} of ${t.target} copies`,
            details: on.length ? `counted: ${on.join(', ')}` : 'no copy counts',
          })
        }
        // The local engine's errors are listed below, from its own report.
        for (const e of t.errors.filter((x) => x.kind === 'local' && x.seedbox !== 'local'))
          problems.push({
            id: `copy-error:${e.seedbox}:${t.infohash}`,
            severity: 'error',
            summary: `${t.name} on ${e.seedbox}: ${e.message}`,
            details: 'the daemon reports a local error (missing or unreadable data, disk full)',
          })
      }
      for (const tr of trackers)
        if (tr.error)
          problems.push({
            id: `tracker-failing:${tr.tracker}`,
            severity: 'warning',
            summary: `scrape of ${tr.tracker} failed`,
            details: tr.error,
          })
      for (const e of engine.filter((x) => x.state === 'error'))
        problems.push({
          id: `engine-error:${e.infoHash}`,
          severity: 'error',
          summary: `${e.name}: the local ${e.engine} engine reports an error`,
          details: e.error ?? '',
        })
      const mirror = new MirrorStore(fleet.db)
      for (const src of mirror.sources())
        if (src.error)
          problems.push({
            id: `mirror-source-failing:${src.name}`,
            severity: 'warning',
            summary: `mirror source ${src.name} cannot be fetched (its last list is used)`,
            details: src.error,
          })
      for (const d of mirror.downloads(['rejected'])) {
        problems.push({
          id: `mirror-rejected:${d.btih}`,
          severity: 'error',
          summary: `mirror: ${d.name} was rejected and is not published`,
          details: `${d.errorCode}: ${d.error ?? ''}`,
        })
      }
      for (const d of mirror.downloads(['queued', 'downloading']).filter((x) => x.attempts >= 3)) {
        problems.push({
          id: `mirror-retrying:${d.btih}`,
          severity: 'warning',
          summary: `mirror: ${d.name} failed ${d.attempts} times; next try ${d.nextAttemptAt ?? 'soon'}`,
          details: `${d.errorCode}: ${d.error ?? ''}`,
        })
      }
      const report = {
        at: s.at,
        ok: problems.length === 0,
        problems,
        engine: {
          torrents: engine.length,
          seeding: engine.filter((e) => e.state === 'seeding').length,
          errors: engine.filter((e) => e.state === 'error').length,
        },
        fleet: { replicas: s.replicas, counts: s.counts, seedboxes: s.seedboxes },
        trackers,
        torrents: s.torrents,
      }
      if (ctx.values.json) writeJson(ctx, report)
      else {
        const lines = [
          `health at ${s.at}: ${problems.length === 0 ? 'all well' : `${problems.length} problem(s)`}`,
          `local engine: ${report.engine.seeding}/${report.engine.torrents} seeding, ${report.engine.errors} in error`,
          `fleet: ${s.seedboxes.filter((b) => b.status === 'up').length}/${s.seedboxes.length} seedbox(es) up; torrents ${s.counts.ok} ok, ${s.counts.degraded} degraded, ${s.counts.lost} lost (N = ${s.replicas})`,
          `swarm: ${s.torrents.filter((t) => t.swarm !== null).length}/${s.torrents.length} torrent(s) scraped${trackers.length ? `; trackers: ${trackers.map((t) => `${t.tracker} ${t.error ? 'failing' : 'ok'}`).join(', ')}` : ''}`,
          ...listed(
            problems,
            (p) =>
              `  ${p.severity === 'error' ? 'ERROR' : 'warn '} ${p.summary}${p.details ? ` — ${p.details}` : ''}`,
            false,
          ),
        ]
        ctx.out.write(lines.join('\n') + '\n')
      }
      return problems.length > 0 ? 1 : 0
    })
  },
})
