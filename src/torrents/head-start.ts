/**
 * `aacseed torrents make`'s head start. A CLI process spends its first ~0.15 s on one core
 * loading modules, the config and the catalog, while the pre-started hash worker waits idle on
 * the other. Before any of that (bin/aacseed.js runs it before the CLI loads), this reads the few
 * settings it needs from the config as written (not validated: the schema and zod take most of
 * the config's load time), guesses the first job from the catalog, and sets the idle worker
 * hashing it (`startHeadStart`). The command then runs as ever, with the validated config, its
 * lease and its checks of the files against the disk; it adopts the hashing when it asks for the
 * very same job and stops it otherwise. Either way the pieces are the SHA-1 of the same bytes.
 * Hashing only reads: nothing is written, and any error here is left for the command to meet
 * and report.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { torrentFileName } from '../aac/index.js'
import { CatalogStore } from '../catalog/store.js'
import { EARLY_DEFAULTS } from '../config/defaults.js'
import { readRawConfig, resolveConfigPath } from '../config/raw.js'
import { connectDatabase } from '../db/connect.js'
import type { Db } from '../db/index.js'
import { startHeadStart, type HashFile } from './hasher.js'
import { hashFilesOf, releaseTorrentFiles } from './paths.js'
import { resolvePieceLength } from './piece-length.js'
import { TorrentStore } from './store.js'

export interface HeadStartContext {
  /** The command's arguments, after `torrents make`. */
  args: string[]
  env: NodeJS.ProcessEnv
  cwd: string
}

/** Starts hashing the guessed first job; does nothing for a trial or when there is nothing to guess. */
export function torrentsMakeHeadStart(ctx: HeadStartContext): void {
  const { values } = parseArgs({
    args: ctx.args,
    options: {
      config: { type: 'string' },
      db: { type: 'string' },
      out: { type: 'string' },
      'piece-length': { type: 'string' },
    },
    strict: false,
    allowPositionals: true,
  })
  // A trial hashes by other rules.
  if (values.out !== undefined || values['piece-length'] !== undefined) return
  const { raw, base } = readRawConfig({
    path: typeof values.config === 'string' ? values.config : undefined,
    env: ctx.env,
    cwd: ctx.cwd,
  })
  const setting = <T>(section: string, key: keyof typeof EARLY_DEFAULTS, type: string): T | undefined => {
    const s = raw[section]
    const v = typeof s === 'object' && s !== null ? (s as Record<string, unknown>)[key] : undefined
    if (v === undefined) return EARLY_DEFAULTS[key] as T
    return typeof v === type ? (v as T) : undefined
  }
  const database =
    typeof values.db === 'string' ? values.db : setting<string>('catalog', 'database', 'string')
  const outDir = setting<string>('torrents', 'out_dir', 'string')
  const pieceLength = setting<number>('torrents', 'piece_length', 'number')
  const workers = setting<number>('torrents', 'hash_workers', 'number')
  // Not as the schema wants them: the command will say so.
  if (!database || !outDir || pieceLength === undefined || workers === undefined) return
  const db = connectDatabase(
    typeof values.db === 'string' ? resolve(ctx.cwd, database) : resolveConfigPath(database, base),
    { readonly: true },
  )
  try {
    // A head start never waits for a lock: the command will.
    db.pragma('busy_timeout = 0')
    const job = guessFirstJob(db, resolveConfigPath(outDir, base), pieceLength)
    if (job !== null) startHeadStart(job.files, job.pieceLength, { workers, callerHashes: true })
  } finally {
    db.close()
  }
}

/**
 * Releases looked at for a guess: the guess is on the command's critical path, and a catalog
 * whose first releases are all made is an incremental run, where the new releases come later.
 */
const GUESS_RELEASES = 64

/**
 * A guess at the job `makeTorrents` hashes first: the catalog's first problem-free release whose
 * torrent is missing or was made from other data, by the configured piece length, among its
 * first GUESS_RELEASES. It is read without the catalog lease, is not checked against the disk,
 * and ignores the shapes of mirrored releases; a wrong guess costs only the hashing it began.
 */
export function guessFirstJob(
  db: Db,
  outDir: string,
  pieceLength: number,
): { files: HashFile[]; pieceLength: number } | null {
  const catalog = new CatalogStore(db)
  const store = new TorrentStore(db)
  for (const r of catalog.releases(GUESS_RELEASES)) {
    if (r.problems > 0) continue
    const path = join(outDir, torrentFileName(r.name))
    if (store.madeFrom(r.name, r.identity, path) && existsSync(path)) continue
    const files = releaseTorrentFiles(r, () => catalog.dataFiles(r.id))
    const totalSize = files.reduce((s, f) => s + f.length, 0)
    return {
      files: hashFilesOf({ kind: r.kind === 'meta' ? 'file' : 'folder', root: join(r.root, r.name), files }),
      pieceLength: resolvePieceLength(pieceLength, totalSize),
    }
  }
  return null
}
