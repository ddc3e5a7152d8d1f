/**
 * Reads the model's local inputs through the stores that own their tables: the catalog's
 * releases and overlap problems (`CatalogStore`), the torrents (`TorrentStore`) and the local
 * engine's state per torrent (`EngineStatusStore`). External figures (each torrent's health,
 * swarm, seedboxes, upstream) come from `CoverageInputs`. Coverage runs no SQL of its own.
 *
 * `CoverageSource` re-reads each part only when a cheap signature of its tables changed: the
 * engine status job rewrites `engine_torrents` every minute, and re-reading 10,000 catalog
 * releases and torrents for that would stall the server for nothing.
 */
import { parseTimestamp } from '../aac/index.js'
import { CatalogStore } from '../catalog/store.js'
import type { Db } from '../db/index.js'
import { EngineStatusStore } from '../engines/status.js'
import { TorrentStore } from '../torrents/store.js'
import type { CoverageInputs } from './inputs.js'
import type {
  CatalogReleaseInput,
  CoverageData,
  EngineTorrentInput,
  OverlapProblemInput,
  TorrentInput,
} from './model.js'

function readReleases(store: CatalogStore): CatalogReleaseInput[] {
  return store.releases().map((r) => ({
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

function readTorrents(store: TorrentStore): TorrentInput[] {
  return store.all().map((t) => ({
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

function readEngine(store: EngineStatusStore): Map<string, EngineTorrentInput> {
  return new Map(
    store
      .copies()
      .map((r) => [r.infohash, { infohash: r.infohash, state: r.state, lastSeedingAt: r.lastSeedingAt }]),
  )
}

/** Reads everything at once (the CLI). */
export function readCoverageData(db: Db, inputs: CoverageInputs): CoverageData {
  // One read transaction: the figures are of one moment even while a scan writes.
  return db
    .transaction(() => ({
      releases: readReleases(new CatalogStore(db)),
      torrents: readTorrents(new TorrentStore(db)),
      engine: readEngine(new EngineStatusStore(db)),
      overlapProblems: new CatalogStore(db).storedOverlapProblems(),
      external: inputs.read(),
    }))
    .deferred()
}

interface Part<T> {
  signature: string | undefined
  value: T | undefined
}

/** Keeps the parts read last and re-reads a part only when its signature moved. */
export class CoverageSource {
  readonly #db: Db
  readonly #inputs: CoverageInputs
  readonly #stores
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
    this.#stores = {
      catalog: new CatalogStore(db),
      torrents: new TorrentStore(db),
      engine: new EngineStatusStore(db),
    }
  }

  read(): CoverageData {
    this.lastReread = []
    const stores = this.#stores
    const part = <T>(name: keyof typeof stores, p: Part<T>, load: () => T): T => {
      const signature = stores[name].signature()
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
          releases: readReleases(stores.catalog),
          overlapProblems: stores.catalog.storedOverlapProblems(),
        }))
        return {
          releases: catalog.releases,
          overlapProblems: catalog.overlapProblems,
          torrents: part('torrents', this.#torrents, () => readTorrents(stores.torrents)),
          engine: part('engine', this.#engine, () => readEngine(stores.engine)),
          external: this.#inputs.read(),
        }
      })
      .deferred()
  }
}
