import { lstat } from 'node:fs/promises'

/** Whether anything (a file, a folder, a dangling symlink) is at `path`. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch {
    return false
  }
}
