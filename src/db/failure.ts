/**
 * Which database a SQLite error is about. better-sqlite3's errors carry no file name, and a process
 * writes one database (a command's or serve's), so the one opened for writing is named. Kept apart
 * from index.ts so the CLI can map errors without loading the native module.
 */
import type { EnvironmentError } from '../errors.js'
import { environmentError } from '../fs.js'

let writing: string | null = null

export function setWritableDatabase(path: string): void {
  writing = path
}

/** A SQLite error that is the machine's fault (a full disk, a read-only file system), naming the database. */
export function databaseEnvironmentError(e: unknown): EnvironmentError | undefined {
  const code = (e as { code?: unknown } | null)?.code
  if (writing === null || typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined
  return environmentError(e, 'writing the catalog database', writing)
}
