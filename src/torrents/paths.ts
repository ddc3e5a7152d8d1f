/**
 * Which names a torrent may carry. A torrent's name and path components become file names
 * on every seeder's disk, so one from an untrusted .torrent must not be able to climb out of
 * the download folder or mean something else on another operating system.
 */
import { join } from 'node:path'
import { TorrentError } from './errors.js'
import type { HashFile } from './hasher.js'
import type { TorrentFile, TorrentInput } from './metainfo.js'

/** Why a component is unsafe, or null when it is fine. */
export function unsafeComponentReason(c: string): string | null {
  if (c === '') return 'is empty'
  if (c === '.' || c === '..') return 'is a relative step'
  if (c.includes('/')) return "contains '/'"
  if (c.includes('\\')) return "contains '\\'"
  if (c.includes('\0')) return 'contains NUL'
  // "C:" and "C:x" name a drive (or a drive's current folder) on Windows.
  if (/^[A-Za-z]:/.test(c)) return 'starts with a drive letter'
  return null
}

export function checkComponent(c: string, where: string): string {
  const reason = unsafeComponentReason(c)
  if (reason !== null)
    throw new TorrentError(
      'unsafe-torrent-path',
      `unsafe path component ${JSON.stringify(c)} in ${where}: it ${reason}`,
      { path: where },
    )
  return c
}

/** Splits a relative '/'-separated path into checked components; absolute paths are refused. */
export function splitRelativePath(path: string): string[] {
  if (path.startsWith('/'))
    throw new TorrentError('unsafe-torrent-path', `path ${JSON.stringify(path)} is absolute`, { path })
  return path.split('/').map((c) => checkComponent(c, path))
}

/**
 * Orders file paths by their UTF-8 bytes, '/' included, as mktorrent 1.1 does (init.c inserts
 * each file into its list by `strcmp` of the whole relative path; verified by the infohash tests).
 * So "a-b" < "a/x" < "a0" and "B" < "a"; JavaScript's `<` compares UTF-16 units and differs for
 * characters beyond U+FFFF. create-torrent walks one folder at a time instead ("a/x" < "a-b"),
 * which agrees with mktorrent for a flat folder such as an AAC data folder.
 */
export function compareNameBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

export function sortByNameBytes<T extends { path: string }>(files: readonly T[]): T[] {
  const keyed = files.map((f) => ({ f, k: Buffer.from(f.path, 'utf8') }))
  keyed.sort((x, y) => Buffer.compare(x.k, y.k))
  return keyed.map((x) => x.f)
}

/**
 * The files `buildTorrent` hashes for `input`, by absolute path, in torrent order. `paths` are
 * the files' split relative paths, when already checked.
 */
export function hashFilesOf(
  input: Pick<TorrentInput, 'kind' | 'root' | 'files'>,
  paths: readonly (readonly string[])[] = input.files.map((f) => splitRelativePath(f.path)),
): HashFile[] {
  return input.files.map((f, i) => ({
    path: input.kind === 'file' ? input.root : join(input.root, ...paths[i]!),
    length: f.length,
  }))
}

/**
 * A cataloged release's files as its torrent lists them: a metadata file is the torrent's one
 * file, named as the release; a data folder's files come from the catalog (`dataFiles`, read
 * only for a folder). `torrents make` and its head start's guess must agree on this, or the
 * guess is never adopted.
 */
export function releaseTorrentFiles(
  r: { kind: 'meta' | 'data'; name: string; bytes: number },
  dataFiles: () => ReadonlyArray<{ name: string; size: number }>,
): TorrentFile[] {
  return r.kind === 'meta'
    ? [{ path: r.name, length: r.bytes }]
    : dataFiles().map((f) => ({ path: f.name, length: f.size }))
}
