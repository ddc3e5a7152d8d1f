import { readFileSync, realpathSync, statfsSync } from 'node:fs'
import { lstat } from 'node:fs/promises'
import { dirname, resolve, sep } from 'node:path'
import { EnvironmentError } from './errors.js'

/** Whether anything (a file, a folder, a dangling symlink) is at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch {
    return false
  }
}

/** errno and SQLite result codes of the machine failing us, with the words shown for each. */
const ENVIRONMENT_CODES: ReadonlyArray<[RegExp, string, (mount: string) => string]> = [
  [/^(ENOSPC|EDQUOT|SQLITE_FULL)$/, 'no-space', (m) => `no space left on ${m}`],
  [/^(EROFS|SQLITE_READONLY.*)$/, 'read-only', (m) => `${m} is read-only`],
  [/^(EACCES|EPERM|SQLITE_PERM)$/, 'permission-denied', (m) => `permission denied on ${m}`],
  [/^(EIO|SQLITE_IOERR.*)$/, 'io-error', (m) => `I/O error on ${m}`],
  [/^(EFBIG|SQLITE_TOOBIG)$/, 'file-too-large', (m) => `file size limit reached on ${m}`],
  [/^(EMFILE|ENFILE)$/, 'too-many-open-files', () => 'too many open files'],
]

/**
 * The environment failure behind `e`, if it is one, as an `EnvironmentError` naming the file
 * system (its mount point, as `df` shows it) and what was being done:
 * `no space left on /var/lib/aacseed (writing the catalog database /var/lib/aacseed/aacseed.db)`.
 * `action` is said in words ("writing the torrent file"); `path` is the file concerned.
 */
export function environmentError(e: unknown, action: string, path: string): EnvironmentError | undefined {
  if (e instanceof EnvironmentError) return e
  const code = (e as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return undefined
  const hit = ENVIRONMENT_CODES.find(([re]) => re.test(code))
  if (!hit) return undefined
  let [, kind, words] = hit
  // SQLite reports a full disk as an I/O error when the WAL index (-shm) cannot grow
  // (SQLITE_IOERR_SHMSIZE); a file system with next to nothing free says what it really was.
  if (kind === 'io-error' && nearlyFull(path)) [, kind, words] = ENVIRONMENT_CODES[0]!
  const err = new EnvironmentError(kind, `${words(mountPointOf(path))} (${action} ${path})`, { path })
  err.cause = e
  return err
}

/** Under 1 MiB, or under 0.1 %, free to this process on the file system holding `path`. */
function nearlyFull(path: string): boolean {
  try {
    const st = statfsSync(existingAncestor(path))
    const free = Number(st.bavail) * Number(st.bsize)
    return free < 1 << 20 || free < Number(st.blocks) * Number(st.bsize) * 0.001
  } catch {
    return false
  }
}

function existingAncestor(path: string): string {
  let p = resolve(path)
  for (;;) {
    try {
      return realpathSync(p)
    } catch {
      const up = dirname(p)
      if (up === p) return p
      p = up
    }
  }
}

/** The mount point of the file system holding `path` (or its nearest existing ancestor). */
export function mountPointOf(path: string): string {
  const p = existingAncestor(path)
  let best = '/'
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const field = line.split(' ')[4]
      if (!field) continue
      // mountinfo escapes space, tab, newline and backslash as octal.
      const mount = field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)))
      const inside = mount === '/' || p === mount || p.startsWith(mount + sep)
      if (inside && mount.length > best.length) best = mount
    }
  } catch {
    // No /proc (not Linux): the folder holding the file is the best guess.
    return dirname(p)
  }
  return best
}

/** An errno error that carries its own path (open, mkdir, rename), as an `EnvironmentError`. */
export function errnoEnvironmentError(e: unknown): EnvironmentError | undefined {
  if (e instanceof EnvironmentError) return e
  const err = e as NodeJS.ErrnoException | null
  if (typeof err?.path !== 'string') return undefined
  return environmentError(e, SYSCALL_WORDS[err.syscall ?? ''] ?? `${err.syscall ?? 'using'}`, err.path)
}

const SYSCALL_WORDS: Record<string, string> = {
  open: 'opening',
  mkdir: 'creating the folder',
  rename: 'renaming',
  write: 'writing',
  copyfile: 'copying to',
  link: 'linking',
  symlink: 'linking',
  unlink: 'deleting',
  rmdir: 'deleting the folder',
  scandir: 'listing',
  stat: 'reading',
  lstat: 'reading',
  read: 'reading',
}
