/**
 * better-sqlite3's `Database` class, loaded with `require`. The package is CommonJS: imported from
 * an ES module, Node first scans its source for named exports (cjs-module-lexer, following its
 * `module.exports = require('./database')`), about 5 ms of every CLI start on the 2-core bench
 * machine, for a class that is all we use. Types still come from the package (`import type`).
 */
import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'

const require = createRequire(import.meta.url)
const Database = require('better-sqlite3') as typeof BetterSqlite3

/**
 * The compiled addon, where npm's install puts it. Without `nativeBinding`, better-sqlite3 finds it
 * through the `bindings` package, which loads two more modules, reads the caller's file name from
 * a stack trace and tries a dozen paths (~3 ms of CPU at every CLI start). Elsewhere (a debug
 * build, say), the package looks it up as it would.
 */
const addon = ((): string | undefined => {
  try {
    return require.resolve('better-sqlite3/build/Release/better_sqlite3.node')
  } catch {
    return undefined
  }
})()

export const SqliteDatabase: typeof BetterSqlite3 =
  addon === undefined
    ? Database
    : (class extends Database {
        constructor(filename?: string | Buffer, options?: BetterSqlite3.Options) {
          super(filename, { nativeBinding: addon, ...options })
        }
      } as typeof BetterSqlite3)
