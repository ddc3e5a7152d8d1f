/**
 * `aacseed mirror sources|sync|status` and `aacseed plan`: following upstream torrent lists
 * and choosing what to seed (src/mirror).
 */
import { resolve } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import type { Config } from '../../config/index.js'
import { parseSize } from '../../config/size.js'
import { formatBytes } from '../../coverage/format.js'
import { openDatabase, openExistingDatabase, type Db } from '../../db/index.js'
import { createEngine, type Engine } from '../../engines/index.js'
import { UsageError } from '../../errors.js'
import { startEngine } from '../../engines/start.js'
import { publishList } from '../../publish/index.js'
import { catalogLock, type Lease } from '../../jobs/leases.js'
import { cliLeases, WAIT_HELP, WAIT_OPTIONS, WAIT_USAGE } from '../leases.js'
import { seedTorrents } from '../../jobs/seed.js'
import { createLogger } from '../../log/index.js'
import {
  applyPlanLocally,
  applyPlanToFleet,
  displayLocation,
  heldHere,
  MirrorStore,
  MirrorSync,
  mirrorRoot,
  planCandidates,
  planSeeding,
  scrapeCandidates,
  type SeedPlan,
  type SyncReport,
} from '../../mirror/index.js'
import { magnetLink } from '../../torrents/index.js'
import { defineCommand, stringFlag, writeJson, type CommandContext } from '../command.js'
import { progressLine } from '../progress.js'
import { withEngineKind } from './service.js'
import { visible } from '../terminal.js'

function openDb(ctx: CommandContext, config: Config, opts: { readOnly?: boolean } = {}): Db {
  const path = resolve(ctx.cwd, stringFlag(ctx.values.db) ?? config.catalog.database)
  return opts.readOnly ? openExistingDatabase(path) : openDatabase(path)
}

function requireSources(config: Config): void {
  if (config.mirror.sources.length === 0)
    throw new UsageError(
      'no mirror source: add a [[mirror.sources]] table to the config (see config/aacseed.example.toml)',
    )
}

/** Warnings and errors to stderr, so stdout stays the report (or JSON). */
function cliLogger(ctx: CommandContext, config: Config) {
  return createLogger({
    level: config.log.level === 'info' ? 'warn' : config.log.level,
    pretty: ctx.err.isTTY === true,
    destination: ctx.err,
  })
}

export const mirrorSources = defineCommand({
  name: 'mirror sources',
  usage: '[--cached] [--json] [--db PATH]',
  options: { cached: { type: 'boolean' }, json: { type: 'boolean' }, db: { type: 'string' } },
  help: [
    '--cached    show the lists as last fetched, without fetching',
    '--json      {sources: [{name, location, fetched_at, ok_at, error, offered, other_torrents, duplicates,',
    '            rejected: [...], torrents: [...], others: [...]}]}',
    'An entry whose name is not an AAC release is an "other" (opaque) torrent, kept with its group;',
    'only malformed entries are rejected.',
    'exit code 1 when a source failed or entries were rejected',
  ],
  async run(ctx) {
    const config = ctx.config()
    requireSources(config)
    const db = openDb(ctx, config)
    try {
      const sync = new MirrorSync({ db, config, engine: null, logger: cliLogger(ctx, config) })
      if (!ctx.values.cached) await sync.refreshSources('always', false, undefined, false)
      const store = sync.store
      const { names: heldNames, btihs: heldBtihs } = heldHere(db)
      const stored = new Map(store.sources().map((s) => [s.name, s]))
      const json = ctx.values.json === true
      const isHeld = (t: { name: string; btih: string }) => heldNames.has(t.name) || heldBtihs.has(t.btih)
      const base = (s: (typeof config.mirror.sources)[number]) => {
        const row = stored.get(s.name)
        // A real list has tens of thousands of other torrents: the text report reads only what it sums.
        const groups = new Map<string, { torrents: number; bytes: number; held: number }>()
        const groupNames = new Set<string>()
        let otherCount = 0
        for (const [btih, top, group, size] of store.opaqueGroupsOf(s.name)) {
          const key = top ? `${top}/${group}` : group
          const g = groups.get(key) ?? { torrents: 0, bytes: 0, held: 0 }
          g.torrents++
          g.bytes += size ?? 0
          if (heldBtihs.has(btih)) g.held++
          groups.set(key, g)
          groupNames.add(group)
          otherCount++
        }
        return {
          name: s.name,
          location: displayLocation(s.list || s.torrent_dir),
          fetched_at: row?.fetchedAt ?? null,
          ok_at: row?.okAt ?? null,
          error: row?.error ?? null,
          other_torrents: otherCount,
          groups: groupNames.size,
          duplicates: row?.duplicates ?? 0,
          rejected: store.rejections(s.name).map(({ entry, code, message }) => ({ entry, code, message })),
          byGroup: groups,
        }
      }
      let failed = false
      if (json) {
        const sources = config.mirror.sources.map((s) => {
          const { byGroup: _, ...head } = base(s)
          const torrents = store.upstream({ source: s.name })
          if (head.error !== null || head.rejected.length > 0) failed = true
          return {
            name: head.name,
            location: head.location,
            fetched_at: head.fetched_at,
            ok_at: head.ok_at,
            error: head.error,
            offered: torrents.length,
            other_torrents: head.other_torrents,
            groups: head.groups,
            duplicates: head.duplicates,
            rejected: head.rejected,
            torrents: torrents.map((t) => ({
              btih: t.btih,
              name: t.name,
              kind: t.kind,
              collection: t.collection,
              from: t.from,
              to: t.to,
              data_size: t.dataSize,
              num_files: t.numFiles,
              seeders: t.seeders,
              leechers: t.leechers,
              completed: t.completed,
              stats_scraped_at: t.scrapedAt,
              obsolete: t.obsolete,
              embargo: t.embargo,
              first_seen_at: t.firstSeenAt,
              top_level_group_name: t.topGroup,
              group_name: t.group,
              held: isHeld(t),
            })),
            others: store.opaque({ source: s.name }).map((o) => ({
              btih: o.btih,
              display_name: o.displayName,
              top_level_group_name: o.topGroup,
              group_name: o.group,
              url: o.torrentUrl,
              data_size: o.dataSize,
              num_files: o.numFiles,
              seeders: o.seeders,
              leechers: o.leechers,
              completed: o.completed,
              stats_scraped_at: o.scrapedAt,
              added_to_torrents_list_at: o.addedAt,
              obsolete: o.obsolete,
              embargo: o.embargo,
              partially_broken: o.partiallyBroken,
              first_seen_at: o.firstSeenAt,
              held: heldBtihs.has(o.btih),
            })),
          }
        })
        writeJson(ctx, { sources })
      } else {
        const lines: string[] = []
        for (const src of config.mirror.sources) {
          const s = base(src)
          if (s.error !== null || s.rejected.length > 0) failed = true
          lines.push(`${s.name}  ${visible(s.location)}`)
          lines.push(
            `  fetched ${s.fetched_at ?? 'never'}${s.error ? `; last fetch failed: ${visible(s.error)}` : ''}`,
          )
          // Summed row by row from the store: a list may hold a million releases.
          const byCollection = new Map<string, { meta: number; data: number; bytes: number; held: number }>()
          const offered = store.eachUpstreamSummary(s.name, (collection, kind, size, name, btih) => {
            let c = byCollection.get(collection)
            if (!c) byCollection.set(collection, (c = { meta: 0, data: 0, bytes: 0, held: 0 }))
            c[kind]++
            c.bytes += size ?? 0
            if (heldNames.has(name) || heldBtihs.has(btih)) c.held++
          })
          const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`
          lines.push(
            `  ${plural(offered, 'AAC release', 'AAC releases')}, ${plural(s.other_torrents, 'other torrent', 'other torrents')} in ${plural(s.groups, 'group', 'groups')}, ${s.rejected.length} rejected${s.duplicates ? ` (${s.duplicates} listed again, kept once)` : ''}`,
          )
          for (const [name, c] of [...byCollection].sort(([a], [b]) => (a < b ? -1 : 1))) {
            lines.push(
              `    ${name}: ${c.meta} metadata, ${c.data} data, ${formatBytes(c.bytes)}; ${c.held} held here`,
            )
          }
          for (const [name, g] of [...s.byGroup].sort(([a], [b]) => (a < b ? -1 : 1))) {
            lines.push(`    ${name}: ${g.torrents} other, ${formatBytes(g.bytes)}; ${g.held} held here`)
          }
          for (const r of s.rejected.slice(0, 20))
            lines.push(`  rejected ${visible(r.entry)}: ${r.code}: ${visible(r.message)}`)
          if (s.rejected.length > 20)
            lines.push(`  … and ${s.rejected.length - 20} more rejected (--json lists all)`)
        }
        ctx.out.write(lines.join('\n') + '\n')
      }
      return failed ? 1 : 0
    } finally {
      db.close()
    }
  },
})

function mergeReports(a: SyncReport | null, b: SyncReport): SyncReport {
  if (!a) return b
  return {
    ...b,
    sources: a.sources,
    rejectedEntries: a.rejectedEntries,
    queued: [...a.queued, ...b.queued],
    started: [...a.started, ...b.started],
    placed: [...a.placed, ...b.placed],
    done: [...a.done, ...b.done],
    rejected: [...a.rejected, ...b.rejected],
    failed: [...a.failed, ...b.failed],
  }
}

function printSync(ctx: CommandContext, r: SyncReport): void {
  const lines: string[] = []
  for (const s of r.sources) {
    lines.push(
      `source ${s.name}: ${s.offered} torrent(s) listed${s.fetched ? '' : ' (stored list)'}${s.rejected ? `, ${s.rejected} entr${s.rejected === 1 ? 'y' : 'ies'} rejected` : ''}${s.error ? `; cannot fetch: ${s.error}` : ''}`,
    )
  }
  for (const e of r.rejectedEntries.slice(0, 20))
    lines.push(`  rejected ${e.source}: ${e.entry}: ${e.code}: ${e.message}`)
  if (r.rejectedEntries.length > 20)
    lines.push(`  … and ${r.rejectedEntries.length - 20} more (--json lists all)`)
  const names = (label: string, list: string[]): void => {
    if (list.length > 0)
      lines.push(`${label} ${list.length}: ${list.slice(0, 10).join(', ')}${list.length > 10 ? ', …' : ''}`)
  }
  names(r.dryRun ? 'would queue' : 'queued', r.queued)
  names(r.dryRun ? 'would start' : 'started', r.started)
  for (const d of r.downloading)
    lines.push(
      `downloading ${visible(d.name)}: ${formatBytes(d.bytesPresent)} of ${formatBytes(d.totalBytes)}`,
    )
  names('verified and cataloged', r.done)
  for (const x of r.rejected) lines.push(`rejected ${visible(x.name)}: ${x.code}: ${visible(x.message)}`)
  for (const x of r.deferred) lines.push(`waiting ${visible(x.name)}: ${x.reason}: ${visible(x.detail)}`)
  for (const x of r.failed)
    lines.push(`failed ${visible(x.name)} (will retry): ${x.code}: ${visible(x.message)}`)
  if (lines.length === r.sources.length) lines.push('nothing to do: every followed range is held here')
  ctx.out.write(lines.join('\n') + '\n')
}

export const mirrorSync = defineCommand({
  name: 'mirror sync',
  usage: `[--dry-run] [--no-wait] [--engine webtorrent|transmission] [--json] [--db PATH] ${WAIT_USAGE}`,
  options: {
    'dry-run': { type: 'boolean' },
    'no-wait': { type: 'boolean' },
    engine: { type: 'string' },
    json: { type: 'boolean' },
    db: { type: 'string' },
    ...WAIT_OPTIONS,
  },
  help: [
    '--dry-run   fetch the lists and show what would be downloaded; change nothing',
    '--no-wait   one pass: start downloads and return (the embedded engine stops with the command;',
    '            the next sync, or `aacseed serve`, resumes them). Default with webtorrent: wait',
    '            until the downloads in flight are verified and cataloged',
    '--json      the sync report as JSON',
    ...WAIT_HELP,
    '           (--wait is about the lease; --no-wait is about the downloads)',
    'exit code 1 when a source failed, entries or downloads were rejected, or something will be retried',
  ],
  async run(ctx) {
    const config = withEngineKind(ctx.config({ checkRoots: true }), stringFlag(ctx.values.engine))
    requireSources(config)
    mirrorRoot(config)
    const log = cliLogger(ctx, config)
    log.debug({}, 'mirror sync: config read')
    const db = openDb(ctx, config)
    let engine: Engine | null = null
    let lease: Lease | undefined
    const controller = new AbortController()
    const onSignal = (): void => controller.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      if (ctx.values['dry-run']) {
        const r = await new MirrorSync({ db, config, engine: null, logger: log }).run({ dryRun: true })
        if (ctx.values.json) writeJson(ctx, r)
        else printSync(ctx, r)
        return r.sources.some((s) => s.error) || r.rejectedEntries.length > 0 ? 1 : 0
      }
      // serve's mirror_sync job and this command would start the same downloads twice.
      const leases = cliLeases(db, ctx, controller.signal)
      lease = await leases.take('mirror_sync', 'mirror sync')
      log.debug({}, 'mirror sync: catalog open, lease taken')
      engine = createEngine(config.engine, { logger: log.child({ area: 'engine' }), env: ctx.env })
      // Started while the first pass reads the lists; that pass awaits it before using it.
      let engineReady: Promise<void> | undefined = startEngine(engine)
      engineReady.catch(() => {})
      const e = engine
      // The embedded engine stops with this command: a release placed in the last pass would be
      // added to it only to be stopped again (a tracker `started` and `stopped` for nothing, about
      // 60 ms of the 2 GiB sync's end on the bench machine, #14 §1). Its new torrents are handed
      // to it when the command goes on waiting for other downloads; a daemon keeps them, so it
      // gets them at once.
      const embedded = e.kind === 'webtorrent'
      let unseeded = false
      const sync = new MirrorSync({
        db,
        config,
        engine: e,
        logger: log.child({ area: 'mirror' }),
        exclusive: catalogLock(leases, 'mirror sync'),
        afterPlace: async () => {
          await publishList(db, config)
          if (embedded) unseeded = true
          else await seedTorrents(db, e)
        },
      })
      const wait = !ctx.values['no-wait'] && embedded
      const bar = progressLine(ctx.err, 'mirror')
      let total: SyncReport | null = null
      let refresh: 'always' | 'never' = 'always'
      for (;;) {
        const r = await sync.run({
          refresh,
          signal: controller.signal,
          ...(engineReady ? { engineReady } : {}),
        })
        engineReady = undefined
        refresh = 'never'
        total = mergeReports(total, r)
        if (!wait || r.inFlight === 0 || controller.signal.aborted) break
        if (unseeded) {
          unseeded = false
          await seedTorrents(db, e, { signal: controller.signal })
        }
        const done = r.downloading.reduce((s, d) => s + d.bytesPresent, 0)
        const all = r.downloading.reduce((s, d) => s + d.totalBytes, 0)
        bar.update(done, all, `${r.downloading.length} downloading`)
        downloadingHeap(true)
        try {
          await untilOneCompletes(sync, e, controller.signal)
        } finally {
          downloadingHeap(false)
        }
      }
      bar.done()
      if (ctx.values.json) writeJson(ctx, total)
      else printSync(ctx, total)
      const troubled =
        total.sources.some((s) => s.error) ||
        total.rejectedEntries.length > 0 ||
        total.rejected.length > 0 ||
        total.failed.length > 0
      return troubled || controller.signal.aborted ? 1 : 0
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      await engine?.close().catch(() => undefined)
      if (engine) log.debug({}, 'mirror sync: engine stopped')
      lease?.release()
      db.close()
    }
  },
})

/**
 * While webtorrent downloads in this process, V8's old generation may grow to 5× what is live
 * before a full (mark-compact) collection; afterwards V8's own sizing again.
 *
 * Why: each received block is kept (as views into socket reads and piece buffers) until its
 * piece is hashed and written, so many survive two scavenges and are promoted; with V8's default
 * sizing for a ~20 MB live heap, that started a mark-compact about every 10 MB downloaded (186
 * of them for a 2 GiB data folder, `--trace-gc`), whose concurrent marking took about 8 s of CPU
 * on V8's worker threads beside the 10 s of the main thread. On a 2-core seedbox that competes
 * with everything else, and it made `mirror sync` slower than aria2c from the same seeder
 * (#14 §1). Measured on a shared machine, 2 GiB: `node --heap-growing-percent=400` made 22–29
 * mark-compacts and user CPU went 16.2/12.0 s → 10.1/8.1 s (A/B back to back); set here at run
 * time it made 53–67 (V8 reads the flag each time it sets the next limit, so it takes effect from
 * the next collection on). Peak RSS about 20 MB more. Only around the wait for downloads:
 * reading a list or scanning a release keeps V8's own sizing.
 */
function downloadingHeap(on: boolean): void {
  setFlagsFromString(`--heap-growing-percent=${on ? 400 : 0}`)
}

/**
 * Waits up to a second between passes, but no longer than a download takes to complete: the
 * engine is asked twenty times a second (a pass, which reads the followed lists, runs at most
 * once a second), and at once when it says a download's last piece is verified
 * (`Engine.onDownloaded`: the embedded engine), so a release's check starts then rather than
 * up to 50 ms later (#14 §1). Asking the embedded engine is a walk over the torrents it holds
 * in this process.
 */
async function untilOneCompletes(sync: MirrorSync, engine: Engine, signal: AbortSignal): Promise<void> {
  const downloading = new Set(sync.store.downloads(['downloading']).map((d) => d.btih))
  const until = Date.now() + 1000
  let wake: (() => void) | null = null
  const stop = engine.onDownloaded?.((infoHash) => {
    if (downloading.has(infoHash)) wake?.()
  })
  try {
    while (Date.now() < until && !signal.aborted) {
      await new Promise<void>((res) => {
        const timer = setTimeout(() => res(), 50)
        wake = () => {
          clearTimeout(timer)
          res()
        }
      })
      wake = null
      if (downloading.size === 0) continue
      const complete = (await engine.list()).some(
        (s) =>
          downloading.has(s.infoHash) &&
          s.totalBytes > 0 &&
          s.bytesPresent === s.totalBytes &&
          s.state !== 'checking',
      )
      if (complete) return
    }
  } finally {
    stop?.()
  }
}

export const mirrorStatus = defineCommand({
  name: 'mirror status',
  usage: '[--json] [--db PATH]',
  options: { json: { type: 'boolean' }, db: { type: 'string' } },
  async run(ctx) {
    const config = ctx.config()
    const db = openDb(ctx, config, { readOnly: true })
    try {
      const rows = new MirrorStore(db).downloads().map((d) => ({
        btih: d.btih,
        name: d.name,
        kind: d.kind,
        source: d.source,
        wanted_by: d.wantedBy,
        state: d.state,
        total_size: d.totalSize,
        attempts: d.attempts,
        next_attempt_at: d.nextAttemptAt,
        error_code: d.errorCode,
        error: d.error,
        updated_at: d.updatedAt,
        done_at: d.doneAt,
      }))
      if (ctx.values.json) writeJson(ctx, { downloads: rows })
      else if (rows.length === 0) ctx.out.write('no mirror downloads yet\n')
      else {
        const lines = rows.map(
          (d) =>
            `${d.state.padEnd(11)} ${(d.total_size === null ? '?' : formatBytes(d.total_size)).padStart(10)}  ${d.name}${d.error ? `  (${d.error_code}: ${d.error}${d.state === 'queued' && d.next_attempt_at ? `; next try ${d.next_attempt_at}` : ''})` : ''}`,
        )
        ctx.out.write(lines.join('\n') + '\n')
      }
      return rows.some((d) => d.state === 'rejected') ? 1 : 0
    } finally {
      db.close()
    }
  },
})

function planJson(plan: SeedPlan) {
  return {
    budget_bytes: plan.budgetBytes,
    bytes: plan.bytes,
    chosen: plan.chosen.map((c) => ({
      btih: c.btih,
      name: c.name,
      kind: c.kind,
      collection: c.collection,
      top_level_group_name: c.topGroup,
      group_name: c.group,
      bytes: c.bytes,
      seeders: c.seeders,
      stats_scraped_at: c.scrapedAt,
      url: c.torrentUrl,
      magnet_link: c.magnet ?? magnetLink({ infoHash: c.btih, name: c.name, trackers: [] }),
      metadata_for: c.metadataFor,
    })),
    skipped: plan.skipped,
  }
}

export const planCommand = defineCommand({
  name: 'plan',
  usage: `--budget SIZE [--collections GLOB,...] [--groups GLOB,...] [--max-seeders N] [--format table|json|magnets|torrents] [--refresh] [--scrape] [--apply local|fleet] [--db PATH] ${WAIT_USAGE}`,
  options: {
    ...WAIT_OPTIONS,
    budget: { type: 'string' },
    collections: { type: 'string' },
    groups: { type: 'string' },
    'max-seeders': { type: 'string' },
    format: { type: 'string' },
    refresh: { type: 'boolean' },
    scrape: { type: 'boolean' },
    apply: { type: 'string' },
    db: { type: 'string' },
  },
  help: [
    '--budget SIZE        disk to fill: 10TB, 500GB, 2TiB, or bytes',
    '--collections LIST   comma-separated `*` globs over AAC collections',
    "--groups LIST        comma-separated `*` globs over the list's groups: `scihub`, `libgen_*`, or",
    '                     `external/*` with the top-level group. With neither option every torrent',
    '                     in the lists is a candidate (AAC or not); with one or both, a torrent is one',
    '                     when its collection or its group matches',
    '--max-seeders N      leave out torrents with more seeders than N (default 10: the swarm keeps them)',
    '--format F           table (default), json, magnets (one per line), torrents (.torrent URLs, one per line)',
    '--refresh            fetch the mirror sources first (default: their lists as last fetched)',
    "--scrape             ask the trackers of the candidates' magnet links (and scrape.trackers) for",
    "                     their seeders now, instead of trusting the lists' figures",
    '--apply local        queue the chosen torrents for download into the mirror root; `aacseed mirror sync`',
    '                     (or the mirror_sync job of `aacseed serve`) downloads, verifies and seeds them',
    '--apply fleet        give them to the fleet: `fleet apply` (or its job) places each on N seedboxes,',
    '                     which download it from the swarm; no local copy is made',
    '--apply holds the lease of the job that acts on what it writes (mirror_sync for local,',
    '                     fleet_apply for fleet), so it never changes the queue under a running one',
    ...WAIT_HELP,
    'exit code 1 when --apply could not take some torrent (its .torrent unreachable or invalid)',
    'Order: fewest seeders first, metadata before data, smaller first; a data torrent brings the',
    'metadata torrents of its collection that overlap its range. Obsolete, embargoed and held torrents are left out.',
    'Torrents that are not AAC releases (Library Genesis, Sci-Hub, …) are planned like data.',
  ],
  async run(ctx) {
    const config = ctx.config()
    const budgetArg = stringFlag(ctx.values.budget)
    if (budgetArg === undefined)
      throw new UsageError('usage: aacseed plan --budget SIZE (e.g. --budget 10TB)')
    const budget = parseSize(budgetArg)
    if (budget === null) throw new UsageError(`--budget ${budgetArg}: not a size (e.g. 500GB, 10TB, 2TiB)`)
    const maxSeedersArg = stringFlag(ctx.values['max-seeders']) ?? '10'
    const maxSeeders = Number(maxSeedersArg)
    if (!Number.isInteger(maxSeeders) || maxSeeders < 0)
      throw new UsageError(`--max-seeders ${maxSeedersArg}: must be a whole number`)
    const format = stringFlag(ctx.values.format) ?? 'table'
    if (!['table', 'json', 'magnets', 'torrents'].includes(format))
      throw new UsageError(`--format must be table, json, magnets or torrents, not ${JSON.stringify(format)}`)
    const apply = stringFlag(ctx.values.apply)
    if (apply !== undefined && apply !== 'local' && apply !== 'fleet')
      throw new UsageError(`--apply must be local or fleet, not ${JSON.stringify(apply)}`)
    if (apply === 'fleet' && config.fleet.seedboxes.length === 0)
      throw new UsageError('--apply fleet: no seedbox is configured ([[fleet.seedboxes]])')
    const globs = (v: unknown): string[] | undefined =>
      stringFlag(v)
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    const collections = globs(ctx.values.collections)
    const groups = globs(ctx.values.groups)
    const db = openDb(ctx, config)
    try {
      const sync = new MirrorSync({ db, config, engine: null, logger: cliLogger(ctx, config) })
      if (ctx.values.refresh) {
        requireSources(config)
        await sync.refreshSources('always', false, undefined, false)
      }
      let candidates = planCandidates(db)
      if (candidates.length === 0)
        throw new UsageError(
          'no upstream torrents known: configure [[mirror.sources]] and run `aacseed mirror sources` (or pass --refresh)',
        )
      if (ctx.values.scrape) {
        const r = await scrapeCandidates(db, config, candidates)
        ctx.err.write(
          `scraped ${r.torrents} torrent(s) at ${r.trackers} tracker(s): ${r.figures} figure(s)${r.failed.length ? `; ${r.failed.length} tracker(s) failed: ${r.failed.map((f) => `${f.tracker}: ${f.error}`).join('; ')}` : ''}\n`,
        )
        candidates = planCandidates(db)
      }
      const plan = planSeeding(candidates, {
        budgetBytes: budget,
        maxSeeders,
        ...(collections ? { collections } : {}),
        ...(groups ? { groups } : {}),
      })
      // What --apply writes is what mirror sync (local) or fleet apply (fleet) acts on.
      const applied =
        apply === 'local'
          ? await cliLeases(db, ctx).with(['mirror_sync'], 'plan --apply local', () =>
              Promise.resolve(applyPlanLocally(db, config, plan.chosen)),
            )
          : apply === 'fleet'
            ? await cliLeases(db, ctx).with(['fleet_apply'], 'plan --apply fleet', () =>
                applyPlanToFleet(db, config, plan.chosen),
              )
            : null
      if (format === 'json')
        writeJson(ctx, { ...planJson(plan), ...(applied ? { applied: { to: apply, ...applied } } : {}) })
      else if (format === 'magnets')
        ctx.out.write(
          planJson(plan)
            .chosen.map((c) => c.magnet_link + '\n')
            .join(''),
        )
      else if (format === 'torrents')
        ctx.out.write(
          planJson(plan)
            .chosen.map((c) => (c.url ?? c.magnet_link) + '\n')
            .join(''),
        )
      else {
        const lines = [`${'seeders'.padStart(7)}  ${'size'.padStart(10)}  kind   name`]
        for (const c of plan.chosen) {
          const label = c.kind === 'other' ? `${c.group || '(no group)'}/${c.name}` : c.name
          lines.push(
            `${(c.seeders === null ? '?' : String(c.seeders)).padStart(7)}  ${formatBytes(c.bytes).padStart(10)}  ${c.kind.padEnd(5)}  ${label}${c.metadataFor ? '  (metadata for the data below)' : ''}`,
          )
        }
        const s = plan.skipped
        lines.push(
          `${plan.chosen.length} torrent(s), ${formatBytes(plan.bytes)} of the ${formatBytes(plan.budgetBytes)} budget`,
          `left out: ${s.held} held here or by the fleet, ${s['well-seeded']} with more than ${maxSeeders} seeders, ${s.obsolete} obsolete, ${s.embargo} embargoed, ${s['not-followed']} in other collections or groups, ${s['unknown-size']} of unknown size, ${s['over-budget']} over the budget`,
        )
        if (applied && apply === 'local')
          lines.push(
            `queued ${applied.added.length} for download (${applied.already.length} already queued); run \`aacseed mirror sync\` (or let \`aacseed serve\` do it)`,
          )
        if (applied && apply === 'fleet')
          lines.push(
            `gave ${applied.added.length} to the fleet (${applied.already.length} it already had); \`aacseed fleet apply\` (or its job) places them on the seedboxes`,
          )
        for (const f of applied?.failed ?? [])
          lines.push(`not applied ${visible(f.name)}: ${f.code}: ${visible(f.message)}`)
        ctx.out.write(lines.join('\n') + '\n')
      }
      return applied && applied.failed.length > 0 ? 1 : 0
    } finally {
      db.close()
    }
  },
})
