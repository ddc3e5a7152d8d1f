/**
 * A cataloged, torrented sample release tree for the HTTP tests, with entries whose names and
 * contents are hostile to a careless page, and fake fleet/swarm figures through the
 * `CoverageInputs` seam.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { encodeMetaFile, writeSampleRelease } from '../../src/catalog/index.js'
import {
  CoverageCache,
  type CoverageInputs,
  type ExternalFigures,
  type SeedboxFigures,
} from '../../src/coverage/index.js'
import { loadConfig, type Config } from '../../src/config/index.js'
import { openDatabase, type Db } from '../../src/db/index.js'
import { EngineStatusStore } from '../../src/engines/index.js'
import { torrentListJson } from '../../src/publish/index.js'
import { buildHttpServer, type HttpServerOptions } from '../../src/http/index.js'
import { createLogger } from '../../src/log/index.js'
import { TorrentStore } from '../../src/torrents/index.js'
import { aacid, metaName, T0 } from '../fixtures.js'
import { runCli, tempDir } from '../helpers.js'

/**
 * Root entries whose names are markup; each becomes an `invalid-meta-file-name` problem. (A file
 * name cannot hold `/`, so `<script>…</script>` itself arrives through a record key below.)
 */
export const HOSTILE_NAMES = [
  '<svg onload=alert(1)>.jsonl.zst',
  `"quote' & <img src=x onerror=alert(2)>.jsonl.zst`,
]
/** A record key that is markup; it becomes an `unexpected-key` problem whose message quotes it. */
export const HOSTILE_KEY = '<script>alert(3)</script>'
export const HOSTILE_COLLECTION = 'hostile_records'

/** Writes the sample tree (and the hostile entries) and a config pointing at it; returns the config path. */
export function writeTree(
  dir: string,
  opts: { hostile?: boolean; extraToml?: string } = {},
): { root: string; config: string; db: string } {
  const root = join(dir, 'releases')
  writeSampleRelease({ root, seed: 11 })
  if (opts.hostile) {
    for (const name of HOSTILE_NAMES) writeFileSync(join(root, name), 'not a release')
    const lines = [
      JSON.stringify({ aacid: aacid(HOSTILE_COLLECTION, 0), metadata: { title: '<b>bold</b>' } }),
      `{"aacid":${JSON.stringify(aacid(HOSTILE_COLLECTION, 1))},"metadata":{},${JSON.stringify(HOSTILE_KEY)}:1}`,
    ]
    writeFileSync(join(root, metaName(HOSTILE_COLLECTION, 0, 9)), encodeMetaFile(lines))
  }
  const config = join(dir, 'aacseed.toml')
  writeFileSync(
    config,
    `[catalog]\nroots = ["releases"]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "torrents"\nlist_path = "torrents.json"\nurl_base = "https://example.org/t/"\n${opts.extraToml ?? ''}`,
  )
  return { root, config, db: join(dir, 'aacseed.db') }
}

export interface ApiTree {
  dir: string
  db: string
  /** Writes, as the service's connection does. */
  writer: Db
  /** Reads, as the HTTP server's own connection does. */
  reader: Db
  infohashes: string[]
  config: Config
}

/** Scans and makes torrents with the CLI; the first half of the torrents is reported seeding. */
export async function apiTree(t: TestContext, opts: { hostile?: boolean } = {}): Promise<ApiTree> {
  const dir = tempDir(t)
  const tree = writeTree(dir, opts)
  const env = { ...process.env, AACSEED_CONFIG: tree.config }
  const s = await runCli(['scan'], { env })
  assert.ok(s.code === 0 || (opts.hostile && s.code === 1), s.stderr + s.stdout)
  const m = await runCli(['torrents', 'make'], { env })
  assert.equal(m.code, 0, m.stderr + m.stdout)
  const writer = openDatabase(tree.db)
  const reader = openDatabase(tree.db, { readonly: true })
  t.after(() => {
    reader.close()
    writer.close()
  })
  const torrents = new TorrentStore(writer).all()
  new EngineStatusStore(writer).record(
    'webtorrent',
    torrents.slice(0, Math.ceil(torrents.length / 2)).map((x) => ({
      infoHash: x.infohash,
      name: x.name,
      state: 'seeding' as const,
      bytesPresent: x.totalSize,
      totalBytes: x.totalSize,
      uploaded: 0,
      peers: 0,
      error: null,
    })),
  )
  return {
    dir,
    db: tree.db,
    writer,
    reader,
    infohashes: torrents.map((x) => x.infohash),
    config: loadConfig({ path: tree.config, env: {} }),
  }
}

export const SEEDBOXES: SeedboxFigures[] = [
  {
    name: 'box-2',
    up: false,
    freeBytes: null,
    torrents: 0,
    errors: 0,
    lastSeenAt: null,
    error: 'connection refused',
  },
  {
    name: 'box-1',
    up: true,
    freeBytes: 5e12,
    torrents: 7,
    errors: 1,
    lastSeenAt: '2026-11-24T10:00:00.000Z',
    error: null,
  },
]

/** Fleet copies 0, 1, 2, 3, … and swarm seeders 0, 5, 20, unknown, … by position. */
export function fakeInputs(
  infohashes: readonly string[],
  target = 2,
): CoverageInputs & { figures: ExternalFigures } {
  const figures: ExternalFigures = {
    copiesTarget: target,
    fleet: new Map(
      infohashes.map((h, i) => [
        h,
        {
          copies: i % 4,
          seedboxCopies: i % 4,
          target,
          health: i % 4 >= target ? 'ok' : i % 4 > 0 ? 'degraded' : 'lost',
        } as const,
      ]),
    ),
    swarm: new Map(
      infohashes.flatMap((h, i) =>
        i % 4 === 3
          ? []
          : [
              [
                h,
                { seeders: [0, 5, 20][i % 4]!, leechers: 1, completed: 9, scrapedAt: '2026-11-24T10:00:00' },
              ] as const,
            ],
      ),
    ),
    seedboxes: SEEDBOXES,
    upstream: [],
  }
  return { figures, read: () => figures }
}

export const silentLogger = createLogger({ level: 'silent' })

export function apiServer(
  t: TestContext,
  tree: ApiTree,
  opts: Partial<HttpServerOptions> & { inputs?: CoverageInputs } = {},
) {
  const coverage = new CoverageCache({
    db: tree.reader,
    inputs: opts.inputs ?? fakeInputs(tree.infohashes),
    minIntervalMs: 0,
    checkIntervalMs: 0,
  })
  const app = buildHttpServer({
    db: tree.reader,
    coverage,
    torrentList: () => torrentListJson(tree.reader, tree.config),
    logger: silentLogger,
    version: '9.9.9-test',
    ...opts,
  })
  t.after(() => app.close())
  return { app, coverage }
}

export { T0 }
