/**
 * Opening the SQLite database, apart from the migrations list: `openCurrentDatabase` loads the
 * fifteen-odd migration modules only when one is pending, which a command that runs often
 * (`torrents make`) would otherwise load at every start. db/index.ts imports the list and is
 * what everything else uses.
 */
import { mkdirSync, readdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { AacseedError } from '../errors.js'
import { environmentError } from '../fs.js'
import { setWritableDatabase } from './failure.js'
import { SqliteDatabase } from './sqlite.js'
import type { Db, Migration } from './migration.js'

/** The database opened and configured (WAL, foreign keys, cache), not yet migrated. */
export function connectDatabase(path: string, opts: { readonly?: boolean } = {}): Db {
  let db: Db
  try {
    if (path !== ':memory:' && !opts.readonly) mkdirSync(dirname(path), { recursive: true })
    db = new SqliteDatabase(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false })
  } catch (e) {
    throw (
      environmentError(e, 'opening the catalog database', path) ??
      new AacseedError('database-open', `cannot open database ${path}: ${(e as Error).message}`, { path })
    )
  }
  if (!opts.readonly && path !== ':memory:') setWritableDatabase(path)
  db.pragma('busy_timeout = 10000')
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL')
    // NORMAL in WAL mode: a power cut may lose the last transactions, never corrupt the file.
    db.pragma('synchronous = NORMAL')
  }
  db.pragma('foreign_keys = ON')
  db.pragma('cache_size = -32768')
  return db
}

/**
 * `openDatabase` (db/index.ts) for a caller that can wait: the migrations are imported only
 * when the database is not at the newest version. That version is read from the migration
 * files' numbers, not from their modules, so a migration added to the list is never skipped.
 */
export async function openCurrentDatabase(path: string): Promise<Db> {
  const db = connectDatabase(path)
  try {
    if (appliedVersion(db) !== newestMigrationFile()) {
      const { migrations } = await import('./migrations/index.js')
      migrate(db, migrations)
    }
  } catch (e) {
    db.close()
    throw e
  }
  return db
}

/** The newest applied migration, or null when the database has no migrations table yet. */
function appliedVersion(db: Db): number | null {
  const table = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .get()
  if (table === undefined) return null
  return db.prepare('SELECT max(version) FROM schema_migrations').pluck().get() as number | null
}

/** The highest number among the compiled migration files (`NNN-name.js`) next to this module. */
export function newestMigrationFile(): number {
  let newest = 0
  for (const name of readdirSync(new URL('./migrations/', import.meta.url))) {
    const m = /^(\d+)-.+\.js$/.exec(name)
    if (m) newest = Math.max(newest, Number(m[1]))
  }
  return newest
}

/** The newest migration applied (0 for a new database); throws when the database cannot be read. */
export function schemaVersion(db: Db): number {
  return db.prepare('SELECT coalesce(max(version), 0) FROM schema_migrations').pluck().get() as number
}

export function migrate(db: Db, list: readonly Migration[]): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
  )
  const done = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[])
  const newest = Math.max(0, ...done)
  const known = Math.max(0, ...list.map((m) => m.version))
  if (new Set(list.map((m) => m.version)).size !== list.length) {
    throw new AacseedError('migration-duplicate', 'two migrations share a version number')
  }
  if (newest > known) {
    throw new AacseedError(
      'database-too-new',
      `database schema version ${newest} is newer than this aacseed knows (${known}); upgrade aacseed`,
    )
  }
  const pending = [...list].sort((a, b) => a.version - b.version).filter((m) => !done.has(m.version))
  if (pending.length === 0) return
  // All pending migrations in one transaction (SQLite's DDL is transactional): an upgrade
  // that fails halfway leaves the database exactly as the previous release left it.
  let current: Migration | undefined
  try {
    db.transaction(() => {
      for (const m of pending) {
        current = m
        m.up(db)
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
          m.version,
          m.name,
          new Date().toISOString(),
        )
      }
    })()
  } catch (e) {
    const which = current ? `migration ${current.version} (${current.name})` : 'migrating'
    throw new AacseedError(
      'migration-failed',
      `${which} failed: ${(e as Error).message}; the database was left untouched at schema version ${newest}`,
      { path: db.name },
    )
  }
}
