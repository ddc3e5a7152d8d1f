/**
 * Read-only queries of the `problems` table (written by src/catalog/store.ts, and by
 * src/torrents/store.ts for scope `torrent`): open problems, paged and counted, for the API.
 */
import type { Db } from '../db/index.js'

export interface ProblemRow {
  id: number
  root: string
  scope: string
  collection: string | null
  path: string
  line: number | null
  aacid: string | null
  code: string
  message: string
  found_at: string
}

export interface ProblemFilter {
  code?: string | undefined
  collection?: string | undefined
  scope?: string | undefined
}

const WHERE =
  '(@code IS NULL OR p.code = @code) AND (@collection IS NULL OR p.collection = @collection) AND (@scope IS NULL OR p.scope = @scope)'

export class ProblemQueries {
  readonly #page
  readonly #count
  readonly #byCode

  constructor(db: Db) {
    this.#page = db.prepare(
      `SELECT p.id, r.path AS root, p.scope, p.collection, p.path, p.line, p.aacid, p.code, p.message, p.found_at
       FROM problems p JOIN roots r ON r.id = p.root_id WHERE ${WHERE} ORDER BY p.id DESC LIMIT @limit OFFSET @offset`,
    )
    this.#count = db.prepare(`SELECT count(*) FROM problems p WHERE ${WHERE}`).pluck()
    this.#byCode = db.prepare(
      'SELECT scope, code, count(*) AS n FROM problems GROUP BY scope, code ORDER BY scope, code',
    )
  }

  /** Newest first. */
  page(filter: ProblemFilter, limit: number, offset: number): { total: number; items: ProblemRow[] } {
    const params = {
      code: filter.code ?? null,
      collection: filter.collection ?? null,
      scope: filter.scope ?? null,
    }
    return {
      total: this.#count.get(params) as number,
      items: this.#page.all({ ...params, limit, offset }) as ProblemRow[],
    }
  }

  counts(): Array<{ scope: string; code: string; n: number }> {
    return this.#byCode.all() as Array<{ scope: string; code: string; n: number }>
  }
}
