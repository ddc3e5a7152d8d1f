/**
 * Reading one configured source into upstream torrents: a list (URL or file) streamed through
 * `readListStream` in a worker thread, or a folder of .torrent files, each checked like a fetched one.
 */
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { Config } from '../config/index.js'
import { errorMessage } from '../errors.js'
import { parseTorrent } from '../torrents/index.js'
import { checkUpstreamTorrent } from './check.js'
import { withRetry } from '../retry.js'
import { MirrorError, type MirrorErrorCode } from './errors.js'
import { fetchBytes, isPrivateLocation, type FetchOptions, type HostPolicy } from './fetch.js'
import type { ListWorkerInput, ListWorkerMessage } from './list-worker.js'
import {
  ListDedup,
  releaseOfTorrentName,
  type EntryVerdict,
  type ParsedList,
  type UpstreamTorrent,
} from './list.js'

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

/**
 * Which hosts the URLs a source lists (its .torrent URLs, and where they redirect) may name:
 * none on this machine or its network, unless the operator allows them
 * (`mirror.allow_private_hosts`) or the list itself is served from such a host or read from a
 * file (then it is the operator's own). Undefined: any host. `rules` (tests) replace the
 * resolver and the address rule.
 */
export async function hostPolicyFor(
  s: SourceConfig | undefined,
  m: MirrorConfig,
  rules: Omit<HostPolicy, 'allowPrivate'> = {},
): Promise<HostPolicy | undefined> {
  if (m.allow_private_hosts) return undefined
  // A source no longer configured: nothing says where its list was served from.
  if (s !== undefined && (!s.list || (await isPrivateLocation(s.list, rules)))) return undefined
  return { allowPrivate: false, ...rules }
}

/**
 * Where a source's entries go as they are read: the store (`MirrorStore.listWriter`) or memory (a dry run).
 */
export interface ListSink<R> {
  add(verdicts: readonly EntryVerdict[]): void
  /** May take a while (the store merges a staged list in slices); the read is then no longer stopped. */
  finish(): R | Promise<R>
  /** The read failed or was refused: forget what it added. */
  abandon(): void
}

/** A sink that keeps the list in memory, with the whole-list rules of `ListDedup`. */
export function memorySink(source: string): ListSink<ParsedList> {
  const dedup = new ListDedup(source)
  return {
    add: (verdicts) => verdicts.forEach((v) => dedup.add(v)),
    finish: () => dedup.finish(),
    abandon() {},
  }
}

/**
 * Reads one source into a sink, each try with a fresh sink. Throws a `MirrorError` when the
 * source as a whole cannot be read; bad entries are rejections. A list is fetched and parsed
 * in a worker thread, as it arrives.
 */
export async function readSource<R>(
  s: SourceConfig,
  m: MirrorConfig,
  open: () => ListSink<R>,
  signal?: AbortSignal,
): Promise<R> {
  if (!s.list) {
    const parsed = await readTorrentDir(s, m)
    const sink = open()
    sink.add([
      ...parsed.torrents.map((torrent) => ({ torrent, label: torrent.name })),
      ...parsed.rejected.map((rejection) => ({ rejection })),
    ])
    return await sink.finish()
  }
  const list = s.list
  const allowPrivate = (await hostPolicyFor(s, m)) ? false : null
  return withRetry(
    async () => {
      const sink = open()
      try {
        return await runListWorker(
          {
            ctx: { source: s.name, location: list, maxEntries: m.max_list_entries },
            fetch: {
              maxBytes: m.max_list_bytes,
              timeoutMs: m.timeout_ms,
              retries: 0,
              retryBaseMs: m.retry_base_ms,
              allowPrivate,
            },
          },
          sink,
          signal,
        )
      } catch (e) {
        sink.abandon()
        throw e
      }
    },
    {
      attempts: m.retries + 1,
      backoff: { baseMs: m.retry_base_ms, maxMs: 60_000 },
      retryable: (e) => e instanceof MirrorError && e.transient,
      ...(signal ? { signal } : {}),
    },
  )
}

function runListWorker<R>(input: ListWorkerInput, sink: ListSink<R>, signal?: AbortSignal): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const worker = new Worker(new URL('./list-worker.js', import.meta.url), { workerData: input })
    let settled = false
    let finishing = false
    const settle = (fn: () => void): void => {
      if (settled) return
      settled = true
      signal?.removeEventListener('abort', onAbort)
      void worker.terminate()
      fn()
    }
    const onAbort = (): void => {
      if (finishing) return
      settle(() =>
        reject(new MirrorError('fetch-failed', `${input.ctx.source}: reading the list was stopped`)),
      )
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    if (signal?.aborted) onAbort()
    worker.on('message', (msg: ListWorkerMessage) => {
      if (settled) return
      try {
        if (msg.type === 'batch') {
          sink.add(msg.batch.verdicts)
          worker.postMessage('ack')
        } else if (msg.type === 'done') {
          finishing = true
          void worker.terminate()
          Promise.resolve()
            .then(() => sink.finish())
            .then(
              (r) => settle(() => resolve(r)),
              (e: unknown) => settle(() => reject(e instanceof Error ? e : new Error(String(e)))),
            )
        } else {
          settle(() =>
            reject(new MirrorError(msg.code as MirrorErrorCode, msg.message, { transient: msg.transient })),
          )
        }
      } catch (e) {
        settle(() => reject(e instanceof Error ? e : new Error(String(e))))
      }
    })
    worker.on('error', (e) => {
      if (!finishing) settle(() => reject(e))
    })
    worker.on('exit', (code) => {
      if (finishing) return
      settle(() => reject(new Error(`the list reader for ${input.ctx.source} stopped (exit code ${code})`)))
    })
  })
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
      // The file's own infohash is the entry's: checking it against itself still checks the name, kind and
      // files.
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
        partiallyBroken: false,
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
