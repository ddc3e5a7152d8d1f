/**
 * npm run bench:catalog — cataloging speed against `zstd -dc | wc -l` on the same file.
 * Generates (once, cached) a 1,000,000-record zlib3-like metadata file (~1 GB decompressed),
 * then times zstd, zstd | jq, and `aacseed scan` into a fresh database.
 * Bars: ratio ours / (zstd -dc | wc -l) <= 4.0, peak RSS <= 300 MB.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { writeLargeMetaFile } from '../src/catalog/index.js'
import { measure, shell } from './measure.js'

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000)
const repo = resolve(import.meta.dirname, '..', '..')
const cache = join(repo, '.bench-cache', 'catalog', String(RECORDS))
const root = join(cache, 'root')

async function main(): Promise<void> {
  mkdirSync(root, { recursive: true })
  let files = readdirSync(root).filter((n) => n.endsWith('.jsonl.zst'))
  if (files.length !== 1) {
    rmSync(root, { recursive: true, force: true })
    mkdirSync(root, { recursive: true })
    console.log(`generating ${RECORDS.toLocaleString('en')} records (once; cached in ${cache})…`)
    const r = await writeLargeMetaFile(root, 'zlib3_records', RECORDS)
    console.log(`  ${(r.bytes / 1e9).toFixed(2)} GB decompressed`)
    files = [r.name]
  }
  const file = join(root, files[0]!)
  await shell(`cat '${file}' > /dev/null`) // page cache warm for everyone

  const wc = await shell(`zstd -dc '${file}' | wc -l`)
  const jq = existsSync('/usr/bin/jq') ? await shell(`zstd -dc '${file}' | jq -c .aacid | wc -l`) : null
  const db = join(cache, `bench-${process.pid}.db`)
  const ours = await measure(
    process.execPath,
    [join(repo, 'bin', 'aacseed.js'), 'scan', root, '--db', db, '--json'],
    { env: { ...process.env, AACSEED_CONFIG: '' } },
  )
  for (const suffix of ['', '-wal', '-shm']) rmSync(db + suffix, { force: true })
  if (ours.code !== 0) {
    console.error(ours.stderr)
    throw new Error(`aacseed scan exited with ${ours.code}`)
  }
  const report = JSON.parse(ours.stdout) as { records: number; problems: unknown[] }
  const lines = Number(wc.stdout.trim())
  if (report.records !== lines || report.problems.length !== 0)
    throw new Error(
      `aacseed cataloged ${report.records} records with ${report.problems.length} problems; zstd counted ${lines} lines`,
    )
  const ratio = ours.seconds / wc.seconds
  console.log(`records:                     ${lines.toLocaleString('en')}`)
  console.log(`zstd -dc | wc -l:            ${wc.seconds.toFixed(2)} s`)
  if (jq) console.log(`zstd -dc | jq -c .aacid:     ${jq.seconds.toFixed(2)} s`)
  console.log(`aacseed scan (fresh db):     ${ours.seconds.toFixed(2)} s`)
  console.log(`ratio ours / zstd|wc:        ${ratio.toFixed(2)}  (bar <= 4.0)`)
  console.log(`aacseed peak RSS:            ${ours.peakRssMb?.toFixed(0) ?? '?'} MB  (bar <= 300)`)
  const ok = ratio <= 4.0 && (ours.peakRssMb ?? 0) <= 300
  console.log(ok ? 'PASS' : 'FAIL')
  process.exitCode = ok ? 0 : 1
}

await main()
