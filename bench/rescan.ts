/**
 * npm run bench:rescan — an incremental rescan of an unchanged tree of 10,000 entries (2,000
 * small metadata files, 8,000 data folders, 40 collections), as a user runs it (`aacseed scan`,
 * a whole process), against `find -printf '%s %T@ %i'`, which stats the same entries and does
 * nothing else. Bar: the best of three rescans ≤ 1 s.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { encodeMetaFile } from '../src/catalog/index.js'
import { aacid, dataName, metaName, rec } from '../test/fixtures.js'
import { measure, shell } from './measure.js'

const ENTRIES = 10_000
const repo = resolve(import.meta.dirname, '..', '..')
const cache = join(repo, '.bench-cache', 'rescan')
const root = join(cache, 'root')

function buildTree(): void {
  if (readdirSync(root, { withFileTypes: true }).length === ENTRIES) return
  rmSync(root, { recursive: true, force: true })
  mkdirSync(root, { recursive: true })
  for (let i = 0; i < ENTRIES; i++) {
    const c = `k${i % 40}_records`
    const from = i * 10
    if (i < ENTRIES / 5)
      writeFileSync(join(root, metaName(c, from, from + 9)), encodeMetaFile([rec(aacid(c, from + 1))]))
    else mkdirSync(join(root, dataName(c, from, from + 9)))
  }
}

async function main(): Promise<void> {
  mkdirSync(root, { recursive: true })
  buildTree()
  const db = join(cache, `bench-${process.pid}.db`)
  const scan = (): ReturnType<typeof measure> =>
    measure(process.execPath, [join(repo, 'bin', 'aacseed.js'), 'scan', root, '--db', db, '--json'], {
      env: { ...process.env, AACSEED_CONFIG: '' },
    })
  const first = await scan()
  if (first.code !== 0) throw new Error(`first scan exited with ${first.code}: ${first.stderr}`)
  const rescans = []
  for (let i = 0; i < 3; i++) {
    const r = await scan()
    if (r.code !== 0) throw new Error(`rescan exited with ${r.code}: ${r.stderr}`)
    rescans.push(r)
  }
  const find = await shell(`find '${root}' -mindepth 1 -maxdepth 1 -printf '%s %T@ %i\\n' | wc -l`)
  for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true })
  const best = rescans.reduce((a, b) => (a.seconds <= b.seconds ? a : b))
  console.log(`entries:                     ${find.stdout.trim()}`)
  console.log(`first scan:                  ${first.seconds.toFixed(2)} s`)
  console.log(`rescans (unchanged):         ${rescans.map((r) => r.seconds.toFixed(2)).join(', ')} s`)
  console.log(`find -printf (stat only):    ${find.seconds.toFixed(2)} s`)
  console.log(`ratio best rescan / find:    ${(best.seconds / find.seconds).toFixed(1)}`)
  console.log(`aacseed peak RSS:            ${best.peakRssMb?.toFixed(0) ?? '?'} MB`)
  console.log(`bar: best rescan <= 1.00 s:  ${best.seconds <= 1 ? 'PASS' : 'FAIL'}`)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
