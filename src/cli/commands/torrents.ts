import { realpathSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Config } from '../../config/index.js'
// Not db/index.js: that imports every migration, which `torrents make` loads only when one is pending.
import { openCurrentDatabase } from '../../db/connect.js'
import { UsageError } from '../../errors.js'
import { makeSettings } from '../../publish/make-settings.js'
import { cliLeases, WAIT_HELP, WAIT_OPTIONS, WAIT_USAGE } from '../leases.js'
import {
  formatTorrentList,
  isValidPieceLength,
  makeTorrents,
  publishTorrentList,
  torrentListEntries,
  type ListFormat,
  type ListSettings,
} from '../../torrents/index.js'
import { defineCommand, stringFlag, writeJson } from '../command.js'
import { formatBinaryBytes, formatBytes } from '../../units.js'
import { progressLine } from '../progress.js'
import { visible } from '../terminal.js'

/** The settings the published list is built with; a trial's list uses the same ones. */
function listSettings(config: Config): ListSettings {
  return {
    urlBase: config.torrents.url_base,
    topLevelGroupName: config.torrents.top_level_group_name,
    trackers: config.torrents.announce.flat(),
  }
}

function samePath(a: string, b: string): boolean {
  const real = (p: string): string => {
    try {
      return realpathSync(p)
    } catch {
      return resolve(p)
    }
  }
  return real(a) === real(b)
}

/**
 * A run with another folder or piece length than configured is a trial: it must not re-point
 * the published list or the catalog's torrents at torrents nobody seeds. Returns the trial's
 * own list path (DIR/torrents.json), or null for a normal run.
 */
function trialListPath(config: Config, outDir: string, pieceLength: number | undefined): string | null {
  const otherDir = !samePath(outDir, config.torrents.out_dir)
  const otherPieces = pieceLength !== undefined && pieceLength !== config.torrents.piece_length
  if (!otherDir && !otherPieces) return null
  if (!otherDir)
    // Trial torrents in out_dir would later block the real ones there (`torrent-conflict`).
    throw new UsageError(
      `--piece-length ${pieceLength} differs from torrents.piece_length (${config.torrents.piece_length}): a trial needs --out DIR, a folder other than torrents.out_dir (${config.torrents.out_dir})`,
    )
  const list = join(outDir, 'torrents.json')
  if (config.torrents.list_path && samePath(list, config.torrents.list_path))
    throw new UsageError(
      `--out ${outDir}: a trial writes its list to ${list}, which is the published list (torrents.list_path); choose another folder`,
    )
  return list
}

export const torrentsMake = defineCommand({
  name: 'torrents make',
  usage: `[--db PATH] [--out DIR] [--piece-length BYTES] [--json] ${WAIT_USAGE}`,
  options: {
    db: { type: 'string' },
    out: { type: 'string' },
    'piece-length': { type: 'string' },
    json: { type: 'boolean' },
    ...WAIT_OPTIONS,
  },
  help: [
    '--db PATH             the catalog (default: catalog.database)',
    '--out DIR             where .torrent files go (default: torrents.out_dir)',
    '--piece-length BYTES  a power of two from 32768 to 16777216 (default: torrents.piece_length; 0 = by size)',
    '--json                print {made, unchanged, with_problems, list_path, trial, problems} as JSON',
    ...WAIT_HELP,
    'A trial: --out other than torrents.out_dir, or a piece length other than the configured one.',
    'It writes the .torrent files and its own list (DIR/torrents.json) into DIR only; the',
    "published list and the catalog's torrents stay as they are. A trial piece length needs --out.",
  ],
  async run(ctx) {
    const config = ctx.config()
    const pl = stringFlag(ctx.values['piece-length'])
    let pieceLength: number | undefined
    if (pl !== undefined) {
      const n = Number(pl)
      if (n !== 0 && !isValidPieceLength(n))
        throw new UsageError(
          `--piece-length ${pl}: must be 0 (by size) or a power of two from 32768 to 16777216`,
        )
      pieceLength = n
    }
    const out = stringFlag(ctx.values.out)
    const outDir = out === undefined ? config.torrents.out_dir : resolve(ctx.cwd, out)
    const trial = trialListPath(config, outDir, pieceLength)
    const db = await openCurrentDatabase(
      resolve(ctx.cwd, stringFlag(ctx.values.db) ?? config.catalog.database),
    )
    const bar = progressLine(ctx.err, 'hash')
    // The list's modules (fleet's) are needed once hashing is done: they load between the main
    // thread's hash spans, from the first progress on, rather than before hashing can start.
    let publishing: Promise<typeof import('../../publish/index.js')> | undefined
    const publish = () => (publishing ??= import('../../publish/index.js'))
    try {
      const make = () =>
        makeTorrents({
          db,
          torrents: config.torrents,
          outDir,
          ...(pieceLength !== undefined ? { pieceLength } : {}),
          ...makeSettings(db),
          trial: trial !== null,
          // The process has nothing else to do while it hashes (see hash-pool.ts).
          callerHashes: true,
          onProgress: (p) => {
            if (trial === null) void publish().catch(() => {})
            bar.update(p.bytesDone, p.bytesTotal)
          },
        })
      // A trial only reads the catalog; a real run writes it and the published list.
      const report =
        trial === null
          ? await cliLeases(db, ctx).with(['catalog'], 'torrents make', async () => {
              const r = await make()
              await (await publish()).publishList(db, config, { blocking: true })
              return r
            })
          : await make()
      bar.done()
      const listPath =
        trial === null
          ? config.torrents.list_path || null
          : await publishTorrentList(trial, torrentListEntries(report.trialRows, listSettings(config)))
      if (ctx.values.json) {
        writeJson(ctx, {
          made: report.made,
          unchanged: report.unchanged,
          with_problems: report.withProblems,
          list_path: listPath,
          trial: trial !== null,
          problems: report.problems,
        })
      } else {
        const lines = [
          `made ${report.made.length} torrent(s); ${report.unchanged} already made and unchanged; ${report.withProblems} release(s) skipped for catalog problems`,
        ]
        for (const m of report.made)
          lines.push(
            `  ${m.outcome === 'made' ? 'made' : 'adopted'} ${m.infohash} ${m.name}.torrent (${formatBytes(m.totalSize)}, ${m.fileCount} file(s), ${m.pieceCount} × ${formatBinaryBytes(m.pieceLength)} pieces)`,
          )
        for (const p of report.problems) lines.push(`  ${visible(p.path)}: ${p.code}: ${visible(p.message)}`)
        if (trial !== null)
          lines.push(
            `trial list: ${trial} (a trial: the published list${config.torrents.list_path ? ` ${config.torrents.list_path}` : ''} and the catalog's torrents are unchanged)`,
          )
        else if (listPath) lines.push(`torrent list: ${listPath}`)
        ctx.out.write(lines.join('\n') + '\n')
      }
      return report.problems.length > 0 ? 1 : 0
    } finally {
      bar.done()
      db.close()
    }
  },
})

export const torrentsList = defineCommand({
  name: 'torrents list',
  usage: '[--format json|magnets|csv] [--db PATH]',
  options: { db: { type: 'string' }, format: { type: 'string' } },
  async run(ctx) {
    const config = ctx.config()
    const format = (stringFlag(ctx.values.format) ?? 'json') as ListFormat
    if (!['json', 'magnets', 'csv'].includes(format))
      throw new UsageError(`--format must be json, magnets or csv, not ${JSON.stringify(format)}`)
    const [{ openExistingDatabase }, { torrentList }] = await Promise.all([
      import('../../db/index.js'),
      import('../../publish/index.js'),
    ])
    const db = openExistingDatabase(resolve(ctx.cwd, stringFlag(ctx.values.db) ?? config.catalog.database))
    try {
      ctx.out.write(formatTorrentList(torrentList(db, config), format))
      return 0
    } finally {
      db.close()
    }
  },
})
