/**
 * The `torrents make` options every caller shares, apart from the rest of publish/index.ts: the
 * CLI needs them before hashing starts, and the list's modules (fleet's) only once it is done.
 */
import type { Db } from '../db/index.js'
import { MirrorStore } from '../mirror/store.js'
import type { MakeOptions } from '../torrents/index.js'

/** Mirrored releases keep upstream's torrent shape. */
export function makeSettings(db: Db): Pick<MakeOptions, 'shapeOf'> {
  const shapes = new MirrorStore(db).torrentShapes()
  return { shapeOf: (name) => shapes.get(name) }
}
