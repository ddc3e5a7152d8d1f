/**
 * npm run bench:catalog [-- --records N] [--no-jq] — cataloging speed against `zstd -dc | wc -l` on the
 * same file, and the catalog's size.
 * Generates (once, cached; streamed, so any N fits in memory) an N-record zlib3-like metadata
 * file (N = 1,000,000 by default, ~1 GB decompressed), then times zstd, zstd | jq, and
 * `aacseed scan` into a fresh database, and weighs that database after a checkpoint and VACUUM.
 * Bars: ratio ours / (zstd -dc | wc -l) <= 3.0, peak RSS <= 300 MB, <= 40 bytes a record.
 * For the 10,000,000-record run, compare its ratio with the 1M run's (within 10%).
 */
import Database from 'better-sqlite3'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { writeLargeMetaFile } from '../src/catalog/index.js'
import { measure, shell } from './measure.js'

// --no-jq: leave out the jq reference, which takes minutes at 10M records and is no bar.
const { values: args } = parseArgs({ options: { records: { type: 'string' }, 'no-jq': { type: 'boolean' } } })
const RECORDS = Number(args.records ?? process.env.BENCH_RECORDS ?? 1_000_000)
if (!Number.isSafeInteger(RECORDS) || RECORDS < 1) throw new Error(`--records: expected a positive integer`)
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
  const jq =
    !args['no-jq'] && existsSync('/usr/bin/jq')
      ? await shell(`zstd -dc '${file}' | jq -c .aacid | wc -l`)
      : null
  const db = join(cache, `bench-${process.pid}.db`)
  const ours = await measure(
    process.execPath,
    [join(repo, 'bin', 'aacseed.js'), 'scan', root, '--db', db, '--json'],
    { env: { ...process.env, AACSEED_CONFIG: '' } },
  )
  let dbBytes = 0
  if (ours.code === 0) {
    const conn = new Database(db)
    conn.pragma('wal_checkpoint(TRUNCATE)')
    conn.exec('VACUUM')
    conn.close()
    dbBytes = statSync(db).size
  }
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
  const perRecord = dbBytes / lines
  const zstBytes = statSync(file).size
  console.log(`records:                     ${lines.toLocaleString('en')}`)
  console.log(
    `.jsonl.zst:                  ${(zstBytes / 1e6).toFixed(1)} MB (${(zstBytes / lines).toFixed(1)} bytes a record)`,
  )
  console.log(
    `catalog (checkpoint+VACUUM): ${(dbBytes / 1e6).toFixed(1)} MB (${perRecord.toFixed(1)} bytes a record; bar <= 40)`,
  )
  console.log(`zstd -dc | wc -l:            ${wc.seconds.toFixed(2)} s`)
  if (jq) console.log(`zstd -dc | jq -c .aacid:     ${jq.seconds.toFixed(2)} s`)
  console.log(`aacseed scan (fresh db):     ${ours.seconds.toFixed(2)} s`)
  console.log(`ratio ours / zstd|wc:        ${ratio.toFixed(2)}  (bar <= 3.0)`)
  console.log(`aacseed per 1M records:      ${((ours.seconds / lines) * 1e6).toFixed(2)} s`)
  console.log(`aacseed peak RSS:            ${ours.peakRssMb?.toFixed(0) ?? '?'} MB  (bar <= 300)`)
  const ok = ratio <= 3.0 && (ours.peakRssMb ?? 0) <= 300 && perRecord <= 40
  console.log(ok ? 'PASS' : 'FAIL')
  process.exitCode = ok ? 0 : 1
}

await main()
