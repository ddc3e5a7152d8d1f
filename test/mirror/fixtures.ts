/**
 * The local upstream of the mirror tests: a static HTTP server on 127.0.0.1 (a random port)
 * serving a folder, whose answers a test can script (fail the next requests, count them).
 */
import { createReadStream, statSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, normalize, sep } from 'node:path'
import type { TestContext } from 'node:test'

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
    res.writeHead(200, { 'content-length': size, 'content-type': path.endsWith('.json') ? 'application/json' : 'application/x-bittorrent' })
    createReadStream(file).pipe(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext: (path, n, status) => failures.set(path, { n, status }),
    override: (path, body) => (body === null ? overrides.delete(path) : overrides.set(path, Buffer.from(body))),
  }
}
