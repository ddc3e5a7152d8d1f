/**
 * better-sqlite3's `Database` class, loaded with `require`. The package is CommonJS: imported from
 * an ES module, Node first scans its source for named exports (cjs-module-lexer, following its
 * `module.exports = require('./database')`), about 5 ms of every CLI start on the 2-core bench
 * machine, for a class that is all we use. Types still come from the package (`import type`).
 */
import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'

export const SqliteDatabase = createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3
