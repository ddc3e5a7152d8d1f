/**
 * BitTorrent v1 metainfo (BEP 3): building our deterministic .torrent files and reading
 * untrusted ones. The info dictionary we write is byte for byte what mktorrent 1.1 writes for
 * the same file or folder and options, so infohashes agree with the tool most seeders know;
 * the keys outside it (trackers, web seeds, comment) differ only where noted.
 */
import { createHash } from 'node:crypto'
import {
  Bencoded,
  decodeDict,
  encode,
  type BencodeDict,
  type Decoded,
  type DecodedDict,
  type DecodeOptions,
} from './bencode.js'
import { TorrentError } from './errors.js'
import { hashPieces } from './hasher.js'
import { checkComponent, hashFilesOf, splitRelativePath } from './paths.js'
import { validatePieceLength } from './piece-length.js'

export interface TorrentFile {
  /** Relative and '/'-separated; for a single-file torrent, the file's name. */
  path: string
  length: number
}

export interface TorrentInput {
  name: string
  /** A metadata file makes a single-file torrent, a data folder a multi-file one. */
  kind: 'file' | 'folder'
  /** Absolute path of the file itself, or of the folder. */
  root: string
  /** In torrent order: pass them through `sortByNameBytes` to match mktorrent. */
  files: readonly TorrentFile[]
  pieceLength: number
  /** BEP 12 tiers. */
  announce: readonly (readonly string[])[]
  /** BEP 19 base URLs: where the release root is served; see `webSeedUrl`. */
  webSeeds: readonly string[]
  comment: string
  createdBy: string
  /** Unix seconds, or null to write none. */
  creationDate: number | null
  /** info.source, as `mktorrent -s` writes it: a private-tracker convention that changes the infohash. */
  source: string
  private: boolean
  hashWorkers?: number
  /** The calling thread hashes too (see HashOptions.callerHashes): for a CLI process. */
  callerHashes?: boolean
  onProgress?: (bytes: number) => void
  signal?: AbortSignal
}

export interface BuiltTorrent {
  torrent: Buffer
  /** v1 infohash, 40 lowercase hex digits. */
  infoHash: string
  pieceLength: number
  pieceCount: number
  totalSize: number
  fileCount: number
}

/** 40 MB of piece hashes: even 32 TiB at 16 MiB pieces stays below it. */
export const MAX_BUILD_PIECES = 1 << 21

export async function buildTorrent(input: TorrentInput): Promise<BuiltTorrent> {
  const { files, totalSize, paths } = checkInput(input)
  const pieceLength = validatePieceLength(input.pieceLength)
  const pieceCount = Math.ceil(totalSize / pieceLength)
  if (pieceCount > MAX_BUILD_PIECES) {
    throw new TorrentError(
      'too-many-pieces',
      `${input.name}: ${pieceCount} pieces of ${pieceLength} bytes is more than ${MAX_BUILD_PIECES}; use a larger piece length`,
      { path: input.root },
    )
  }

  const hashing = hashPieces(hashFilesOf(input, paths), pieceLength, {
    workers: input.hashWorkers ?? 0,
    callerHashes: input.callerHashes ?? false,
    onProgress: input.onProgress,
    signal: input.signal,
  })
  // The info dictionary but its pieces is encoded while they are hashed (a 350-file folder's takes
  // ~5 ms), so that what follows the last piece, on one thread with the other core idle, is short.
  const info = infoWithoutPieces({
    name: input.name,
    'piece length': pieceLength,
    private: input.private ? 1 : undefined,
    source: input.source === '' ? undefined : input.source,
    ...(input.kind === 'file'
      ? { length: totalSize }
      : { files: files.map((f, i) => ({ length: f.length, path: paths[i]! })) }),
  })
  const pieces = await hashing

  // Encoded once: the infohash is the SHA-1 of the very bytes inside `torrent`.
  const infoBytes = info.withPieces(pieces)
  const torrent = encodeTorrent(input, new Bencoded(infoBytes))
  return {
    torrent,
    infoHash: createHash('sha1').update(infoBytes).digest('hex'),
    pieceLength,
    pieceCount,
    totalSize,
    fileCount: files.length,
  }
}

/**
 * An info dictionary encoded but for its `pieces`, which `withPieces` splices in: the bytes are
 * those of `encode` of the whole dictionary, as bencode sorts keys by their bytes and every key
 * here sorts before `pieces` (files, length, name, piece length) or after it (private, source).
 */
export function infoWithoutPieces(info: BencodeDict): { withPieces(pieces: Buffer): Buffer } {
  const before: BencodeDict = {}
  const after: BencodeDict = {}
  for (const [k, v] of Object.entries(info)) {
    const c = Buffer.compare(Buffer.from(k), PIECES_KEY)
    if (c === 0) throw new TypeError('infoWithoutPieces: the info already has pieces')
    ;(c < 0 ? before : after)[k] = v
  }
  // 'd…e' around each half: the first half without its 'e', the second without its 'd'.
  const head = encode(before).subarray(0, -1)
  const tail = encode(after).subarray(1)
  return {
    withPieces: (pieces) =>
      Buffer.concat([head, Buffer.from(`${PIECES_KEY.length}:pieces${pieces.length}:`), pieces, tail]),
  }
}

const PIECES_KEY = Buffer.from('pieces')

/** What a .torrent holds outside its info dictionary (none of it changes the infohash). */
export type TorrentOuter = Pick<
  TorrentInput,
  'announce' | 'webSeeds' | 'comment' | 'createdBy' | 'creationDate'
>

function encodeTorrent(outer: TorrentOuter, info: BencodeDict | Bencoded): Buffer {
  const tiers = outer.announce.map((t) => [...t])
  const urlCount = tiers.reduce((n, t) => n + t.length, 0)
  return encode({
    announce: tiers[0]?.[0],
    // Like mktorrent: a list only when there is a second URL to fall back to.
    'announce-list': urlCount > 1 ? tiers : undefined,
    comment: outer.comment === '' ? undefined : outer.comment,
    'created by': outer.createdBy === '' ? undefined : outer.createdBy,
    'creation date': outer.creationDate ?? undefined,
    info,
    'url-list': outer.webSeeds.length > 0 ? outer.webSeeds.map(webSeedUrl) : undefined,
  })
}

/** A .torrent made elsewhere, read for reproducing: its info dictionary as written, and its piece hashes. */
export interface ForeignInfo {
  parsed: ParsedTorrent
  /** The info dictionary's bytes exactly as the input holds them (their SHA-1 is the infohash). */
  info: Buffer
  /** The concatenated SHA-1 digests of its pieces. */
  pieces: Buffer
}

export function readForeignInfo(buf: Uint8Array, limits: ParseLimits = {}): ForeignInfo {
  const parsed = parseTorrent(buf, limits)
  const { dict, raw } = decodeDict(buf)
  return { parsed, info: raw.get('info')!, pieces: bytes(dictAt(dict, 'info'), 'pieces', 'info.pieces') }
}

/**
 * Our .torrent for data whose torrent was made elsewhere (a mirrored release): the info
 * dictionary is kept byte for byte, so the infohash, and the swarm, stay the same; only what is
 * outside it (trackers, web seeds, comment, dates) is ours. Nothing is hashed.
 */
export function wrapForeignInfo(foreign: ForeignInfo, outer: TorrentOuter): BuiltTorrent {
  const p = foreign.parsed
  return {
    torrent: encodeTorrent(outer, new Bencoded(foreign.info)),
    infoHash: p.infoHash,
    pieceLength: p.pieceLength,
    pieceCount: p.pieceCount,
    totalSize: p.totalSize,
    fileCount: p.files.length,
  }
}

/**
 * The first piece of the files (in torrent order, absolute paths) whose SHA-1 is not the
 * foreign torrent's, or -1 when every piece matches. One full read.
 */
export async function firstBadPiece(
  foreign: ForeignInfo,
  files: readonly { path: string; length: number }[],
  opts: Pick<TorrentInput, 'hashWorkers' | 'callerHashes' | 'onProgress' | 'signal'> = {},
): Promise<number> {
  const pieces = await hashPieces(files, foreign.parsed.pieceLength, {
    workers: opts.hashWorkers ?? 0,
    callerHashes: opts.callerHashes ?? false,
    onProgress: opts.onProgress,
    signal: opts.signal,
  })
  for (let i = 0; i < foreign.parsed.pieceCount; i++)
    if (!pieces.subarray(i * 20, i * 20 + 20).equals(foreign.pieces.subarray(i * 20, i * 20 + 20))) return i
  return -1
}

/**
 * A BEP 19 web seed URL. Clients append the torrent's name (and for a folder, each file's path)
 * to a URL ending in '/', so the base URL of the release root serves both kinds: the metadata
 * file at <base><name> and a data folder's blobs at <base><name>/<aacid>. Without the '/',
 * clients would take the URL to be the single file itself.
 */
export function webSeedUrl(base: string): string {
  return base.endsWith('/') ? base : `${base}/`
}

function checkInput(input: TorrentInput): {
  files: readonly TorrentFile[]
  totalSize: number
  paths: string[][]
} {
  const bad = (message: string): never => {
    throw new TorrentError('invalid-torrent-input', `${input.name}: ${message}`, { path: input.root })
  }
  checkComponent(input.name, input.root)
  const files = input.files
  if (files.length === 0) bad('no files')
  if (input.kind === 'file' && (files.length !== 1 || files[0]!.path !== input.name))
    bad('a single-file torrent has exactly one file, named like the torrent')
  let totalSize = 0
  for (const f of files) {
    if (!Number.isSafeInteger(f.length) || f.length < 0) bad(`bad length ${f.length} for ${f.path}`)
    totalSize += f.length
  }
  if (totalSize === 0)
    throw new TorrentError(
      'empty-torrent',
      `${input.name}: all files are empty; a torrent needs at least one byte`,
      { path: input.root },
    )
  const paths = input.kind === 'file' ? [[input.name]] : files.map((f) => splitRelativePath(f.path))
  const seen = new Set<string>()
  for (const f of files) {
    if (seen.has(f.path)) bad(`${f.path} is listed twice`)
    seen.add(f.path)
  }
  for (const f of files) {
    // "a" and "a/b" cannot both be files.
    for (let i = f.path.indexOf('/'); i >= 0; i = f.path.indexOf('/', i + 1)) {
      if (seen.has(f.path.slice(0, i))) bad(`${f.path.slice(0, i)} is both a file and a folder`)
    }
  }
  for (const tier of input.announce) if (tier.length === 0) bad('an announce tier is empty')
  return { files, totalSize, paths }
}

/**
 * Bounds for reading a .torrent from elsewhere. Decoding already allocates nothing beyond the
 * input; these keep what is built from it (file lists, path sets) in proportion too.
 */
export interface ParseLimits {
  maxBytes?: number
  maxFiles?: number
  maxPieces?: number
}

const DEFAULT_LIMITS = {
  maxBytes: 64 << 20,
  maxFiles: 1_000_000,
  maxPieces: 1 << 22,
} satisfies Required<ParseLimits>

export interface ParsedTorrent {
  /** SHA-1 of the info dictionary's bytes exactly as the input holds them. */
  infoHash: string
  name: string
  kind: 'file' | 'folder'
  /** '/'-joined and checked safe; for a single-file torrent, the name. */
  files: TorrentFile[]
  totalSize: number
  pieceLength: number
  pieceCount: number
  private: boolean
  source: string | null
  announce: string[][]
  urlList: string[]
  comment: string | null
  createdBy: string | null
  creationDate: number | null
}

/**
 * Reads an untrusted .torrent: every name is checked safe to create under a download folder
 * (`unsafe-torrent-path`), anything else malformed is `invalid-torrent` or `invalid-bencode`.
 */
export function parseTorrent(
  buf: Uint8Array,
  limits: ParseLimits = {},
  decodeOptions: DecodeOptions = {},
): ParsedTorrent {
  const lim = { ...DEFAULT_LIMITS, ...limits }
  if (buf.length > lim.maxBytes)
    invalid(`the .torrent is ${buf.length} bytes, more than the limit of ${lim.maxBytes}`)
  const { dict, raw } = decodeDict(buf, decodeOptions)
  const info = dictAt(dict, 'info')
  const infoBytes = raw.get('info')!

  const name = checkComponent(text(info, 'name', 'info.name'), 'info.name')
  const pieceLength = integer(info, 'piece length', 'info.piece length')
  if (pieceLength <= 0 || pieceLength > 1 << 30) invalid(`info.piece length ${pieceLength} is out of range`)
  const pieces = bytes(info, 'pieces', 'info.pieces')
  if (pieces.length % 20 !== 0) invalid(`info.pieces is ${pieces.length} bytes, not a multiple of 20`)
  const pieceCount = pieces.length / 20
  if (pieceCount > lim.maxPieces) invalid(`${pieceCount} pieces is more than the limit of ${lim.maxPieces}`)

  let kind: 'file' | 'folder'
  const files: TorrentFile[] = []
  let totalSize = 0
  if (info.length !== undefined) {
    if (info.files !== undefined) invalid('info has both length and files')
    kind = 'file'
    totalSize = length(integer(info, 'length', 'info.length'), 'info.length')
    files.push({ path: name, length: totalSize })
  } else if (info.files !== undefined) {
    kind = 'folder'
    const list = info.files
    if (!Array.isArray(list)) return invalid('info.files is not a list')
    if (list.length === 0) invalid('info.files is empty')
    if (list.length > lim.maxFiles) invalid(`${list.length} files is more than the limit of ${lim.maxFiles}`)
    const seen = new Set<string>()
    list.forEach((entry, i) => {
      const where = `info.files[${i}]`
      if (!isDict(entry)) return invalid(`${where} is not a dictionary`)
      const len = length(integer(entry, 'length', `${where}.length`), `${where}.length`)
      const parts = entry.path
      if (!Array.isArray(parts) || parts.length === 0) return invalid(`${where}.path is not a non-empty list`)
      const path = parts
        .map((p, j) => checkComponent(utf8(p, `${where}.path[${j}]`), `${where}.path`))
        .join('/')
      if (seen.has(path)) invalid(`${where}: ${path} is listed twice`)
      seen.add(path)
      files.push({ path, length: len })
      totalSize += len
    })
    if (!Number.isSafeInteger(totalSize)) invalid('total size is too large')
  } else {
    // BEP 52 v2-only torrents have neither; hybrid ones also carry v1 files and are read as v1.
    return invalid('info has neither length nor files (v2-only torrents are not supported)')
  }
  if (pieceCount !== Math.ceil(totalSize / pieceLength)) {
    invalid(
      `info.pieces holds ${pieceCount} hashes but ${totalSize} bytes in pieces of ${pieceLength} need ${Math.ceil(totalSize / pieceLength)}`,
    )
  }

  return {
    infoHash: createHash('sha1').update(infoBytes).digest('hex'),
    name,
    kind,
    files,
    totalSize,
    pieceLength,
    pieceCount,
    private: info.private === 1,
    source: info.source === undefined ? null : utf8(info.source, 'info.source'),
    announce: announceTiers(dict),
    urlList: urlList(dict),
    comment: dict.comment === undefined ? null : utf8(dict.comment, 'comment'),
    createdBy: dict['created by'] === undefined ? null : utf8(dict['created by'], 'created by'),
    creationDate: typeof dict['creation date'] === 'number' ? dict['creation date'] : null,
  }
}

function announceTiers(dict: DecodedDict): string[][] {
  const list = dict['announce-list']
  // BEP 12: a client that understands announce-list ignores announce.
  if (Array.isArray(list) && list.length > 0) {
    return list
      .map((tier, i) => {
        if (!Array.isArray(tier)) return invalid(`announce-list[${i}] is not a list`)
        return tier.map((u, j) => utf8(u, `announce-list[${i}][${j}]`))
      })
      .filter((t) => t.length > 0)
  }
  return dict.announce === undefined ? [] : [[utf8(dict.announce, 'announce')]]
}

function urlList(dict: DecodedDict): string[] {
  const v = dict['url-list']
  if (v === undefined) return []
  // BEP 19 allows a single string; some tools write an empty string for none.
  if (Buffer.isBuffer(v)) return v.length === 0 ? [] : [utf8(v, 'url-list')]
  if (!Array.isArray(v)) return invalid('url-list is neither a string nor a list')
  return v.map((u, i) => utf8(u, `url-list[${i}]`))
}

function invalid(message: string): never {
  throw new TorrentError('invalid-torrent', `invalid .torrent: ${message}`)
}

function isDict(v: Decoded | undefined): v is DecodedDict {
  return v !== undefined && typeof v === 'object' && !Buffer.isBuffer(v) && !Array.isArray(v)
}

function dictAt(d: DecodedDict, key: string): DecodedDict {
  const v = d[key]
  if (!isDict(v)) return invalid(`${key} is missing or not a dictionary`)
  return v
}

function bytes(d: DecodedDict, key: string, where: string): Buffer {
  const v = d[key]
  if (!Buffer.isBuffer(v)) return invalid(`${where} is missing or not a string`)
  return v
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true })

function utf8(v: Decoded | undefined, where: string): string {
  if (!Buffer.isBuffer(v)) return invalid(`${where} is not a string`)
  try {
    return fatalUtf8.decode(v)
  } catch {
    return invalid(`${where} is not UTF-8`)
  }
}

function text(d: DecodedDict, key: string, where: string): string {
  return utf8(bytes(d, key, where), where)
}

function integer(d: DecodedDict, key: string, where: string): number {
  const v = d[key]
  if (typeof v !== 'number') return invalid(`${where} is missing, not an integer, or too large`)
  return v
}

function length(n: number, where: string): number {
  if (n < 0) invalid(`${where} is negative`)
  return n
}
