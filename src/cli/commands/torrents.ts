import { resolve } from 'node:path'
import { openDatabase } from '../../db/index.js'
import { UsageError } from '../../errors.js'
import { makeSettings, publishList, torrentList } from '../../jobs/service.js'
import { formatTorrentList, makeTorrents, isValidPieceLength, type ListFormat } from '../../torrents/index.js'
import { defineCommand, stringFlag, writeJson } from '../command.js'
import { formatBytes } from '../../coverage/format.js'
import { progressLine } from '../progress.js'

export const torrentsMake = defineCommand({
  name: 'torrents make',
  summary: 'make the missing .torrent files for everything cataloged and problem-free, and publish the list',
  usage: '[--db PATH] [--out DIR] [--piece-length BYTES] [--json]',
  options: {
    db: { type: 'string' },
    out: { type: 'string' },
    'piece-length': { type: 'string' },
    json: { type: 'boolean' },
  },
  help: [
    '--db PATH             the catalog (default: catalog.database)',
    '--out DIR             where .torrent files go (default: torrents.out_dir)',
    '--piece-length BYTES  a power of two from 32768 to 16777216 (default: torrents.piece_length; 0 = by size)',
    '--json                print {made, unchanged, with_problems, list_path, problems} as JSON',
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
    const db = openDatabase(resolve(ctx.cwd, stringFlag(ctx.values.db) ?? config.catalog.database))
    const bar = progressLine(ctx.err, 'hash')
    try {
      const report = await makeTorrents({
        db,
        torrents: config.torrents,
        ...(out ? { outDir: resolve(ctx.cwd, out) } : {}),
        ...(pieceLength !== undefined ? { pieceLength } : {}),
        ...makeSettings(db),
        onProgress: (p) => bar.update(p.bytesDone, p.bytesTotal),
      })
      bar.done()
      const listPath = await publishList(db, config)
      if (ctx.values.json) {
        writeJson(ctx, {
          made: report.made,
          unchanged: report.unchanged,
          with_problems: report.withProblems,
          list_path: listPath,
          problems: report.problems,
        })
      } else {
        const lines = [
          `made ${report.made.length} torrent(s); ${report.unchanged} already made and unchanged; ${report.withProblems} release(s) skipped for catalog problems`,
        ]
        for (const m of report.made)
          lines.push(
            `  ${m.outcome === 'made' ? 'made' : 'adopted'} ${m.infohash} ${m.name}.torrent (${formatBytes(m.totalSize)}, ${m.fileCount} file(s), ${m.pieceCount} × ${formatBytes(m.pieceLength)} pieces)`,
          )
        for (const p of report.problems) lines.push(`  ${p.path}: ${p.code}: ${p.message}`)
        if (listPath) lines.push(`torrent list: ${listPath}`)
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
  summary: "print the torrent list (JSON compatible with Anna's Archive's, magnet links, or CSV)",
  usage: '[--format json|magnets|csv] [--db PATH]',
  options: { db: { type: 'string' }, format: { type: 'string' } },
  async run(ctx) {
    const config = ctx.config()
    const format = (stringFlag(ctx.values.format) ?? 'json') as ListFormat
    if (!['json', 'magnets', 'csv'].includes(format))
      throw new UsageError(`--format must be json, magnets or csv, not ${JSON.stringify(format)}`)
    const db = openDatabase(resolve(ctx.cwd, stringFlag(ctx.values.db) ?? config.catalog.database))
    try {
      ctx.out.write(formatTorrentList(torrentList(db, config), format))
      return 0
    } finally {
      db.close()
    }
  },
})
