/**
 * Reads the model's local inputs from the database through the stores that own each table
 * (catalog, torrents, engine status); the one query of its own, over the catalog's overlap
 * problems, is read-only. External figures come from `CoverageInputs`.
 */
import { parseTimestamp } from '../aac/index.js'
import { CatalogStore } from '../catalog/index.js'
import type { Db } from '../db/index.js'
import { EngineStatusStore } from '../engines/index.js'
import { TorrentStore } from '../torrents/index.js'
import type { CoverageInputs } from './inputs.js'
import type { CoverageData, EngineTorrentInput } from './model.js'

export function readCoverageData(db: Db, inputs: CoverageInputs): CoverageData {
  // One read transaction: the figures are of one moment even while a scan writes.
  return db.transaction(() => {
    const releases = new CatalogStore(db).releases().map((r) => ({
      kind: r.kind,
      name: r.name,
      collection: r.collection,
      from: r.rangeFrom,
      to: r.rangeTo,
      fromS: r.fromS,
      toS: r.toS,
      records: r.records,
      files: r.files,
      bytes: r.bytes,
      problems: r.problems,
    }))
    const torrents = new TorrentStore(db).all().map((t) => ({
      name: t.name,
      infohash: t.infohash,
      kind: t.kind,
      collection: t.collection,
      from: t.rangeFrom,
      to: t.rangeTo,
      fromS: parseTimestamp(t.rangeFrom).seconds,
      toS: parseTimestamp(t.rangeTo).seconds,
      bytes: t.totalSize,
      files: t.fileCount,
      addedAt: t.addedAt,
    }))
    const engine = new Map<string, EngineTorrentInput>()
    for (const s of new EngineStatusStore(db).all()) engine.set(s.infoHash, { infohash: s.infoHash, state: s.state, lastSeedingAt: s.lastSeedingAt })
    const overlapProblems = db
      .prepare("SELECT collection, code, path, message FROM problems WHERE scope = 'cross' AND code IN ('overlap-mismatch', 'immutable-conflict') LIMIT 100000")
      .all() as CoverageData['overlapProblems']
    return { releases, torrents, engine, overlapProblems, external: inputs.read() }
  }).deferred()
}
