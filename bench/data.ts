/** The 2 GiB release the seeding and mirror benchmarks share, generated once under .bench-cache/seed/. */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { writeRandom } from '../test/engines/fixtures.js'

const repo = resolve(import.meta.dirname, '..', '..')
export const SEED_CACHE = join(repo, '.bench-cache', 'seed')
export const FOLDER = 'annas_archive_data__aacid__zlib3_files__20230808T051503Z--20230808T061503Z'
export const TOTAL = 2 * 2 ** 30

/**
 * The release root holding FOLDER (about 360 AACID-named blobs of random bytes for 2 GiB);
 * another `total` (bench:seed --mib) is generated beside it, in a cache of its own.
 */
export function ensureData(total = TOTAL): string {
  const cache = total === TOTAL ? SEED_CACHE : `${SEED_CACHE}-${total}`
  const root = join(cache, 'releases')
  const dir = join(root, FOLDER)
  const done = join(cache, 'complete')
  if (existsSync(done)) return root
  rmSync(cache, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`generating ${(total / 2 ** 20).toFixed(0)} MiB of release data (once)…`)
  let left = total
  let i = 0
  let t = Date.UTC(2023, 7, 8, 5, 15, 3) / 1000
  while (left > 0) {
    const size = Math.min(left, 100_000 + ((i * 7_919_993) % 11_900_000))
    const ts = new Date(t * 1000)
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
      .replace(/[-:]/g, '')
    writeRandom(join(dir, `aacid__zlib3_files__${ts}__${22430000 + i}__${String(i).padStart(22, 'A')}`), size)
    left -= size
    i++
    t += 7
  }
  writeFileSync(done, '')
  return root
}
