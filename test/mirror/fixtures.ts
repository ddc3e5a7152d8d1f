/**
 * The local upstream of the mirror tests: a static HTTP server on 127.0.0.1 (a random port)
 * serving a folder, whose answers a test can script (fail the next requests, count them).
 */
import { createReadStream, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, normalize, sep } from 'node:path'
import type { TestContext } from 'node:test'
import { scan, writeSampleRelease, type SampleCollection } from '../../src/catalog/index.js'
import { configSchema } from '../../src/config/index.js'
import { openDatabase } from '../../src/db/index.js'
import { publishList } from '../../src/publish/index.js'
import { makeTorrents } from '../../src/torrents/index.js'

export interface StaticServer {
  url: string
  /** Requested paths, in order. */
  requests: string[]
  /** Answer the next `n` requests for `path` with `status`. */
  failNext(path: string, n: number, status: number): void
  /** Answer every request for `path` with `body` (e.g. a hostile list), or stop doing so with null. */
  override(path: string, body: Buffer | string | null): void
}

export async function startStaticServer(t: TestContext, dir: string): Promise<StaticServer> {
  const failures = new Map<string, { n: number; status: number }>()
  const overrides = new Map<string, Buffer>()
  const requests: string[] = []
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    requests.push(path)
    const fail = failures.get(path)
    if (fail && fail.n > 0) {
      fail.n--
      res.writeHead(fail.status).end(`scripted ${fail.status}`)
      return
    }
    const body = overrides.get(path)
    if (body) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body)
      return
    }
    const file = normalize(join(dir, path))
    if (!file.startsWith(dir + sep)) {
      res.writeHead(403).end()
      return
    }
    let size: number
    try {
      const st = statSync(file)
      if (!st.isFile()) throw new Error('not a file')
      size = st.size
    } catch {
      res.writeHead(404).end('not found')
      return
    }
    res.writeHead(200, {
      'content-length': size,
      'content-type': path.endsWith('.json') ? 'application/json' : 'application/x-bittorrent',
    })
    createReadStream(file).pipe(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext: (path, n, status) => failures.set(path, { n, status }),
    override: (path, body) =>
      body === null ? overrides.delete(path) : overrides.set(path, Buffer.from(body)),
  }
}

export interface ListEntry {
  display_name: string
  btih: string
  url: string
  data_size: number
  is_metadata: boolean
}

export const SMALL: SampleCollection[] = [
  { name: 'zlib3_records', kind: 'records', ranges: 2, recordsPerRange: 60, framesPerFile: 1 },
  { name: 'zlib3_files', kind: 'files', ranges: 1, recordsPerRange: 6, blobBytes: [1_000, 20_000] },
]

export interface Upstream {
  root: string
  site: string
  listPath: string
  list(): ListEntry[]
  btih(name: string): string
}

/**
 * An upstream made in process: its releases, .torrent files and list side by side in `site/` (relative URLs).
 */
export async function buildUpstream(dir: string, collections = SMALL): Promise<Upstream> {
  const root = join(dir, 'releases')
  const site = join(dir, 'site')
  writeSampleRelease({ root, collections, seed: 3 })
  const config = configSchema.parse({
    catalog: { roots: [root], database: join(dir, 'up.db') },
    // Side by side in site/: the list's urls are the bare file names.
    torrents: { out_dir: site, list_path: join(site, 'torrents.json'), piece_length: 65536, url_base: '' },
  })
  const db = openDatabase(config.catalog.database)
  try {
    await scan({ db, roots: [root] })
    await makeTorrents({ db, torrents: config.torrents })
    await publishList(db, config)
  } finally {
    db.close()
  }
  const listPath = join(site, 'torrents.json')
  const list = (): ListEntry[] => JSON.parse(readFileSync(listPath, 'utf8')) as ListEntry[]
  return {
    root,
    site,
    listPath,
    list,
    btih: (name) => list().find((e) => e.display_name === `${name}.torrent`)!.btih,
  }
}
