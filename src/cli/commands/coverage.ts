import { resolve } from 'node:path'
// The files, not the folders' index.ts: those load the mirror's sync and the fleet's clients
// (engines, fetch), which a report never uses (start-up, issue #11 §8).
import { upstreamReleases } from '../../mirror/candidates.js'
import { readGroupCoverage } from '../../mirror/groups.js'
import {
  computeCoverage,
  coverageJson,
  fleetCoverageInputs,
  formatCollectionCoverage,
  formatCoverageOverview,
  groupCoverageJson,
  readCoverageData,
  type GroupCoverage,
} from '../../coverage/index.js'
import { openExistingDatabase } from '../../db/index.js'
import { coverageFigures, readHealth } from '../../fleet/status.js'
import { UsageError } from '../../errors.js'
import { formatBytes } from '../../coverage/format.js'
import { defineCommand, stringFlag, writeJson } from '../command.js'

export const coverageCommand = defineCommand({
  name: 'coverage',
  usage: '[--collection NAME | --groups] [--json] [--db PATH]',
  options: {
    collection: { type: 'string' },
    groups: { type: 'boolean' },
    json: { type: 'boolean' },
    db: { type: 'string' },
  },
  help: [
    '--groups           per group of the upstream lists (AAC or not), as GET /api/groups: torrents and',
    '                   bytes upstream, held here, seeded here, on ≥ 1 and ≥ N seedboxes, swarm seeders',
    '--collection NAME  one collection in detail: every level, its gaps, overlaps and missing ranges',
    '--json             the same JSON as GET /api/coverage?detail=true (or ?collection=NAME)',
    '--db PATH          the catalog (default: catalog.database)',
  ],
  async run(ctx) {
    const config = ctx.config()
    const db = openExistingDatabase(resolve(ctx.cwd, stringFlag(ctx.values.db) ?? config.catalog.database))
    try {
      if (ctx.values.groups) {
        const rows = readGroupCoverage(db, config)
        if (ctx.values.json) writeJson(ctx, groupCoverageJson(rows))
        else ctx.out.write(formatGroups(rows))
        return 0
      }
      // The health state from the stored polls and scrapes; no seedbox or tracker is contacted.
      const report = computeCoverage(
        readCoverageData(
          db,
          fleetCoverageInputs(
            () => coverageFigures(readHealth(db, config)),
            () => upstreamReleases(db),
          ),
        ),
      )
      const collection = stringFlag(ctx.values.collection)
      const found =
        collection === undefined ? undefined : report.collections.find((c) => c.collection === collection)
      if (collection !== undefined && !found) {
        throw new UsageError(
          `no collection ${JSON.stringify(collection)} in the catalog; collections: ${report.collections.map((c) => c.collection).join(', ') || '(none)'}`,
        )
      }
      if (ctx.values.json) writeJson(ctx, coverageJson(report, { collection, detail: true }))
      else
        ctx.out.write(
          found ? formatCollectionCoverage(found, report.copiesTarget) : formatCoverageOverview(report),
        )
      return 0
    } finally {
      db.close()
    }
  },
})

function formatGroups(rows: readonly GroupCoverage[]): string {
  if (rows.length === 0) return 'no upstream torrents known: run `aacseed mirror sources`\n'
  const head = ['group', 'torrents', 'size', 'held', 'seeded', '≥1 box', '≥N boxes', '<4', '4-10', '>10', '?']
  const table = rows.map((g) => [
    g.topGroup ? `${g.topGroup}/${g.group}` : g.group || '(no group)',
    String(g.upstream.torrents),
    formatBytes(g.upstream.bytes),
    String(g.held.torrents),
    String(g.seeded.torrents),
    String(g.onSeedbox.torrents),
    String(g.onTarget.torrents),
    String(g.swarm.lt4.torrents),
    String(g.swarm['4to10'].torrents),
    String(g.swarm.gt10.torrents),
    String(g.swarm.unknown.torrents),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)))
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(head), ...table.map(line)].join('\n') + '\n'
}
