/**
 * npm run bench:catalog [-- --records N] [--runs R] [--no-jq] — cataloging speed against
 * `zstd -dc | wc -l` on the same file, and the catalog's size.
 * Generates (once, cached; streamed, so any N fits in memory) an N-record zlib3-like metadata
 * file (N = 1,000,000 by default, ~1 GB decompressed), then, R times (5 by default up to 1M
 * records, else 1), times zstd | wc and `aacseed scan` into a fresh database back to back, and
 * weighs the first run's database after a checkpoint and VACUUM; zstd | jq once.
 * Bars: ratio ours / (zstd -dc | wc -l) <= 3.0 in every run, peak RSS <= 300 MB, <= 40 bytes a
 * record. For the 10,000,000-record run, compare its ratio with the 1M run's (within 10%).
 */
import Database from 'better-sqlite3'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { writeLargeMetaFile } from '../src/catalog/index.js'
import { measure, shell, type Measured } from './measure.js'

// --no-jq: leave out the jq reference, which takes minutes at 10M records and is no bar.
const { values: args } = parseArgs({
  options: { records: { type: 'string' }, runs: { type: 'string' }, 'no-jq': { type: 'boolean' } },
})
const RECORDS = Number(args.records ?? process.env.BENCH_RECORDS ?? 1_000_000)
if (!Number.isSafeInteger(RECORDS) || RECORDS < 1) throw new Error(`--records: expected a positive integer`)
const RUNS = Number(args.runs ?? (RECORDS <= 1_000_000 ? 5 : 1))
if (!Number.isSafeInteger(RUNS) || RUNS < 1) throw new Error(`--runs: expected a positive integer`)
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

  const jq =
    !args['no-jq'] && existsSync('/usr/bin/jq')
      ? await shell(`zstd -dc '${file}' | jq -c .aacid | wc -l`)
      : null
  const rounds: Array<{ wc: Measured; ours: Measured; ratio: number }> = []
  let dbBytes = 0
  let lines = 0
  for (let round = 0; round < RUNS; round++) {
    // Back to back, so both see the same machine.
    const wc = await shell(`zstd -dc '${file}' | wc -l`)
    const db = join(cache, `bench-${process.pid}.db`)
    const ours = await measure(
      process.execPath,
      [join(repo, 'bin', 'aacseed.js'), 'scan', root, '--db', db, '--json'],
      { env: { ...process.env, AACSEED_CONFIG: '' } },
    )
    if (ours.code === 0 && round === 0) {
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
    lines = Number(wc.stdout.trim())
    if (report.records !== lines || report.problems.length !== 0)
      throw new Error(
        `aacseed cataloged ${report.records} records with ${report.problems.length} problems; zstd counted ${lines} lines`,
      )
    const ratio = ours.seconds / wc.seconds
    rounds.push({ wc, ours, ratio })
    console.log(
      `run ${round + 1}/${RUNS}: zstd -dc | wc -l ${wc.seconds.toFixed(2)} s, aacseed scan ${ours.seconds.toFixed(2)} s (peak RSS ${ours.peakRssMb?.toFixed(0) ?? '?'} MB), ratio ${ratio.toFixed(2)}, load ${loadavg()[0]!.toFixed(2)}`,
    )
  }
  const perRecord = dbBytes / lines
  const zstBytes = statSync(file).size
  const worst = rounds.reduce((a, b) => (a.ratio >= b.ratio ? a : b))
  const peakRss = Math.max(...rounds.map((r) => r.ours.peakRssMb ?? 0))
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  console.log(`records:                     ${lines.toLocaleString('en')}`)
  console.log(
    `.jsonl.zst:                  ${(zstBytes / 1e6).toFixed(1)} MB (${(zstBytes / lines).toFixed(1)} bytes a record)`,
  )
  console.log(
    `catalog (checkpoint+VACUUM): ${(dbBytes / 1e6).toFixed(1)} MB (${perRecord.toFixed(1)} bytes a record; bar <= 40)`,
  )
  console.log(`zstd -dc | wc -l:            ${rounds.map((r) => r.wc.seconds.toFixed(2)).join(', ')} s`)
  if (jq) console.log(`zstd -dc | jq -c .aacid:     ${jq.seconds.toFixed(2)} s`)
  console.log(`aacseed scan (fresh db):     ${rounds.map((r) => r.ours.seconds.toFixed(2)).join(', ')} s`)
  console.log(
    `ratio ours / zstd|wc:        ${rounds.map((r) => r.ratio.toFixed(2)).join(', ')}  (worst ${worst.ratio.toFixed(2)}; bar <= 3.0 in every run)`,
  )
  console.log(
    `aacseed per 1M records:      ${((median(rounds.map((r) => r.ours.seconds)) / lines) * 1e6).toFixed(2)} s (median)`,
  )
  console.log(`aacseed peak RSS:            ${peakRss.toFixed(0)} MB  (bar <= 300)`)
  const ok = worst.ratio <= 3.0 && peakRss <= 300 && perRecord <= 40
  console.log(ok ? 'PASS' : 'FAIL')
  process.exitCode = ok ? 0 : 1
}

await main()
