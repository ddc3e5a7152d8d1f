/**
 * Access probes by doing, not by asking: `access(W_OK)` says yes to root on a read-only mount
 * and knows nothing of systemd's sandbox, so a folder counts as writable when a file could be
 * created in it (and removed again).
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readdirSync,
  statSync,
  unlinkSync,
} from 'node:fs'
import { dirname, join } from 'node:path'

/**
 * Null when aacseed could write `path` (a folder when `folder`, else a file), creating missing
 * parent folders as it does; else why not. Nothing is left behind.
 */
export function probeWritable(path: string, folder: boolean): string | null {
  if (existsSync(path)) {
    const st = statSync(path)
    if (folder && !st.isDirectory()) return 'exists and is not a folder'
    if (!folder && st.isDirectory()) return 'is a folder, not a file'
    if (!folder) {
      try {
        closeSync(openSync(path, 'r+'))
      } catch (e) {
        return `cannot be written (${code(e)})`
      }
    }
  }
  // The nearest existing folder is where the first write (or mkdir) happens.
  let dir = folder && existsSync(path) ? path : dirname(path)
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir)
  if (!statSync(dir).isDirectory()) return `${dir} is a file, so nothing can be created under it`
  const probe = join(dir, `.aacseed-doctor-${process.pid}-${Date.now()}`)
  try {
    closeSync(openSync(probe, 'wx'))
    unlinkSync(probe)
    return null
  } catch (e) {
    return `cannot create files in ${dir} (${code(e)})`
  }
}

/** Null when `path` exists and can be read (listed, for a folder); else why not. */
export function probeReadable(path: string, folder: boolean): string | null {
  try {
    const st = statSync(path)
    if (folder !== st.isDirectory()) return folder ? 'is not a folder' : 'is a folder, not a file'
    if (folder) readdirSync(path)
    else accessSync(path, constants.R_OK)
    return null
  } catch (e) {
    return code(e) === 'ENOENT' ? 'does not exist' : `cannot be read (${code(e)})`
  }
}

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e)
}
