/**
 * `openCurrentDatabase` (db/connect.ts) skips importing the migrations when none is pending; it
 * must still apply every pending one, and refuse a database newer than this aacseed.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { migrate, newestMigrationFile, openCurrentDatabase, schemaVersion } from '../../src/db/index.js'
import { migrations, SCHEMA_VERSION } from '../../src/db/migrations/index.js'
import { tempDir } from '../helpers.js'

test('the newest migration file is the newest migration in the list', () => {
  assert.equal(newestMigrationFile(), SCHEMA_VERSION)
  assert.equal(migrations.length, SCHEMA_VERSION, 'one list entry per migration number')
})

test('a new, an older and a current database all end at the newest version', async (t) => {
  const dir = tempDir(t)
  const fresh = await openCurrentDatabase(join(dir, 'new.db'))
  assert.equal(schemaVersion(fresh), SCHEMA_VERSION)
  fresh.close()

  const oldPath = join(dir, 'old.db')
  const old = new Database(oldPath)
  migrate(old, migrations.slice(0, SCHEMA_VERSION - 3))
  assert.equal(schemaVersion(old), SCHEMA_VERSION - 3)
  old.close()
  const upgraded = await openCurrentDatabase(oldPath)
  assert.equal(schemaVersion(upgraded), SCHEMA_VERSION)
  assert.equal(
    upgraded.prepare('SELECT count(*) FROM schema_migrations').pluck().get(),
    SCHEMA_VERSION,
    'each migration applied once',
  )
  upgraded.close()
  const again = await openCurrentDatabase(oldPath)
  assert.equal(schemaVersion(again), SCHEMA_VERSION)
  again.close()
})

test('a database newer than this aacseed is refused, not opened', async (t) => {
  const path = join(tempDir(t), 'future.db')
  const db = await openCurrentDatabase(path)
  db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
    SCHEMA_VERSION + 1,
    'from the future',
    new Date().toISOString(),
  )
  db.close()
  await assert.rejects(
    openCurrentDatabase(path),
    (e: Error & { code?: string }) => e.code === 'database-too-new',
  )
})
