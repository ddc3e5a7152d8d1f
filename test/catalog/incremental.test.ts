/**
 * Incremental scans: an entry whose identity (size, mtime, inode; for a data folder the
 * folder's own mtime and inode) is unchanged is not read again; a changed one is re-read and
 * its rows replaced; a removed one is dropped with its problems; `--full` re-reads all. And
 * the spec's bar: a rescan of an unchanged tree of 10,000 entries takes under a second.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { encodeMetaFile, writeSampleRelease, type ScanReport } from '../../src/catalog/index.js'
import { CatalogStore } from '../../src/catalog/store.js'
import type { Db } from '../../src/db/index.js'
import { runCli, tempDir } from '../helpers.js'
import {
  aacid,
  catalogDb,
  dataFilesOf,
  dataName,
  metaName,
  rec,
  recordsOf,
  recs,
  scanRoots,
  sortedProblems,
  writeDataFolder,
  writeMeta,
} from '../fixtures.js'

const C = 'inc_files'
const META = metaName(C, 0, 99)
const FOLDER = dataName(C, 0, 99)
const R = 'inc_records'

/** A sample release plus a files collection of our own and a file with a bad line: 12 entries. */
function buildTree(t: TestContext): { root: string; entries: number } {
  const root = tempDir(t, 'aacseed-incremental-')
  const sample = writeSampleRelease({ root })
  const ids = [10, 11, 12, 13, 14].map((s) => aacid(C, s))
  writeMeta(
    root,
    META,
    ids.map((a) => rec(a, { n: a.length }, FOLDER)),
  )
  writeDataFolder(root, FOLDER, ids)
  const bad = recs(R, 10, 5)
  bad[1] = '{"aacid":'
  writeMeta(root, metaName(R, 0, 99), bad)
  return { root, entries: sample.metaFiles.length + sample.dataFolders.length + 3 }
}

function totals(r: ScanReport): [number, number, number, number] {
  return [r.meta_files, r.data_folders, r.records, r.data_files]
}

function countRows(db: Db, sql: string, ...args: unknown[]): number {
  return db
    .prepare(sql)
    .pluck()
    .get(...args) as number
}

/** Bumps a file's or folder's mtime without touching its content. */
function touch(path: string, secondsAhead = 10): void {
  const st = statSync(path)
  const t = st.mtimeMs / 1000 + secondsAhead
  utimesSync(path, t, t)
}

describe('rescans', () => {
  test('an unchanged tree is not read again, and reports the same catalog and problems', async (t) => {
    const { root, entries } = buildTree(t)
    const { db } = catalogDb(t)
    const first = await scanRoots(db, [root])
    assert.equal(first.stats.entriesRead, entries)
    assert.equal(first.problems.length, 1)
    const again = await scanRoots(db, [root])
    assert.deepEqual(again.stats, {
      ...again.stats,
      entriesRead: 0,
      entriesUnchanged: entries,
      entriesRemoved: 0,
      recordsRead: 0,
      bytesRead: 0,
    })
    assert.deepEqual(totals(again), totals(first))
    assert.deepEqual(sortedProblems(again.problems), sortedProblems(first.problems))
    assert.equal(countRows(db, "SELECT count(*) FROM meta_files WHERE state <> 'complete'"), 0)
  })

  test('the CLI prints the same JSON on a rescan', async (t) => {
    const { root, entries } = buildTree(t)
    const db = join(tempDir(t), 'c.db')
    const a = await runCli(['scan', root, '--db', db, '--json'])
    const b = await runCli(['scan', root, '--db', db, '--json'])
    assert.equal(a.code, 1)
    assert.equal(b.code, 1)
    assert.deepEqual(JSON.parse(b.stdout), JSON.parse(a.stdout))
    const text = await runCli(['scan', root, '--db', db])
    assert.match(text.stdout, new RegExp(`read 0 entries .*; ${entries} unchanged, 0 removed`))
  })

  test('a rescan of an unchanged tree of 10,000 entries reads none of them', async (t) => {
    const root = tempDir(t, 'aacseed-10k-')
    // 2,000 small metadata files and 8,000 data folders across 40 collections.
    for (let i = 0; i < 10_000; i++) {
      const c = `k${i % 40}_records`
      const from = i * 10
      if (i < 2000)
        writeFileSync(join(root, metaName(c, from, from + 9)), encodeMetaFile([rec(aacid(c, from + 1))]))
      else mkdirSync(join(root, dataName(c, from, from + 9)))
    }
    const { db } = catalogDb(t)
    let t0 = performance.now()
    const first = await scanRoots(db, [root])
    t.diagnostic(`first scan of 10,000 entries: ${(performance.now() - t0).toFixed(0)} ms`)
    assert.deepEqual(totals(first), [2000, 8000, 2000, 0])
    assert.deepEqual(first.problems, [])
    const times: number[] = []
    for (let i = 0; i < 3; i++) {
      t0 = performance.now()
      const r = await scanRoots(db, [root])
      times.push(performance.now() - t0)
      assert.equal(r.stats.entriesRead, 0)
      assert.equal(r.stats.entriesUnchanged, 10_000)
      assert.deepEqual(totals(r), totals(first))
    }
    // How long it takes is measured by `npm run bench:rescan` (bar: 1 s), not by a timed test.
    t.diagnostic(`rescans of the unchanged tree: ${times.map((x) => x.toFixed(0)).join(', ')} ms`)
  })
})

describe('changed entries are re-read and their rows replaced', () => {
  test('a rewritten metadata file: only it is read; its old records and problems are gone', async (t) => {
    const { root, entries } = buildTree(t)
    const { db } = catalogDb(t)
    const first = await scanRoots(db, [root])
    const name = metaName(R, 0, 99)
    const oldIds = recordsOf(db, name).map((r) => r.aacid)
    assert.equal(oldIds.length, 4)
    // New content: 7 different records, line 6 defective.
    const lines = recs(R, 50, 7, (i) => ({ v: 2, i }))
    lines[5] = '[]'
    writeMeta(root, name, lines)
    const r = await scanRoots(db, [root])
    assert.equal(r.stats.entriesRead, 1)
    assert.equal(r.stats.entriesUnchanged, entries - 1)
    assert.equal(r.stats.recordsRead, 6)
    assert.equal(r.records, first.records - 4 + 6)
    assert.deepEqual(
      recordsOf(db, name).map((x) => x.aacid),
      [0, 1, 2, 3, 4, 6].map((i) => aacid(R, 50 + i)),
    )
    for (const id of oldIds)
      assert.equal(new CatalogStore(db).locateRecord(id).length, 0, `old record ${id} is gone`)
    assert.equal(countRows(db, 'SELECT count(*) FROM meta_files WHERE name = ?', name), 1)
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.line, p.code]),
      [[name, 6, 'not-an-object']],
    )
  })

  test('a touched file (same content, new mtime) is re-read without duplicating its records', async (t) => {
    const { root } = buildTree(t)
    const { db } = catalogDb(t)
    const first = await scanRoots(db, [root])
    touch(join(root, META))
    const r = await scanRoots(db, [root])
    assert.equal(r.stats.entriesRead, 1)
    assert.deepEqual(totals(r), totals(first))
    assert.equal(
      countRows(
        db,
        'SELECT count(*) FROM records r JOIN meta_files m ON m.id = r.meta_file_id WHERE m.name = ?',
        META,
      ),
      5,
    )
    assert.equal(countRows(db, 'SELECT count(*) FROM records'), first.records)
    assert.deepEqual(sortedProblems(r.problems), sortedProblems(first.problems))
  })

  test('same size and mtime but another inode (a file renamed over it) is re-read', async (t) => {
    const { root } = buildTree(t)
    const path = join(root, META)
    utimesSync(path, 1_700_000_000, 1_700_000_000)
    const { db } = catalogDb(t)
    await scanRoots(db, [root])
    const old = statSync(path, { bigint: true })
    // The same bytes in a new file (a new inode), given the same mtime, renamed over the old one.
    writeFileSync(join(root, '.replacement'), readFileSync(path))
    utimesSync(join(root, '.replacement'), 1_700_000_000, 1_700_000_000)
    renameSync(join(root, '.replacement'), path)
    const now = statSync(path, { bigint: true })
    assert.deepEqual([now.size, now.mtimeNs], [old.size, old.mtimeNs])
    assert.notEqual(now.ino, old.ino)
    const r = await scanRoots(db, [root])
    assert.equal(r.stats.entriesRead, 1)
    assert.equal(r.stats.recordsRead, 5)
    assert.equal((await scanRoots(db, [root])).stats.entriesRead, 0)
  })

  test('a file added to a data folder: the folder is re-read and the new blob is a stray', async (t) => {
    const { root, entries } = buildTree(t)
    const { db } = catalogDb(t)
    const first = await scanRoots(db, [root])
    const extra = aacid(C, 20)
    writeFileSync(join(root, FOLDER, extra), 'new blob')
    const r = await scanRoots(db, [root])
    assert.equal(r.stats.entriesRead, 1)
    assert.equal(r.stats.entriesUnchanged, entries - 1)
    assert.equal(r.data_files, first.data_files + 1)
    assert.ok(dataFilesOf(db, FOLDER).includes(extra))
    assert.deepEqual(
      r.problems.filter((p) => p.code === 'stray-data-file').map((p) => [p.path, p.line, p.aacid]),
      [[`${FOLDER}/${extra}`, null, extra]],
    )
    rmSync(join(root, FOLDER, extra))
    const back = await scanRoots(db, [root])
    assert.equal(back.stats.entriesRead, 1)
    assert.deepEqual(sortedProblems(back.problems), sortedProblems(first.problems))
  })

  test('a blob removed from a data folder is missing-data-file; put back, the problem goes', async (t) => {
    const { root } = buildTree(t)
    const { db } = catalogDb(t)
    const first = await scanRoots(db, [root])
    const gone = aacid(C, 12)
    rmSync(join(root, FOLDER, gone))
    const r = await scanRoots(db, [root])
    assert.equal(r.stats.entriesRead, 1)
    assert.deepEqual(
      r.problems.filter((p) => p.code === 'missing-data-file').map((p) => [p.path, p.line, p.aacid]),
      [[META, 3, gone]],
    )
    writeFileSync(join(root, FOLDER, gone), 'back')
    const back = await scanRoots(db, [root])
    assert.deepEqual(sortedProblems(back.problems), sortedProblems(first.problems))
  })

  test('a changed file of an overlapping pair is compared again (immutable-conflict appears)', async (t) => {
    const root = tempDir(t)
    const a = metaName(R, 0, 49)
    const b = metaName(R, 20, 80)
    const lines = recs(R, 20, 10)
    writeMeta(root, a, lines)
    writeMeta(root, b, lines)
    const { db } = catalogDb(t)
    assert.deepEqual((await scanRoots(db, [root])).problems, [])
    const changed = [...lines]
    changed[4] = rec(aacid(R, 24), 'rewritten')
    writeMeta(root, b, changed)
    const r = await scanRoots(db, [root])
    assert.equal(r.stats.entriesRead, 1)
    assert.deepEqual(
      r.problems.map((p) => [p.code, p.aacid, p.line]),
      [['immutable-conflict', aacid(R, 24), 5]],
    )
    writeMeta(root, b, lines)
    assert.deepEqual((await scanRoots(db, [root])).problems, [])
  })
})

describe('removed entries are dropped', () => {
  test('a removed metadata file takes its records and problems with it', async (t) => {
    const { root, entries } = buildTree(t)
    const { db } = catalogDb(t)
    const first = await scanRoots(db, [root])
    const name = metaName(R, 0, 99)
    assert.deepEqual(
      first.problems.map((p) => p.path),
      [name],
    )
    rmSync(join(root, name))
    const r = await scanRoots(db, [root])
    assert.equal(r.stats.entriesRead, 0)
    assert.equal(r.stats.entriesRemoved, 1)
    assert.equal(r.stats.entriesUnchanged, entries - 1)
    assert.deepEqual(r.problems, [])
    assert.equal(r.meta_files, first.meta_files - 1)
    assert.equal(r.records, first.records - 4)
    assert.equal(countRows(db, 'SELECT count(*) FROM meta_files WHERE name = ?', name), 0)
    assert.equal(
      countRows(
        db,
        "SELECT count(*) FROM records r JOIN meta_files m ON m.id = r.meta_file_id WHERE m.collection = 'inc_records'",
      ),
      0,
    )
    assert.equal(
      countRows(db, 'SELECT count(*) FROM records WHERE meta_file_id NOT IN (SELECT id FROM meta_files)'),
      0,
    )
    assert.equal(countRows(db, 'SELECT count(*) FROM problems'), 0)
  })

  test('a removed data folder takes its files with it; its metadata file no longer has blobs to check', async (t) => {
    const { root } = buildTree(t)
    const { db } = catalogDb(t)
    const first = await scanRoots(db, [root])
    rmSync(join(root, FOLDER), { recursive: true })
    const r = await scanRoots(db, [root])
    assert.equal(r.stats.entriesRemoved, 1)
    assert.equal(r.data_folders, first.data_folders - 1)
    assert.equal(r.data_files, first.data_files - 5)
    assert.equal(countRows(db, 'SELECT count(*) FROM data_folders WHERE name = ?', FOLDER), 0)
    assert.deepEqual(sortedProblems(r.problems), sortedProblems(first.problems))
  })

  test('a badly named entry renamed away: its root problem goes', async (t) => {
    const { root } = buildTree(t)
    writeFileSync(join(root, 'stray.bin'), 'x')
    const { db } = catalogDb(t)
    const first = await scanRoots(db, [root])
    assert.ok(first.problems.some((p) => p.path === 'stray.bin' && p.code === 'invalid-meta-file-name'))
    renameSync(join(root, 'stray.bin'), join(root, '.stray.bin'))
    const r = await scanRoots(db, [root])
    assert.ok(!r.problems.some((p) => p.path === 'stray.bin'))
    assert.equal(r.problems.length, first.problems.length - 1)
  })
})

describe('--full', () => {
  test('re-reads every entry, changing nothing in the catalog', async (t) => {
    const { root, entries } = buildTree(t)
    const { db } = catalogDb(t)
    const first = await scanRoots(db, [root])
    const r = await scanRoots(db, [root], { full: true })
    assert.equal(r.stats.entriesRead, entries)
    assert.equal(r.stats.entriesUnchanged, 0)
    assert.equal(r.stats.recordsRead, first.stats.recordsRead)
    assert.deepEqual(totals(r), totals(first))
    assert.deepEqual(sortedProblems(r.problems), sortedProblems(first.problems))
    assert.equal(countRows(db, 'SELECT count(*) FROM records'), first.records)
    assert.equal(countRows(db, 'SELECT count(*) FROM meta_files'), first.meta_files)
  })

  test('aacseed scan --full says it read every entry', async (t) => {
    const { root, entries } = buildTree(t)
    const db = join(tempDir(t), 'c.db')
    await runCli(['scan', root, '--db', db])
    const inc = await runCli(['scan', root, '--db', db])
    assert.match(inc.stdout, new RegExp(`read 0 entries .*; ${entries} unchanged`))
    const full = await runCli(['scan', root, '--db', db, '--full'])
    assert.equal(full.code, 1)
    assert.match(full.stdout, new RegExp(`read ${entries} entries .*; 0 unchanged`))
  })
})
