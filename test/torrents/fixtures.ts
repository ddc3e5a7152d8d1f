/** Shared by the torrent tests: reproducible data folders, mktorrent, and an independent reference hasher. */
import { spawnSync } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative, sep } from 'node:path'
import { decodeDict, encode, type DecodedDict, type TorrentInput } from '../../src/torrents/index.js'

/** Incompressible bytes that depend only on `seed`. */
export function bytesFor(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length))
}

/** Writes `files` (relative '/'-separated path → size) under `dir`. */
export function writeFiles(dir: string, files: Record<string, number>): void {
  for (const [path, size] of Object.entries(files)) {
    const p = join(dir, ...path.split('/'))
    mkdirSync(dirname(p), { recursive: true })
    writeFileSync(p, bytesFor(path, size))
  }
}

/** Every regular file under `dir`, relative, '/'-separated, in no particular order. */
export function listFiles(dir: string): { path: string; length: number }[] {
  const out: { path: string; length: number }[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) out.push({ path: relative(dir, p).split(sep).join('/'), length: statSync(p).size })
    }
  }
  walk(dir)
  // Reverse readdir's order so a test cannot pass by accident when the code forgets to sort.
  return out.reverse()
}

export function baseInput(
  overrides: Partial<TorrentInput> & Pick<TorrentInput, 'name' | 'kind' | 'root' | 'files'>,
): TorrentInput {
  return {
    pieceLength: 1 << 15,
    announce: [['http://127.0.0.1:1/announce']],
    webSeeds: [],
    comment: '',
    createdBy: '',
    creationDate: null,
    source: '',
    private: false,
    ...overrides,
  }
}

export interface MktorrentOptions {
  pieceLog2: number
  private?: boolean
  source?: string
  noDate?: boolean
}

/** Runs the real mktorrent on `target` and returns its output. */
export function mktorrent(target: string, outDir: string, opts: MktorrentOptions): Buffer {
  const out = join(outDir, `${basename(target)}.mktorrent.torrent`)
  const args = ['-l', String(opts.pieceLog2), '-a', 'http://127.0.0.1:1/announce', '-o', out]
  if (opts.noDate ?? true) args.push('-d')
  if (opts.private) args.push('-p')
  if (opts.source) args.push('-s', opts.source)
  const r = spawnSync('mktorrent', [...args, target], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`mktorrent failed (${r.status}): ${r.stderr}`)
  return readFileSync(out)
}

/** The info dictionary's exact bytes and its SHA-1, read from any .torrent. */
export function infoOf(torrent: Uint8Array): {
  bytes: Buffer
  reencoded: Buffer
  infoHash: string
  info: DecodedDict
} {
  const { dict, raw } = decodeDict(torrent)
  const bytes = raw.get('info')!
  const info = dict.info as DecodedDict
  return { bytes, reencoded: encode(info), infoHash: createHash('sha1').update(bytes).digest('hex'), info }
}

/** The obvious, slow way: concatenate everything, then cut and hash. */
export function referencePieces(paths: string[], pieceLength: number): Buffer {
  const all = Buffer.concat(paths.map((p) => readFileSync(p)))
  const out: Buffer[] = []
  for (let at = 0; at < all.length; at += pieceLength)
    out.push(
      createHash('sha1')
        .update(all.subarray(at, at + pieceLength))
        .digest(),
    )
  return Buffer.concat(out)
}
