/**
 * Where mirror sync keeps the opaque torrents it follows (list entries that are not AAC
 * releases): `<root>/other-torrents/<top_level_group_name>/<group_name>/<torrent's name>`, the
 * torrent's own files as its info dictionary names them. The catalog never scans that folder
 * (src/catalog/scan.ts `OTHER_TORRENTS_DIR`): these are not releases.
 */
import { lstat, readdir } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { OTHER_TORRENTS_DIR } from '../catalog/reserved.js'
import { MirrorError } from './errors.js'

export { OTHER_TORRENTS_DIR }

// A separator, NUL or another control character: never in a folder name we create.
// oxlint-disable-next-line no-control-regex
const UNSAFE = /[/\\\u0000-\u001f\u007f]/

/** A list's group name as one folder name; '' (no group given) is `_`. */
function groupFolder(what: string, v: string): string {
  if (v === '') return '_'
  // The list reader already refused unsafe groups; checked again here because this makes a path.
  if (v === '.' || v === '..' || UNSAFE.test(v) || Buffer.byteLength(v) > 255)
    throw new MirrorError('entry-invalid', `${what} ${JSON.stringify(v)} is not a safe folder name`)
  return v
}

/** The folder an opaque torrent's data goes into (the torrent's name is created inside it). */
export function otherFolder(root: string, topGroup: string, group: string): string {
  return join(
    root,
    OTHER_TORRENTS_DIR,
    groupFolder('top_level_group_name', topGroup),
    groupFolder('group_name', group),
  )
}

/** The file name aacseed publishes an opaque torrent's .torrent under (display names repeat across groups). */
export function otherTorrentFileName(btih: string): string {
  return `${btih}.torrent`
}

/**
 * What an opaque torrent's data looks like on disk (every file's path, size and mtime), hashed:
 * the data is verified again only when this changed since it was placed (as the catalog's
 * identity does for releases), so a restart never re-hashes terabytes.
 */
export async function dataIdentity(path: string): Promise<string | null> {
  const h = createHash('sha256')
  const walk = async (p: string, rel: string): Promise<boolean> => {
    let st
    try {
      st = await lstat(p, { bigint: true })
    } catch {
      return false
    }
    if (st.isDirectory()) {
      for (const n of (await readdir(p)).sort()) if (!(await walk(join(p, n), `${rel}/${n}`))) return false
    } else h.update(`${rel}\0${st.size}\0${st.mtimeNs}\0${st.ino}\n`)
    return true
  }
  return (await walk(path, '')) ? h.digest('hex') : null
}
