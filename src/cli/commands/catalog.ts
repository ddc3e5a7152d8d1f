import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { parseDataFolderName, parseMetaFileName } from '../../aac/index.js'
// scan.js, not the catalog's index: `scan` should not load the sample writer or the zstd
// compressor (start-up is a fixed part of every scan's time).
import { scan, scanSettings, type ScanReport } from '../../catalog/scan.js'
import { LinePool, takePrestartedReaders } from '../../catalog/line-pool.js'
import type { Config } from '../../config/index.js'
import { openDatabase, openExistingDatabase } from '../../db/index.js'
import { UsageError } from '../../errors.js'
import { cliLeases, WAIT_HELP, WAIT_OPTIONS, WAIT_USAGE } from '../leases.js'
import { defineCommand, stringFlag, writeJson, type CommandContext } from '../command.js'
import { formatBytes } from '../../coverage/format.js'
import { progressLine } from '../progress.js'
import { aacseedCommand } from '../invocation.js'
import { rawStream, visible } from '../terminal.js'

function reportJson(r: ScanReport) {
  return {
    meta_files: r.meta_files,
    data_folders: r.data_folders,
    records: r.records,
    data_files: r.data_files,
    problems: r.problems,
  }
}

function printReport(ctx: CommandContext, r: ScanReport, verb: string): void {
  const s = r.stats
  const lines = [
    `${verb} ${r.meta_files} metadata file(s) with ${r.records.toLocaleString('en')} records, ${r.data_folders} data folder(s) with ${r.data_files.toLocaleString('en')} files`,
    `read ${s.entriesRead} entr${s.entriesRead === 1 ? 'y' : 'ies'} (${formatBytes(s.bytesRead)} compressed, ${s.recordsRead.toLocaleString('en')} records) in ${s.seconds.toFixed(2)} s; ${s.entriesUnchanged} unchanged, ${s.entriesRemoved} removed`,
  ]
  if (r.problems.length === 0) lines.push('no problems')
  else {
    lines.push(`${r.problems.length} problem(s):`)
    for (const p of r.problems.slice(0, 50))
      lines.push(
        `  ${visible(p.path)}${p.line !== null ? `:${p.line}` : ''}: ${p.code}: ${visible(p.message)}`,
      )
    if (r.problems.length > 50) lines.push(`  … and ${r.problems.length - 50} more (--json lists all)`)
  }
  ctx.out.write(lines.join('\n') + '\n')
}

async function runScan(
  ctx: CommandContext,
  config: Config,
  dbPath: string,
  roots: string[],
  extra: { only?: Map<string, Set<string>>; full?: boolean; shared?: boolean } = {},
): Promise<ScanReport> {
  const { shared, ...options } = extra
  const settings = scanSettings(config.catalog)
  // A new catalog reads every metadata file: its reader threads start now (or started as the
  // command began, when `--db` named a new catalog: see prestartReaders), each on the core the
  // main thread leaves idle while it creates the database and lists the roots, instead of
  // after (starting them costs more CPU than both). An existing catalog starts them only if
  // the scan finds a file to read.
  const prestarted = takePrestartedReaders(settings.parseWorkers)
  const fresh = dbPath !== ':memory:' && !existsSync(dbPath)
  if (prestarted && !fresh) void prestarted.close()
  const readers = fresh ? (prestarted ?? new LinePool(settings.parseWorkers)) : undefined
  try {
    const db = openDatabase(dbPath)
    const bar = progressLine(ctx.err, 'scan')
    const run = () =>
      scan({
        db,
        roots,
        ...settings,
        ...options,
        ...(readers ? { readers } : {}),
        onProgress: (p) =>
          bar.update(p.bytesDone, p.bytesTotal, () => `${p.records.toLocaleString('en')} records`),
      })
    try {
      // A database serve (or another command) may be writing: hold the catalog while scanning.
      return shared ? await cliLeases(db, ctx).with(['catalog'], 'scan', run) : await run()
    } finally {
      bar.done()
      db.close()
    }
  } finally {
    await readers?.close()
  }
}

function checkPaths(paths: string[], what: string): void {
  for (const p of paths) if (!existsSync(p)) throw new UsageError(`${what} does not exist: ${p}`)
}

export const scanCommand = defineCommand({
  name: 'scan',
  usage: `[ROOT...] [--db PATH] [--full] [--json] ${WAIT_USAGE}`,
  options: { db: { type: 'string' }, json: { type: 'boolean' }, full: { type: 'boolean' }, ...WAIT_OPTIONS },
  help: [
    'ROOT        release roots (default: catalog.roots from the config)',
    '--db PATH   the SQLite database (default: catalog.database)',
    '--full      read every entry again, even the unchanged ones',
    '--json      print {meta_files, data_folders, records, data_files, problems} as JSON',
    ...WAIT_HELP,
    'exit code 1 when problems were found (the valid parts are cataloged all the same)',
  ],
  async run(ctx) {
    const config = ctx.config()
    const roots =
      ctx.positionals.length > 0 ? ctx.positionals.map((p) => resolve(ctx.cwd, p)) : config.catalog.roots
    if (roots.length === 0)
      throw new UsageError('no release root: pass ROOT or set catalog.roots in the config')
    checkPaths(roots, 'release root')
    const report = await runScan(
      ctx,
      config,
      resolve(ctx.cwd, stringFlag(ctx.values.db) ?? config.catalog.database),
      roots,
      { full: ctx.values.full === true, shared: true },
    )
    if (ctx.values.json) writeJson(ctx, reportJson(report))
    else printReport(ctx, report, 'cataloged')
    return report.problems.length > 0 ? 1 : 0
  },
})

export const validateCommand = defineCommand({
  name: 'validate',
  usage: 'PATH... [--json]',
  options: { json: { type: 'boolean' } },
  help: [
    'PATH   a metadata file, a data folder, or a release root',
    '--json print the same object as scan --json',
  ],
  async run(ctx) {
    if (ctx.positionals.length === 0) throw new UsageError('usage: aacseed validate PATH... [--json]')
    const paths = ctx.positionals.map((p) => resolve(ctx.cwd, p))
    checkPaths(paths, 'path')
    const roots: string[] = []
    const only = new Map<string, Set<string>>()
    for (const p of paths) {
      const name = basename(p)
      const isDir = statSync(p).isDirectory()
      let entryOf: string | null = null
      try {
        if (isDir) parseDataFolderName(name)
        else parseMetaFileName(name)
        entryOf = dirname(p)
      } catch {
        if (!isDir) entryOf = dirname(p) // a file with a bad name: reported as such
      }
      if (entryOf === null) {
        roots.push(p)
      } else {
        if (!roots.includes(entryOf)) roots.push(entryOf)
        const set = only.get(entryOf) ?? new Set<string>()
        set.add(name)
        only.set(entryOf, set)
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'aacseed-validate-'))
    try {
      const report = await runScan(ctx, ctx.config(), join(dir, 'validate.db'), roots, { only })
      if (ctx.values.json) writeJson(ctx, reportJson(report))
      else printReport(ctx, report, 'checked')
      return report.problems.length > 0 ? 1 : 0
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
})

export const getCommand = defineCommand({
  name: 'get',
  usage: 'AACID [--db PATH]',
  options: { db: { type: 'string' } },
  async run(ctx) {
    if (ctx.positionals.length !== 1) throw new UsageError('usage: aacseed get AACID [--db PATH]')
    const db = openExistingDatabase(
      resolve(ctx.cwd, stringFlag(ctx.values.db) ?? ctx.config().catalog.database),
    )
    try {
      const { getRecord } = await import('../../catalog/get.js')
      const r = await getRecord(db, ctx.positionals[0]!)
      // The record is data: a pipe gets its exact bytes (a CRLF line keeps its \r). A terminal
      // gets the visible form, since JSON strings may hold raw C1 controls (U+009B is a CSI).
      const out = ctx.out.isTTY ? ctx.out : rawStream(ctx.out)
      out.write(r.bytes)
      out.write('\n')
      return 0
    } finally {
      db.close()
    }
  },
})

const DEMO_TRACKER_PORT = 6969
const DEMO_TRACKER_HTTP = `http://127.0.0.1:${DEMO_TRACKER_PORT}/announce`
const DEMO_TRACKER_UDP = `udp://127.0.0.1:${DEMO_TRACKER_PORT}`

function demoConfig(root: string, db: string, dir: string): string {
  return [
    '# Written by `aacseed demo`: serves the sample release tree with the embedded WebTorrent engine.',
    '# See config/aacseed.example.toml for every setting.',
    '[catalog]',
    `roots = [${JSON.stringify(root)}]`,
    `database = ${JSON.stringify(db)}`,
    '[torrents]',
    `out_dir = ${JSON.stringify(join(dir, 'torrents'))}`,
    `list_path = ${JSON.stringify(join(dir, 'torrents.json'))}`,
    '# The embedded tracker below: peers (aria2c, another aacseed) find this one through it.',
    `announce = [[${JSON.stringify(DEMO_TRACKER_HTTP)}], [${JSON.stringify(DEMO_TRACKER_UDP)}]]`,
    '[tracker]',
    'enabled = true',
    'host = "127.0.0.1"',
    `port = ${DEMO_TRACKER_PORT}`,
    '[engine]',
    'kind = "webtorrent"',
    '[engine.webtorrent]',
    '# 0: any free port, so the demo never collides with a client already running here.',
    'port = 0',
    '[fleet]',
    "# One machine and no seedbox: the local engine's copy is the one wanted.",
    'replicas = 1',
    '',
  ].join('\n')
}

export const demoCommand = defineCommand({
  name: 'demo',
  usage: '--out DIR [--db PATH] [--json]',
  options: { out: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' } },
  help: [
    '--out DIR   where to write the sample tree (DIR/releases) and, by default, the database (DIR/aacseed.db)',
  ],
  async run(ctx) {
    const out = stringFlag(ctx.values.out)
    if (!out) throw new UsageError('usage: aacseed demo --out DIR')
    const dir = resolve(ctx.cwd, out)
    const root = join(dir, 'releases')
    const { writeSampleRelease } = await import('../../catalog/sample.js')
    const sample = writeSampleRelease({ root })
    const dbPath = resolve(ctx.cwd, stringFlag(ctx.values.db) ?? join(dir, 'aacseed.db'))
    const report = await runScan(ctx, ctx.config(), dbPath, [root])
    // A ready config for `aacseed serve` on the sample: everything inside DIR, embedded engine.
    const configPath = join(dir, 'aacseed.toml')
    if (!existsSync(configPath)) writeFileSync(configPath, demoConfig(root, dbPath, dir))
    if (ctx.values.json) writeJson(ctx, reportJson(report))
    else {
      ctx.out.write(
        `wrote a sample release tree to ${root}: ${sample.metaFiles.length} metadata files, ${sample.dataFolders.length} data folders\n`,
      )
      printReport(ctx, report, 'cataloged')
      ctx.out.write(
        `database: ${dbPath}\nconfig:   ${configPath}\n\nnext: ${aacseedCommand(process.argv[1], ctx.env, ctx.cwd)} serve --config ${configPath}\n`,
      )
    }
    return report.problems.length > 0 ? 1 : 0
  },
})
