/**
 * GET /torrents/<name>.torrent: every .torrent aacseed publishes, so that another aacseed
 * following this one's /torrents.json can fetch what the list's `url`s name (they resolve
 * against the list's URL; by default `torrents.url_base` is `torrents/`). The name is looked up
 * in the torrents table, and the file read is the path stored there: nothing from the request
 * becomes a path. An opaque torrent mirror sync holds is `<btih>.torrent`: upstream's bytes as
 * mirror sync checked and stored them.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import type { Db } from '../db/index.js'
import { MirrorStore } from '../mirror/store.js'
import { TorrentStore } from '../torrents/index.js'
import { HttpError } from './errors.js'

const SUFFIX = '.torrent'

export function registerTorrentFiles(app: FastifyInstance, db: Db): void {
  const store = new TorrentStore(db)
  const mirror = new MirrorStore(db)
  const other = (file: string): Buffer | null => {
    const m = /^([0-9a-f]{40})\.torrent$/.exec(file)
    const d = m ? mirror.download(m[1]!) : undefined
    return d && d.kind === 'other' && (d.state === 'placed' || d.state === 'done') ? d.torrent : null
  }
  app.get<{ Params: { file: string } }>('/torrents/:file', async (req, reply) => {
    const file = req.params.file
    const row = file.endsWith(SUFFIX) ? store.byName(file.slice(0, -SUFFIX.length)) : undefined
    let bytes: Buffer
    if (row) {
      try {
        bytes = await readFile(row.torrentPath)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
        throw new HttpError(404, 'unknown-torrent', `${file} is in the catalog but its file is missing`)
      }
    } else {
      const upstream = other(file)
      if (!upstream)
        throw new HttpError(404, 'unknown-torrent', `no published torrent ${JSON.stringify(file)}`)
      bytes = upstream
    }
    // From the bytes, not the infohash: a re-made file (new trackers, say) keeps its infohash.
    const etag = `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 32)}"`
    reply.header('etag', etag).header('cache-control', 'no-cache')
    const match = req.headers['if-none-match']
    if (match && match.split(',').some((m) => m.trim() === etag)) return reply.code(304).send()
    return reply
      .type('application/x-bittorrent')
      .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(file)}`)
      .send(bytes)
  })
}
