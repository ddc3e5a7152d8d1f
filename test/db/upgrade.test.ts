/**
 * Upgrades keep the catalog. test/fixtures/catalog-0.1.0-schema6.db was written by aacseed 0.1.0
 * (`aacseed demo` then `aacseed torrents make`, checkpointed and vacuumed): every later release
 * must open and migrate it. Never regenerate it; add a fixture for a new release beside it.
 */
import assert from 'node:assert/strict'
import { copyFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { migrate, openDatabase, type Migration } from '../../src/db/index.js'
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
