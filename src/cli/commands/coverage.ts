import { resolve } from 'node:path'
import { upstreamReleases } from '../../mirror/index.js'
import {
  computeCoverage,
  coverageJson,
  fleetCoverageInputs,
  formatCollectionCoverage,
  formatCoverageOverview,
  readCoverageData,
} from '../../coverage/index.js'
import { openExistingDatabase } from '../../db/index.js'
import { coverageFigures, readHealth } from '../../fleet/index.js'
import { UsageError } from '../../errors.js'
import { defineCommand, stringFlag, writeJson } from '../command.js'

export const coverageCommand = defineCommand({
  name: 'coverage',
  summary:
    'show how well each collection is kept: held here, torrented, seeded, on seedboxes, in the swarm; gaps and overlaps',
  usage: '[--collection NAME] [--json] [--db PATH]',
  options: { collection: { type: 'string' }, json: { type: 'boolean' }, db: { type: 'string' } },
  help: [
    '--collection NAME  one collection in detail: every level, its gaps, overlaps and missing ranges',
    '--json             the same JSON as GET /api/coverage?detail=true (or ?collection=NAME)',
    '--db PATH          the catalog (default: catalog.database)',
  ],
  async run(ctx) {
    const config = ctx.config()
    const db = openExistingDatabase(resolve(ctx.cwd, stringFlag(ctx.values.db) ?? config.catalog.database))
    try {
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
