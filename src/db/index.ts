/**
 * Opens the aacseed SQLite database: WAL (readers never block the writer, a crash loses
 * nothing committed), foreign keys on, and every numbered migration applied in order.
 * Tables and their SQL belong to the module that owns them; this only sequences their DDL.
 */
import { existsSync } from 'node:fs'
import { ConfigError } from '../errors.js'
import { connectDatabase, migrate } from './connect.js'
import { migrations } from './migrations/index.js'

import type { Db, Migration } from './migration.js'

export type { Db, Migration }
export {
  connectDatabase,
  migrate,
  newestMigrationFile,
  openCurrentDatabase,
  schemaVersion,
} from './connect.js'

export function openDatabase(path: string, opts: { readonly?: boolean } = {}): Db {
  const db = connectDatabase(path, opts)
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
