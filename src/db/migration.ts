import type Database from 'better-sqlite3'

// A module of its own so the migrations need not import db/index.ts, which imports them.
export type Db = Database.Database

export interface Migration {
  version: number
  name: string
  up(db: Db): void
}
