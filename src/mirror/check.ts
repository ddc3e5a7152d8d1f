/**
 * Checking an upstream .torrent before anything is downloaded with it. Pure.
 *
 * `parseTorrent` already refuses names that could leave a download folder; here the torrent
 * must also be exactly the AAC release its entry names: the same infohash, name, size and file
 * count, a single file for a metadata file, and for a data folder only files directly inside
 * it, each named by an AACID of the folder's collection within its range (the standard's rule
 * for data folders), listed in byte order of their names (as aacseed and mktorrent list them).
 * This is the whole check of the file list: the engine then verifies every byte against the
 * torrent's piece hashes, and aacseed keeps its info dictionary, so nothing is hashed again.
 */
import { parseAacId, parseDataFolderName, parseMetaFileName, rangeContainsAacId } from '../aac/index.js'
import { errorMessage } from '../errors.js'
import { posix } from 'node:path'
import {
  compareNameBytes,
  isValidPieceLength,
  parseTorrent,
  TorrentError,
  type ParsedTorrent,
  type ParseLimits,
} from '../torrents/index.js'
import { MirrorError } from './errors.js'
import type { UpstreamTorrent } from './list.js'

export function checkUpstreamTorrent(
  buf: Uint8Array,
  up: Pick<UpstreamTorrent, 'btih' | 'name' | 'kind' | 'dataSize'> & { numFiles?: number | null },
  limits: ParseLimits,
): ParsedTorrent {
  let t: ParsedTorrent
  try {
    t = parseTorrent(buf, limits)
  } catch (e) {
    // Keep the torrent module's precise codes (`unsafe-torrent-path`, `invalid-bencode`, ...).
    if (e instanceof TorrentError) throw e
    throw new MirrorError('torrent-mismatch', `invalid .torrent: ${errorMessage(e)}`)
  }
  const mismatch = (what: string): never => {
    throw new MirrorError('torrent-mismatch', `the .torrent for ${up.name} ${what}`)
  }
  if (t.infoHash !== up.btih) mismatch(`has infohash ${t.infoHash}, not the listed ${up.btih}`)
  if (t.name !== up.name) mismatch(`is named ${JSON.stringify(t.name)}`)
  if (up.dataSize !== null && t.totalSize !== up.dataSize)
    mismatch(`holds ${t.totalSize} bytes, not the listed ${up.dataSize}`)
  if (up.numFiles !== undefined && up.numFiles !== null && t.files.length !== up.numFiles)
    mismatch(`holds ${t.files.length} files, not the listed ${up.numFiles}`)
  if (up.kind === 'meta') {
    parseMetaFileName(t.name)
    if (t.kind !== 'file') mismatch('is a folder, but a metadata file is one file')
    return t
  }
  const folder = parseDataFolderName(t.name)
  if (t.kind !== 'folder') mismatch('is a single file, but a data folder is a folder')
  for (const f of t.files) {
    if (f.path.includes('/')) mismatch(`holds ${JSON.stringify(f.path)}: a data folder holds no sub-folders`)
    let ok = false
    try {
      const id = parseAacId(f.path)
      ok = id.collection === folder.range.collection && rangeContainsAacId(folder.range, id)
    } catch {
      ok = false
    }
    if (!ok)
      throw new MirrorError(
        'not-aac-name',
        `the .torrent for ${up.name} holds ${JSON.stringify(f.path)}, which is not an AACID of ${folder.range.collection} within the folder's range`,
      )
  }
  for (let i = 1; i < t.files.length; i++) {
    const [a, b] = [t.files[i - 1]!.path, t.files[i]!.path]
    if (compareNameBytes(a, b) >= 0)
      mismatch(
        `lists ${JSON.stringify(b)} after ${JSON.stringify(a)}: a data folder's files are listed in byte order of their names`,
      )
  }
  return t
}

/**
 * Checking an opaque torrent's .torrent (an entry that is not an AAC release): no AAC rule
 * applies, so it must only be the torrent its entry names (the infohash, and the listed size
 * when there is one) and safe to download (`parseTorrent` refuses paths that leave the folder).
 * Its data is verified by the engine, piece by piece, against that infohash.
 */
export function checkOpaqueTorrent(
  buf: Uint8Array,
  up: { btih: string; dataSize: number | null; label: string },
  limits: ParseLimits,
): ParsedTorrent {
  let t: ParsedTorrent
  try {
    t = parseTorrent(buf, limits)
  } catch (e) {
    if (e instanceof TorrentError) throw e
    throw new MirrorError('torrent-mismatch', `invalid .torrent: ${errorMessage(e)}`)
  }
  if (t.infoHash !== up.btih)
    throw new MirrorError(
      'torrent-mismatch',
      `the .torrent for ${up.label} has infohash ${t.infoHash}, not the listed ${up.btih}`,
    )
  if (up.dataSize !== null && t.totalSize !== up.dataSize)
    throw new MirrorError(
      'torrent-mismatch',
      `the .torrent for ${up.label} holds ${t.totalSize} bytes, not the listed ${up.dataSize}`,
    )
  return t
}

/**
 * What the engine will make of the torrent must be what we checked. WebTorrent reads a torrent
 * with parse-torrent, which prefers `name.utf-8` / `path.utf-8` over `name` / `path`; aacseed's
 * strict parser reads `name` / `path`. When the two disagree the engine writes files under
 * names the checks never saw (and verification then finds nothing): such a torrent is refused.
 * And a piece length that aacseed does not make (outside 32 KiB–16 MiB, not a power of two) is
 * refused before any download: the release could not be checked again later against its piece
 * hashes by the rules `torrents make` keeps.
 */
export async function checkEngineView(
  buf: Uint8Array,
  t: ParsedTorrent,
  /** `remade: false`: an opaque torrent, never made again, so any piece length will do. */
  opts: { remade?: boolean } = {},
): Promise<void> {
  if (opts.remade !== false && !isValidPieceLength(t.pieceLength))
    throw new MirrorError(
      'torrent-unsupported',
      `the .torrent for ${t.name} has piece length ${t.pieceLength}: aacseed keeps mirrored torrents only with the piece lengths it makes, powers of two from 32 KiB to 16 MiB`,
    )
  let theirs
  try {
    // Loaded here: parse-torrent brings node-fetch and more, which the commands that only read
    // the mirror's tables (coverage, plan) would otherwise load at start-up.
    const { default: webTorrentParse } = await import('parse-torrent')
    theirs = await webTorrentParse(buf)
  } catch (e) {
    throw new MirrorError(
      'torrent-unsupported',
      `WebTorrent's parser cannot read the .torrent for ${t.name}: ${errorMessage(e)}`,
    )
  }
  const disagree = (what: string): never => {
    throw new MirrorError(
      'torrent-unsupported',
      `the .torrent for ${t.name} names ${what} differently in its *.utf-8 fields than in name/path: the engine would write other files than the ones checked`,
    )
  }
  if (theirs.infoHash !== t.infoHash) disagree('its infohash')
  if (theirs.name !== t.name) disagree(`itself (${JSON.stringify(theirs.name)})`)
  const ours = t.files.map((f) => (t.kind === 'file' ? t.name : posix.join(t.name, f.path)))
  const theirPaths = (theirs.files ?? []).map((f) => f.path.split(/[\\/]/).join('/'))
  if (ours.length !== theirPaths.length || ours.some((p, i) => p !== theirPaths[i])) disagree('its files')
}
