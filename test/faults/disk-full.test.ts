/**
 * Fault-injection suite, "Disk full": real full file systems (a small tmpfs the test mounts), no
 * mocks. A full disk is an environment failure: exit code 3, one line naming the file system and
 * what was being written, no stack trace unless --debug; in serve, the failed run is recorded and
 * retried, and the retry succeeds once space is free.
 */
import assert from 'node:assert/strict'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { openDatabase } from '../../src/db/index.js'
import { JobRunner } from '../../src/jobs/runner.js'
import { createLogger } from '../../src/log/index.js'
import { writeFileAtomic } from '../../src/torrents/index.js'
import { metaName, recs, writeMeta } from '../fixtures.js'
import { runCliProcess, tempDir, waitFor, type CliResult } from '../helpers.js'
import { fill, hasStack, smallDisk } from './support.js'

const EXIT_ENVIRONMENT = 3

/**
 * The CLI as a user runs it, with its own config and working folder, so nothing lands in the
 * repository or the user's XDG folders.
 */
function cli(t: import('node:test').TestContext, args: string[], db: string, outDir = ''): CliResult {
  const cwd = tempDir(t)
  const config = join(cwd, 'aacseed.toml')
  writeFileSync(
    config,
    `[catalog]\ndatabase = ${JSON.stringify(db)}\n[torrents]\nlist_path = ""\n${outDir ? `out_dir = ${JSON.stringify(outDir)}\n` : ''}`,
  )
  return runCliProcess([...args, '--config', config], {
    cwd,
    env: { ...process.env, AACSEED_CONFIG: '', XDG_CONFIG_HOME: cwd, XDG_DATA_HOME: cwd },
  })
}

function tree(t: import('node:test').TestContext): string {
  const root = tempDir(t)
  writeMeta(root, metaName('full_records', 0, 1999), recs('full_records', 0, 2000))
  return root
}

test('disk full: scan with the database on a full disk names the file system and the database, exit 3', (t) => {
  const disk = smallDisk(t, 1024)
  if (!disk) return
  const root = tree(t)
  const db = join(disk, 'aacseed.db')
  const filler = fill(disk, 16 * 1024)
  const r = cli(t, ['scan', root], db)
  assert.equal(r.code, EXIT_ENVIRONMENT, r.stderr)
  assert.equal(r.stderr, `aacseed: no space left on ${disk} (writing the catalog database ${db})\n`)
  assert.ok(!hasStack(r.stderr), r.stderr)

  const debug = cli(t, ['scan', root, '--debug'], db)
  assert.equal(debug.code, EXIT_ENVIRONMENT, debug.stderr)
  assert.ok(debug.stderr.startsWith(`aacseed: no space left on ${disk}`), debug.stderr)
  assert.ok(hasStack(debug.stderr), `--debug shows the stack: ${debug.stderr}`)

  // Recovery: space freed, the same command completes and the catalog holds every record.
  rmSync(filler)
  const again = cli(t, ['scan', root, '--json'], db)
  assert.equal(again.code, 0, again.stderr)
  assert.equal((JSON.parse(again.stdout) as { records: number }).records, 2000)
})

test('disk full: torrents make with the output folder on a full disk names the torrent file, exit 3', (t) => {
  const disk = smallDisk(t, 256)
  if (!disk) return
  const root = tree(t)
  const db = join(tempDir(t), 'aacseed.db')
  const scanned = cli(t, ['scan', root], db)
  assert.equal(scanned.code, 0, scanned.stderr)
  const out = join(disk, 'torrents')
  const filler = fill(disk, 0)
  const r = cli(t, ['torrents', 'make'], db, out)
  assert.equal(r.code, EXIT_ENVIRONMENT, r.stderr)
  const torrent = join(out, `${metaName('full_records', 0, 1999)}.torrent`)
  // The folder may not even be creatable; either way the message names the file system.
  assert.match(
    r.stderr,
    new RegExp(
      `^aacseed: no space left on ${disk} \\((writing the torrent file ${escape(torrent)}|creating the folder ${escape(out)})\\)\\n$`,
    ),
  )
  assert.ok(!hasStack(r.stderr), r.stderr)
  // With the folder in place and the disk full, it is the torrent file that cannot be written.
  rmSync(filler)
  const made = cli(t, ['torrents', 'make'], db, out) // makes it; now remove and refill
  assert.equal(made.code, 0, made.stderr)
  rmSync(torrent)
  fill(disk, 0)
  const r2 = cli(t, ['torrents', 'make'], db, out)
  assert.equal(r2.code, EXIT_ENVIRONMENT, r2.stderr)
  assert.equal(r2.stderr, `aacseed: no space left on ${disk} (writing the torrent file ${torrent})\n`)
})

test('disk full: in serve, the failed run is recorded with the message and retried until space is free', async (t) => {
  const disk = smallDisk(t, 128)
  if (!disk) return
  const db = openDatabase(join(tempDir(t), 'aacseed.db'))
  t.after(() => db.close())
  const target = join(disk, 'out.bin')
  const filler = fill(disk, 0)
  let tries = 0
  const runner = new JobRunner({
    db,
    logger: createLogger({ level: 'silent' }),
    jobs: [
      {
        name: 'make_torrents',
        schedule: '0 0 1 1 *',
        async run() {
          tries++
          // A real write, failing for real until the filler is gone.
          await writeFileAtomic(target, Buffer.alloc(64 * 1024), 0o644, 'the torrent file')
          return { made: 1 }
        },
      },
    ],
    retry: { retries: 5, backoff: { baseMs: 50, maxMs: 200, jitter: 0 } },
  })
  t.after(() => runner.stop(1000))
  const done = runner.runScheduled('make_torrents')
  await waitFor('a failed run', () => runner.recentRuns().some((r) => r.outcome === 'failed'))
  rmSync(filler)
  await done
  const runs = runner.recentRuns({ job: 'make_torrents' }).reverse()
  assert.ok(tries >= 2, `retried: ${tries}`)
  assert.equal(runs.at(-1)!.outcome, 'ok')
  assert.deepEqual(runs.at(-1)!.counts, { made: 1 })
  const failed = runs.filter((r) => r.outcome === 'failed')
  assert.ok(failed.length >= 1)
  for (const f of failed)
    assert.equal(f.error, `no space left on ${disk} (writing the torrent file ${target})`)
})

test('disk full: retries are bounded; then the job waits for its next slot', async (t) => {
  const disk = smallDisk(t, 128)
  if (!disk) return
  const db = openDatabase(join(tempDir(t), 'aacseed.db'))
  t.after(() => db.close())
  fill(disk, 0)
  let tries = 0
  const runner = new JobRunner({
    db,
    logger: createLogger({ level: 'silent' }),
    jobs: [
      {
        name: 'publish',
        schedule: '0 0 1 1 *',
        async run() {
          tries++
          await writeFileAtomic(join(disk, 'list.json'), Buffer.alloc(4096))
          return {}
        },
      },
    ],
    retry: { retries: 2, backoff: { baseMs: 10, maxMs: 20, jitter: 0 } },
  })
  t.after(() => runner.stop(1000))
  await runner.runScheduled('publish')
  assert.equal(tries, 3, 'the first try and two retries')
  assert.deepEqual(
    runner.recentRuns({ job: 'publish' }).map((r) => r.outcome),
    ['failed', 'failed', 'failed'],
  )
})

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
