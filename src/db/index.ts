/**
 * Opens the aacseed SQLite database: WAL (readers never block the writer, a crash loses
 * nothing committed), foreign keys on, and every numbered migration applied in order.
 * Tables and their SQL belong to the module that owns them; this only sequences their DDL.
 */
import Database from 'better-sqlite3'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { AacseedError, ConfigError } from '../errors.js'
import { environmentError } from '../fs.js'
import { setWritableDatabase } from './failure.js'
import { migrations } from './migrations/index.js'

import type { Db, Migration } from './migration.js'

export type { Db, Migration }

export function openDatabase(path: string, opts: { readonly?: boolean } = {}): Db {
  let db: Db
  try {
    if (path !== ':memory:' && !opts.readonly) mkdirSync(dirname(path), { recursive: true })
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false })
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
  if (!opts.readonly) migrate(db, migrations)
  return db
}

/**
 * For commands that only read the catalog: a database that does not exist is the user's
 * mistake (a wrong --db or config, exit 2), never an empty catalog created on the spot that
 * then answers "nothing here".
 */
export function openExistingDatabase(path: string): Db {
  if (path !== ':memory:' && !existsSync(path))
    throw new ConfigError(
      `no database at ${path} (catalog.database, or --db): check the config in use (aacseed config), or catalog something first (aacseed scan)`,
      { path },
    )
  return openDatabase(path)
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
