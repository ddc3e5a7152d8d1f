/**
 * Reads the model's local inputs from the database: the catalog's releases (through
 * `CatalogStore.releases()`, which owns their meaning), the torrents (`TorrentStore`), the local
 * engine's state per torrent and the catalog's overlap problems (two read-only queries of our
 * own: the engine's table is rewritten every minute, and its store's full rows and ordering
 * cost more than coverage needs). External figures come from `CoverageInputs`.
 *
 * `CoverageSource` re-reads each part only when a cheap signature of its tables changed: the
 * engine status job rewrites `engine_torrents` every minute, and re-reading 10,000 catalog
 * releases and torrents for that would stall the server for nothing.
 */
import { parseTimestamp } from '../aac/index.js'
import { CatalogStore } from '../catalog/index.js'
import type { Db } from '../db/index.js'
import { TorrentStore } from '../torrents/index.js'
import type { CoverageInputs } from './inputs.js'
import type {
  CatalogReleaseInput,
  CoverageData,
  EngineTorrentInput,
  OverlapProblemInput,
  TorrentInput,
} from './model.js'

function readReleases(db: Db): CatalogReleaseInput[] {
  return new CatalogStore(db).releases().map((r) => ({
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
}

function readTorrents(db: Db): TorrentInput[] {
  return new TorrentStore(db).all().map((t) => ({
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
}

function readEngine(db: Db): Map<string, EngineTorrentInput> {
  const rows = db
    .prepare('SELECT infohash, state, last_seeding_at AS lastSeedingAt FROM engine_torrents')
    .all() as EngineTorrentInput[]
  return new Map(rows.map((r) => [r.infohash, r]))
}

function readOverlapProblems(db: Db): OverlapProblemInput[] {
  return db
    .prepare(
      "SELECT collection, code, path, message FROM problems WHERE scope = 'cross' AND code IN ('overlap-mismatch', 'immutable-conflict') LIMIT 100000",
    )
    .all() as OverlapProblemInput[]
}

/** Reads everything at once (the CLI). */
export function readCoverageData(db: Db, inputs: CoverageInputs): CoverageData {
  // One read transaction: the figures are of one moment even while a scan writes.
  return db
    .transaction(() => ({
      releases: readReleases(db),
      torrents: readTorrents(db),
      engine: readEngine(db),
      overlapProblems: readOverlapProblems(db),
      external: inputs.read(),
    }))
    .deferred()
}

/**
 * What changes each part's content. Rows are replaced (new ids) or updated (a new
 * `scanned_at`, `made_at`, `updated_at`, size), so counts, largest ids, latest times and sums
 * together move on every write that matters.
 */
const SIGNATURES = {
  catalog: `SELECT
      (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(max(scanned_at), '') || ':' || total(size) || ':' || total(records) FROM meta_files) || '|' ||
      (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(max(scanned_at), '') || ':' || total(bytes) || ':' || total(files) FROM data_folders) || '|' ||
      (SELECT count(*) || ':' || coalesce(max(id), 0) FROM problems) || '|' ||
      (SELECT count(*) FROM roots)`,
  torrents:
    "SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(max(made_at), '') || ':' || total(total_size) FROM torrents",
  engine:
    "SELECT count(*) || ':' || coalesce(max(updated_at), '') || ':' || coalesce(max(last_seeding_at), '') FROM engine_torrents",
} as const

interface Part<T> {
  signature: string | undefined
  value: T | undefined
}

/** Keeps the parts read last and re-reads a part only when its signature moved. */
export class CoverageSource {
  readonly #db: Db
  readonly #inputs: CoverageInputs
  readonly #sig
  readonly #catalog: Part<{ releases: CatalogReleaseInput[]; overlapProblems: OverlapProblemInput[] }> = {
    signature: undefined,
    value: undefined,
  }
  readonly #torrents: Part<TorrentInput[]> = { signature: undefined, value: undefined }
  readonly #engine: Part<Map<string, EngineTorrentInput>> = { signature: undefined, value: undefined }
  /** Parts re-read by the last `read()`: for logs and tests. */
  lastReread: string[] = []

  constructor(db: Db, inputs: CoverageInputs) {
    this.#db = db
    this.#inputs = inputs
    this.#sig = {
      catalog: db.prepare(SIGNATURES.catalog).pluck(),
      torrents: db.prepare(SIGNATURES.torrents).pluck(),
      engine: db.prepare(SIGNATURES.engine).pluck(),
    }
  }

  read(): CoverageData {
    this.lastReread = []
    const part = <T>(name: keyof typeof SIGNATURES, p: Part<T>, load: () => T): T => {
      const signature = this.#sig[name].get() as string
      if (p.value === undefined || p.signature !== signature) {
        p.value = load()
        p.signature = signature
        this.lastReread.push(name)
      }
      return p.value
    }
    return this.#db
      .transaction(() => {
        const catalog = part('catalog', this.#catalog, () => ({
          releases: readReleases(this.#db),
          overlapProblems: readOverlapProblems(this.#db),
        }))
        return {
          releases: catalog.releases,
          overlapProblems: catalog.overlapProblems,
          torrents: part('torrents', this.#torrents, () => readTorrents(this.#db)),
          engine: part('engine', this.#engine, () => readEngine(this.#db)),
          external: this.#inputs.read(),
        }
      })
      .deferred()
  }
}
