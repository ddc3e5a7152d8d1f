/**
 * Crash safety: `aacseed scan` killed with SIGKILL at any moment leaves a consistent
 * database (the last complete version of every entry intact, leftovers marked `scanning`),
 * and the next scan finishes the job: the same catalog and problems as one clean scan.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readdirSync, rmSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, describe, test } from 'node:test'
import { writeLargeMetaFile, writeSampleRelease } from '../../src/catalog/index.js'
import { openDatabase } from '../../src/db/index.js'
import type { Problem } from '../../src/problems.js'
import { requireTool, runCliProcess, spawnCli, tempDir } from '../helpers.js'
import {
  aacid,
  catalogDb,
  dataName,
  metaName,
  rec,
  recs,
  scanRoots,
  sortedProblems,
  writeDataFolder,
  writeMeta,
} from '../fixtures.js'

interface ScanJson {
  meta_files: number
  data_folders: number
  records: number
  data_files: number
  problems: Problem[]
}

/** Big files for the scan to spend its time in, and small ones with every kind of problem. */
let shared: Promise<string> | undefined
const cleanups: Array<() => void> = []
after(() => cleanups.forEach((fn) => fn()))

/** Built once for the file (writing the big files takes seconds); removed when the file ends. */
function sharedTree(): Promise<string> {
  shared ??= buildTree({ after: (fn: () => void) => cleanups.push(fn) })
  return shared
}

async function buildTree(t: { after(fn: () => void): void }): Promise<string> {
  const root = tempDir(t, 'aacseed-crash-')
  for (let i = 0; i < 3; i++) await writeLargeMetaFile(root, `big${i}_records`, 30_000, { seed: i + 1 })
  writeSampleRelease({ root, start: Date.UTC(2024, 5, 1) / 1000 })
  const C = 'crash_files'
  const folder = dataName(C, 0, 99)
  const ids = [10, 11, 12, 13].map((s) => aacid(C, s))
  writeMeta(
    root,
    metaName(C, 0, 99),
    ids.slice(0, 3).map((a) => rec(a, {}, folder)),
  )
  writeDataFolder(root, folder, [ids[0]!, ids[1]!, ids[3]!])
  const bad = recs('crash_records', 10, 4)
  bad[2] = '{"aacid":'
  writeMeta(root, metaName('crash_records', 0, 99), bad)
  return root
}

function scanToEnd(root: string, db: string): { json: ScanJson; ms: number } {
  const t0 = performance.now()
  const r = runCliProcess(['scan', root, '--db', db, '--json'])
  const ms = performance.now() - t0
  assert.equal(r.code, 1, `${r.stderr}\n${r.stdout}`)
  assert.ok(r.stdout.startsWith('{'), `scan printed no JSON: ${r.stderr}`)
  return { json: JSON.parse(r.stdout) as ScanJson, ms }
}

/** Starts a scan and SIGKILLs it after `ms`; returns how it ended. */
async function killAfter(root: string, db: string, ms: number): Promise<'killed' | 'finished'> {
  const child = spawnCli(['scan', root, '--db', db, '--json'])
  child.stdout!.resume()
  child.stderr!.resume()
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  const first = await Promise.race([exited, sleep(ms).then(() => null)])
  if (first !== null) return 'finished'
  child.kill('SIGKILL')
  const [, signal] = await exited
  return signal === 'SIGKILL' ? 'killed' : 'finished'
}

interface Consistency {
  complete: number
  scanning: number
  records: number
}

/**
 * The database a killed scan left: SQLite intact, and every `complete` row whole (its record,
 * frame and problem counts match its rows), at most one complete version per name, no orphans.
 */
function checkConsistent(dbPath: string): Consistency {
  const db = openDatabase(dbPath)
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok')
    assert.deepEqual(db.pragma('foreign_key_check'), [])
    const files = db
      .prepare(
        'SELECT id, name, state, collection, range_from_s AS rf, range_to_s AS rt, records, frames, problems FROM meta_files',
      )
      .all() as Array<{
      id: number
      name: string
      state: string
      collection: string
      rf: number
      rt: number
      records: number
      frames: number
      problems: number
    }>
    const inRange = db
      .prepare('SELECT count(*) FROM records WHERE meta_file_id = ? AND seconds >= ? AND seconds <= ?')
      .pluck()
    const byId = db.prepare('SELECT count(*) FROM records WHERE meta_file_id = ?').pluck()
    let records = 0
    for (const f of files) {
      if (f.state !== 'complete') continue
      const n = inRange.get(f.id, f.rf, f.rt) as number
      assert.equal(n, f.records, `${f.name}: records column vs rows`)
      assert.equal(byId.get(f.id), n, `${f.name}: every record of the file lies in its range`)
      assert.equal(
        db.prepare('SELECT count(*) FROM meta_frames WHERE meta_file_id = ?').pluck().get(f.id),
        f.frames,
        `${f.name}: frames`,
      )
      assert.equal(
        db
          .prepare("SELECT count(*) FROM problems WHERE meta_file_id = ? AND scope = 'meta'")
          .pluck()
          .get(f.id),
        f.problems,
        `${f.name}: problems`,
      )
      records += n
    }
    assert.deepEqual(
      db
        .prepare(
          "SELECT root_id, name, count(*) AS n FROM meta_files WHERE state = 'complete' GROUP BY root_id, name HAVING n > 1",
        )
        .all(),
      [],
    )
    assert.deepEqual(
      db
        .prepare(
          "SELECT root_id, name, count(*) AS n FROM data_folders WHERE state = 'complete' GROUP BY root_id, name HAVING n > 1",
        )
        .all(),
      [],
    )
    assert.equal(
      db
        .prepare('SELECT count(*) FROM records WHERE meta_file_id NOT IN (SELECT id FROM meta_files)')
        .pluck()
        .get(),
      0,
      'no orphan records',
    )
    const folders = db
      .prepare(
        "SELECT f.name, f.files, (SELECT count(*) FROM data_files d WHERE d.data_folder_id = f.id) AS n FROM data_folders f WHERE state = 'complete'",
      )
      .all() as Array<{ name: string; files: number; n: number }>
    for (const f of folders) assert.equal(f.n, f.files, `${f.name}: files`)
    return {
      complete: files.filter((f) => f.state === 'complete').length,
      scanning:
        files.filter((f) => f.state === 'scanning').length +
        (db.prepare("SELECT count(*) FROM data_folders WHERE state = 'scanning'").pluck().get() as number),
      records,
    }
  } finally {
    db.close()
  }
}

function assertSameCatalog(got: ScanJson, want: ScanJson): void {
  assert.deepEqual(
    [got.meta_files, got.data_folders, got.records, got.data_files],
    [want.meta_files, want.data_folders, want.records, want.data_files],
  )
  assert.deepEqual(sortedProblems(got.problems), sortedProblems(want.problems))
}

describe('SIGKILL during a scan', () => {
  test('at any moment: the database stays consistent, and the next scan finishes the job', async (t) => {
    if (!requireTool(t, 'zstd')) return
    const root = await sharedTree()
    const dir = tempDir(t)
    const clean = scanToEnd(root, join(dir, 'clean.db'))
    t.diagnostic(
      `clean scan: ${clean.ms.toFixed(0)} ms, ${clean.json.records} records, ${clean.json.problems.length} problems`,
    )
    assert.ok(clean.json.problems.some((p) => p.code === 'missing-data-file'))
    assert.ok(clean.json.problems.some((p) => p.code === 'stray-data-file'))

    // One database, killed again and again: each run starts from the previous one's leftovers.
    const db = join(dir, 'killed.db')
    const D = clean.ms
    const moments = [30, 120, 250, 0.15 * D, 0.3 * D, 0.45 * D, 0.6 * D, 0.75 * D, 0.9 * D].map(Math.round)
    const outcomes: string[] = []
    for (const ms of moments) {
      const how = await killAfter(root, db, ms)
      const c = checkConsistent(db)
      outcomes.push(`${ms} ms: ${how}, ${c.complete} complete + ${c.scanning} scanning, ${c.records} records`)
    }
    t.diagnostic(outcomes.join('; '))
    assert.ok(
      outcomes.some((o) => o.includes('killed')),
      'at least one run was killed mid-way',
    )
    const finished = scanToEnd(root, db)
    assertSameCatalog(finished.json, clean.json)
    const after = checkConsistent(db)
    assert.equal(after.scanning, 0)
    assert.equal(after.complete, clean.json.meta_files)
    // And the run after that reads nothing.
    const d2 = openDatabase(db)
    t.after(() => d2.close())
    const again = await scanRoots(d2, [root])
    assert.equal(again.stats.entriesRead, 0)
  })

  test('late kills, while the last entries complete and the cross checks run, each on a fresh database', async (t) => {
    if (!requireTool(t, 'zstd')) return
    const root = await sharedTree()
    const dir = tempDir(t)
    const clean = scanToEnd(root, join(dir, 'clean.db'))
    const outcomes: string[] = []
    for (const f of [0.85, 0.93, 0.98]) {
      const db = join(dir, `late-${f}.db`)
      const ms = Math.round(clean.ms * f)
      const how = await killAfter(root, db, ms)
      const c = checkConsistent(db)
      outcomes.push(`${ms} ms: ${how}, ${c.complete} complete + ${c.scanning} scanning`)
      assertSameCatalog(scanToEnd(root, db).json, clean.json)
      assert.equal(checkConsistent(db).scanning, 0)
    }
    t.diagnostic(outcomes.join('; '))
  })

  test('while re-reading changed files, a kill keeps their previous complete versions', async (t) => {
    if (!requireTool(t, 'zstd')) return
    const root = await sharedTree()
    const dir = tempDir(t)
    const db = join(dir, 'c.db')
    const clean = scanToEnd(root, db)
    // Every big file touched: the next scan re-reads them all.
    const bigs = readdirSync(root).filter((n) => n.includes('big'))
    const touchAll = (k: number): void => {
      for (const n of bigs) {
        const s = statSync(join(root, n)).mtimeMs / 1000 + 10 * k
        utimesSync(join(root, n), s, s)
      }
    }
    const outcomes: string[] = []
    for (const [k, ms] of [400, Math.round(clean.ms * 0.4), Math.round(clean.ms * 0.7)].entries()) {
      touchAll(k + 1)
      const how = await killAfter(root, db, ms)
      const c = checkConsistent(db)
      outcomes.push(`${ms} ms: ${how}, ${c.complete} complete + ${c.scanning} scanning`)
      assert.equal(c.complete, clean.json.meta_files, 'every file still has one complete version')
      assert.equal(c.records, clean.json.records, 'and all its records')
    }
    t.diagnostic(outcomes.join('; '))
    assertSameCatalog(scanToEnd(root, db).json, clean.json)
    assert.equal(checkConsistent(db).scanning, 0)
  })
})

describe('a scan stopped between its entries and its cross checks', () => {
  test('the next scan derives the cross problems even though every entry is unchanged', async (t) => {
    const root = tempDir(t)
    const C = 'window_files'
    const folder = dataName(C, 0, 99)
    const ids = [10, 11, 12].map((s) => aacid(C, s))
    writeMeta(
      root,
      metaName(C, 0, 99),
      ids.map((a) => rec(a, {}, folder)),
    )
    writeDataFolder(root, folder, ids)
    const { db } = catalogDb(t)
    assert.deepEqual((await scanRoots(db, [root])).problems, [])
    // A blob goes; a scan re-reads the folder and is killed before its cross checks: the folder
    // row is complete, the cross problems are those of before, and the run is left `running`.
    rmSync(join(root, folder, ids[1]!))
    const r = await scanRoots(db, [root])
    assert.deepEqual(
      r.problems.map((p) => p.code),
      ['missing-data-file'],
    )
    db.prepare("DELETE FROM problems WHERE scope = 'cross'").run()
    db.prepare(
      "UPDATE scan_runs SET outcome = 'running', finished_at = NULL WHERE id = (SELECT max(id) FROM scan_runs)",
    ).run()
    const next = await scanRoots(db, [root])
    assert.equal(next.stats.entriesRead, 0)
    assert.deepEqual(
      next.problems.map((p) => [p.code, p.path, p.line, p.aacid]),
      [['missing-data-file', metaName(C, 0, 99), 2, ids[1]]],
    )
  })

  test('the same after a scan that failed part-way (an aborted job)', async (t) => {
    const root = tempDir(t)
    const R = 'window_records'
    const a = metaName(R, 0, 49)
    const b = metaName(R, 20, 80)
    const lines = recs(R, 20, 5)
    writeMeta(root, a, lines)
    writeMeta(root, b, lines)
    const { db } = catalogDb(t)
    assert.deepEqual((await scanRoots(db, [root])).problems, [])
    // b changes; a scan reads it, then fails before the cross checks.
    const changed = [...lines]
    changed[2] = rec(aacid(R, 22), 'changed')
    writeMeta(root, b, changed)
    await scanRoots(db, [root])
    db.prepare("DELETE FROM problems WHERE scope = 'cross'").run()
    db.prepare("UPDATE scan_runs SET outcome = 'failed' WHERE id = (SELECT max(id) FROM scan_runs)").run()
    const next = await scanRoots(db, [root])
    assert.equal(next.stats.entriesRead, 0)
    assert.deepEqual(
      next.problems.map((p) => [p.code, p.aacid]),
      [['immutable-conflict', aacid(R, 22)]],
    )
  })
})
