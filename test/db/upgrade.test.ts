/**
 * Upgrades keep the catalog. test/fixtures/catalog-0.1.0-schema6.db was written by aacseed 0.1.0
 * (`aacseed demo` then `aacseed torrents make`, checkpointed and vacuumed): every later release
 * must open and migrate it. Never regenerate it; add a fixture for a new release beside it.
 */
import assert from 'node:assert/strict'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { CatalogStore } from '../../src/catalog/store.js'
import { migrate, openDatabase, schemaVersion, type Migration } from '../../src/db/index.js'
import { migrations, SCHEMA_VERSION } from '../../src/db/migrations/index.js'
import { AacseedError } from '../../src/errors.js'
import { REPO_ROOT, runCli, tempDir } from '../helpers.js'

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'catalog-0.1.0-schema6.db')

function copyFixture(dir: string): string {
  const path = join(dir, 'aacseed.db')
  copyFileSync(FIXTURE, path)
  return path
}

/** Everything a migration could change: the schema, and every table's row count. */
function snapshot(path: string): string {
  const db = new Database(path, { readonly: true })
  try {
    const schema = db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all() as {
      name: string
      type: string
    }[]
    const counts = schema
      .filter((s) => s.type === 'table' && !s.name.startsWith('sqlite_'))
      .map((s) => `${s.name}=${String(db.prepare(`SELECT count(*) FROM "${s.name}"`).pluck().get())}`)
    return JSON.stringify({ schema, counts })
  } finally {
    db.close()
  }
}

test('a catalog written by 0.1.0 opens, migrates to this schema, and keeps its records', async (t) => {
  const path = copyFixture(tempDir(t))
  const db = openDatabase(path)
  try {
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all()
    assert.deepEqual(
      versions,
      migrations.map((m) => m.version).sort((a, b) => a - b),
    )
    assert.equal(Math.max(...(versions as number[])), SCHEMA_VERSION)
    assert.equal(db.prepare('SELECT count(*) FROM records').pluck().get(), 1548)
    assert.equal(db.prepare('SELECT count(*) FROM torrents').pluck().get(), 10)
  } finally {
    db.close()
  }
  // And the CLI reads it: coverage over the migrated catalog.
  const r = await runCli(['coverage', '--db', path, '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /zlib3_records/)
})

test('the fixture is small and stays at schema 6', () => {
  const bytes = readFileSync(FIXTURE)
  assert.ok(bytes.length < 500_000, `fixture is ${bytes.length} bytes`)
  const db = new Database(FIXTURE, { readonly: true })
  try {
    assert.equal(db.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 6)
  } finally {
    db.close()
  }
})

test('a failing migration leaves the old database untouched and says so', (t) => {
  const path = copyFixture(tempDir(t))
  const before = snapshot(path)
  const next: Migration[] = [
    ...migrations,
    {
      version: SCHEMA_VERSION + 1,
      name: 'adds-a-table',
      up: (db) => db.exec('CREATE TABLE upgrade_probe (x INTEGER); INSERT INTO upgrade_probe VALUES (1)'),
    },
    {
      version: SCHEMA_VERSION + 2,
      name: 'breaks',
      up: (db) => {
        db.exec('DELETE FROM records')
        db.exec('ALTER TABLE no_such_table ADD COLUMN y INTEGER')
      },
    },
  ]
  const db = new Database(path)
  try {
    assert.throws(
      () => migrate(db, next),
      (e: unknown) =>
        e instanceof AacseedError &&
        e.code === 'migration-failed' &&
        e.message.includes(`migration ${SCHEMA_VERSION + 2} (breaks) failed`) &&
        e.message.includes('left untouched at schema version 6'), // the fixture's
    )
  } finally {
    db.close()
  }
  // Neither the first new migration nor the half of the second survived.
  assert.equal(snapshot(path), before)
  // And this release still opens it.
  const again = openDatabase(path)
  assert.equal(again.prepare('SELECT count(*) FROM records').pluck().get(), 1548)
  again.close()
})

test('a catalog from a newer aacseed is refused, not downgraded', (t) => {
  const path = copyFixture(tempDir(t))
  const db = new Database(path)
  db.prepare("INSERT INTO schema_migrations VALUES (?, 'future', '2030-01-01T00:00:00Z')").run(
    SCHEMA_VERSION + 5,
  )
  db.close()
  assert.throws(() => openDatabase(path), /newer than this aacseed knows/)
})

/**
 * test/fixtures/catalog-schema10.db was written by aacseed at schema 10, the last release before
 * records were keyed by tag (migration 12): `aacseed demo --out /tmp/cat/fx`, then one of its
 * metadata files copied into a second root, /tmp/cat/fx/copy, and both roots scanned (so the
 * overlap's line hashes are set), checkpointed and vacuumed. Never regenerate it.
 */
const FIXTURE_10 = join(REPO_ROOT, 'test', 'fixtures', 'catalog-schema10.db')

test('a catalog written at schema 10 migrates to tag keys: every record is found where it was', async (t) => {
  const old = new Database(FIXTURE_10, { readonly: true })
  const before = old
    .prepare(
      `SELECT r.aacid, ro.path AS root, m.name, r.line, r.offset, r.length, r.frame, r.data_folder AS folder, r.hash
       FROM records r JOIN meta_files m ON m.id = r.meta_file_id JOIN roots ro ON ro.id = m.root_id ORDER BY r.aacid, m.id`,
    )
    .all() as Array<{
    aacid: string
    root: string
    name: string
    line: number
    offset: number
    length: number
    frame: number
    folder: string | null
    hash: string | null
  }>
  assert.equal(old.prepare('SELECT max(version) FROM schema_migrations').pluck().get(), 10)
  old.close()
  assert.equal(before.length, 1948)
  assert.equal(before.filter((r) => r.hash !== null).length, 800)
  assert.equal(before.filter((r) => r.folder !== null).length, 48)

  const dir = tempDir(t)
  const path = join(dir, 'aacseed.db')
  copyFileSync(FIXTURE_10, path)
  const db = openDatabase(path)
  try {
    assert.equal(schemaVersion(db), SCHEMA_VERSION)
    const store = new CatalogStore(db)
    const folderOf = db.prepare(
      'SELECT (SELECT name FROM record_folders WHERE id = r.folder_id) AS folder, r.hash FROM records r JOIN meta_files m ON m.id = r.meta_file_id WHERE m.name = ? AND r.line = ? AND m.root_id = (SELECT id FROM roots WHERE path = ?)',
    )
    for (const r of before) {
      const at = store.locateRecord(r.aacid).filter((l) => l.root === r.root && l.name === r.name)
      assert.deepEqual(
        at.map((l) => [l.line, l.offset, l.length, l.frame]),
        [[r.line, r.offset, r.length, r.frame]],
        r.aacid,
      )
      assert.deepEqual(folderOf.get(r.name, r.line, r.root), { folder: r.folder, hash: r.hash }, r.aacid)
    }
    assert.equal(db.prepare('SELECT count(*) FROM records').pluck().get(), 1948)
    // Migration 15: the folder is a small integer on the row, its name stored once.
    const columns = db.prepare("SELECT name FROM pragma_table_info('records')").pluck().all()
    assert.ok(!columns.includes('data_folder'), String(columns))
    assert.deepEqual(
      db.prepare('SELECT typeof(folder_id) AS t, count(*) AS n FROM records GROUP BY 1 ORDER BY 1').all(),
      [
        { t: 'integer', n: 48 },
        { t: 'null', n: 1900 },
      ],
    )
    assert.equal(
      db.prepare('SELECT count(*) FROM record_folders').pluck().get(),
      new Set(before.filter((r) => r.folder !== null).map((r) => r.folder)).size,
    )
  } finally {
    db.close()
  }

  // The same bytes again (the demo is deterministic) where the old roots were: get reads them.
  const tree = join(dir, 'tree')
  assert.equal((await runCli(['demo', '--out', tree])).code, 0)
  const copy = join(tree, 'copy')
  mkdirSync(copy)
  const copied = before.find((r) => r.root === '/tmp/cat/fx/copy')!.name
  copyFileSync(join(tree, 'releases', copied), join(copy, copied))
  const w = new Database(path)
  w.prepare('UPDATE roots SET path = ? WHERE path = ?').run(join(tree, 'releases'), '/tmp/cat/fx/releases')
  w.prepare('UPDATE roots SET path = ? WHERE path = ?').run(copy, '/tmp/cat/fx/copy')
  w.close()
  const seekable = before.find((r) => r.name.endsWith('.seekable.zst') && r.frame > 2)!
  for (const r of [seekable, before.find((r) => r.folder !== null)!, before.find((r) => r.hash !== null)!]) {
    const g = await runCli(['get', r.aacid, '--db', path])
    assert.equal(g.code, 0, g.stderr)
    assert.equal((JSON.parse(g.stdout) as { aacid: string }).aacid, r.aacid)
  }
  // And a rescan over the migrated catalog finds the same records and no problem.
  const s = await runCli(['scan', join(tree, 'releases'), copy, '--db', path, '--json'])
  assert.equal(s.code, 0, s.stderr)
  const report = JSON.parse(s.stdout) as { records: number; problems: unknown[] }
  assert.equal(report.records, 1948)
  assert.deepEqual(report.problems, [])
})
