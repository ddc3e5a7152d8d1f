/**
 * Reading one configured source into upstream torrents: a list (URL or file) through
 * `parseTorrentList`, or a folder of .torrent files, each checked like a fetched one.
 */
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config/index.js'
import { errorMessage } from '../errors.js'
import { parseTorrent } from '../torrents/index.js'
import { checkUpstreamTorrent } from './check.js'
import { MirrorError } from './errors.js'
import { displayLocation, fetchBytes, type FetchOptions } from './fetch.js'
import { parseTorrentList, releaseOfTorrentName, type ParsedList, type UpstreamTorrent } from './list.js'

export type MirrorConfig = Config['mirror']
export type SourceConfig = MirrorConfig['sources'][number]

export function sourceLocation(s: SourceConfig): string {
  return s.list || s.torrent_dir
}

export function torrentLimits(m: MirrorConfig): { maxBytes: number; maxFiles: number; maxPieces: number } {
  return { maxBytes: m.max_torrent_bytes, maxFiles: m.max_torrent_files, maxPieces: m.max_torrent_pieces }
}

export function fetchOptions(m: MirrorConfig, maxBytes: number, signal?: AbortSignal): FetchOptions {
  return {
    maxBytes,
    timeoutMs: m.timeout_ms,
    retries: m.retries,
    retryBaseMs: m.retry_base_ms,
    ...(signal ? { signal } : {}),
  }
}

/** Throws a `MirrorError` when the source as a whole cannot be read; bad entries are rejections. */
export async function readSource(
  s: SourceConfig,
  m: MirrorConfig,
  signal?: AbortSignal,
): Promise<ParsedList> {
  if (s.list) {
    const bytes = await fetchBytes(s.list, fetchOptions(m, m.max_list_bytes, signal))
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch {
      throw new MirrorError('list-invalid', `${s.name}: the list at ${displayLocation(s.list)} is not UTF-8`)
    }
    return parseTorrentList(text, { source: s.name, location: s.list, maxEntries: m.max_list_entries })
  }
  return readTorrentDir(s, m)
}

async function readTorrentDir(s: SourceConfig, m: MirrorConfig): Promise<ParsedList> {
  const dir = s.torrent_dir
  let names: string[]
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.torrent')).sort()
  } catch (e) {
    throw new MirrorError(
      'fetch-failed',
      `${s.name}: cannot read the folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`,
      { transient: true, path: dir },
    )
  }
  if (names.length > m.max_list_entries)
    throw new MirrorError(
      'list-invalid',
      `${s.name}: ${dir} holds ${names.length} .torrent files, more than the limit of ${m.max_list_entries}`,
    )
  const out: ParsedList = { torrents: [], opaque: [], rejected: [], duplicates: 0 }
  for (const fileName of names) {
    const path = join(dir, fileName)
    try {
      const release = releaseOfTorrentName(fileName)
      const st = await lstat(path)
      if (!st.isFile())
        throw new MirrorError('entry-invalid', 'is not a regular file (symlinks are not followed)')
      const bytes = await fetchBytes(path, fetchOptions(m, m.max_torrent_bytes))
      // The file's own infohash is the entry's: checking it against itself still checks the name, kind and files.
      const { infoHash } = parseTorrent(bytes, torrentLimits(m))
      const t = checkUpstreamTorrent(
        bytes,
        { btih: infoHash, name: release.name, kind: release.kind, dataSize: null },
        torrentLimits(m),
      )
      const entry: UpstreamTorrent = {
        btih: t.infoHash,
        ...release,
        torrentUrl: path,
        magnet: null,
        dataSize: t.totalSize,
        numFiles: t.files.length,
        seeders: null,
        leechers: null,
        completed: null,
        scrapedAt: null,
        obsolete: false,
        embargo: false,
        addedAt: null,
        topGroup: '',
        group: release.collection,
      }
      out.torrents.push(entry)
    } catch (e) {
      out.rejected.push({
        source: s.name,
        entry: fileName,
        code: (e as { code?: string }).code ?? 'entry-invalid',
        message: errorMessage(e),
      })
    }
  }
  return out
}
