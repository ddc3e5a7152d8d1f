/**
 * Reading one configured source into upstream torrents: a list (URL or file) streamed through
 * `readListStream` in a worker thread, or a folder of .torrent files, each checked like a fetched one.
 */
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Config } from '../config/index.js'
import { AacseedError, errorMessage } from '../errors.js'
import { parseTorrent } from '../torrents/index.js'
import { checkUpstreamTorrent } from './check.js'
import { withRetry } from '../retry.js'
import { MirrorError, type MirrorErrorCode } from './errors.js'
import { fetchBytes, isPrivateLocation, type FetchOptions, type HostPolicy } from './fetch.js'
import { runListWorker, stoppableWorker, type ListSink } from './list-read.js'
import type { ListStoreInput, ListStoreMessage } from './list-store-worker.js'
import type { ListWorkerInput } from './list-worker.js'
import { ListDedup, releaseOfTorrentName, type ParsedList, type UpstreamTorrent } from './list.js'
import type { MirrorStore, StoredList } from './store.js'

export type { ListSink }

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
 * Reads one source into a sink on this thread, each try with a fresh sink. Throws a
 * `MirrorError` when the source as a whole cannot be read; bad entries are rejections. A list
 * is fetched and parsed in a worker thread, as it arrives. A dry run keeps the list in memory
 * this way; `readSourceIntoStore` stores one.
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
  return readList(s, s.list, m, signal, async (input) => {
    const sink = open()
    try {
      return await runListWorker(input, sink, signal)
    } catch (e) {
      sink.abandon()
      throw e
    }
  })
}

/**
 * Reads one source into the store, as `MirrorStore.listWriter` on the store's database. A
 * list is read, staged and merged off this thread (`list-store-worker.ts`, over a connection
 * of its own): at a million entries that is seconds of SQLite work, which on the thread that
 * serves the API stalled it. A folder of .torrent files (checked one by one on this thread
 * anyway) and a database in memory (which no other connection can open) are stored here.
 */
export async function readSourceIntoStore(
  s: SourceConfig,
  m: MirrorConfig,
  store: MirrorStore,
  at: string,
  signal?: AbortSignal,
): Promise<StoredList> {
  const location = sourceLocation(s)
  listWrites++
  try {
    if (!s.list || store.db.memory)
      return await readSource(s, m, () => store.listWriter(s.name, location, at), signal)
    const dbPath = store.db.name
    return await readList(s, s.list, m, signal, (read) =>
      runListStoreWorker({ dbPath, name: s.name, location, at, read }, signal),
    )
  } finally {
    listWrites--
  }
}

let listWrites = 0

/**
 * Whether this process is storing an upstream list (`readSourceIntoStore`) right now. Its merge
 * commits a slice at a time for seconds; a view computed over the list meanwhile (coverage) is
 * stale at the next commit, so serve's coverage waits for the end (`CoverageCache`'s `hold`).
 */
export function storingUpstreamList(): boolean {
  return listWrites > 0
}

/** The tries at reading a list (`attempt` runs one), with the source's fetch settings and host policy. */
async function readList<R>(
  s: SourceConfig,
  list: string,
  m: MirrorConfig,
  signal: AbortSignal | undefined,
  attempt: (input: ListWorkerInput) => Promise<R>,
): Promise<R> {
  const allowPrivate = (await hostPolicyFor(s, m)) ? false : null
  return withRetry(
    () =>
      attempt({
        ctx: { source: s.name, location: list, maxEntries: m.max_list_entries },
        fetch: {
          maxBytes: m.max_list_bytes,
          timeoutMs: m.timeout_ms,
          retries: 0,
          retryBaseMs: m.retry_base_ms,
          allowPrivate,
        },
      }),
    {
      attempts: m.retries + 1,
      backoff: { baseMs: m.retry_base_ms, maxMs: 60_000 },
      retryable: (e) => e instanceof MirrorError && e.transient,
      ...(signal ? { signal } : {}),
    },
  )
}

function runListStoreWorker(input: ListStoreInput, signal?: AbortSignal): Promise<StoredList> {
  return new Promise<StoredList>((resolve, reject) => {
    let merging = false
    // Stopping the worker before its merge drops what it staged (TEMP tables go with its
    // connection); once merging, it finishes, as the merge on this thread did.
    const { worker, settle } = stoppableWorker('./list-store-worker.js', input, {
      signal,
      stoppable: () => !merging,
      onStop: () => reject(new MirrorError('fetch-failed', `${input.name}: reading the list was stopped`)),
    })
    worker.on('message', (msg: ListStoreMessage) => {
      if (msg.type === 'merging') merging = true
      else if (msg.type === 'done') settle(() => resolve(msg.result))
      else settle(() => reject(storeWorkerError(msg)))
    })
    worker.on('error', (e) => settle(() => reject(e)))
    worker.on('exit', (code) =>
      settle(() => reject(new Error(`the list store for ${input.name} stopped (exit code ${code})`))),
    )
  })
}

/** The worker's error as this thread would have thrown it (a SQLite code keeps its meaning: a full disk). */
function storeWorkerError(msg: Extract<ListStoreMessage, { type: 'error' }>): Error {
  if (msg.kind === 'mirror')
    return new MirrorError(msg.code as MirrorErrorCode, msg.message, { transient: msg.transient })
  if (msg.kind === 'aacseed') return new AacseedError(msg.code ?? 'internal', msg.message)
  return Object.assign(new Error(msg.message), msg.code === null ? {} : { code: msg.code })
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
