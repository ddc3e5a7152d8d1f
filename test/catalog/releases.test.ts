/**
 * CatalogStore.releases(limit): the first `limit` releases of the full list, in its order, with
 * the same problem counts (root and cross problems included), the first root winning when one
 * release sits in two roots. torrents make's head start reads only those.
 */
import assert from 'node:assert/strict'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { writeSampleRelease } from '../../src/catalog/index.js'
import { CatalogStore } from '../../src/catalog/store.js'
import { tempDir } from '../helpers.js'
import { catalogDb, scanRoots } from '../fixtures.js'

test('releases(limit) is the head of releases(), problems counted alike, first root first', async (t) => {
  const dir = tempDir(t, 'aacseed-releases-')
  const a = join(dir, 'a')
  const b = join(dir, 'b')
  writeSampleRelease({ root: a })
  // The same releases in a second root: each name once, from the root scanned first.
  cpSync(a, b, { recursive: true })
  const { db } = catalogDb(t)
  await scanRoots(db, [a, b])
  const store = new CatalogStore(db)
  const all = store.releases()
  assert.ok(all.length >= 6, `the sample release has several releases, got ${all.length}`)
  assert.equal(new Set(all.map((r) => r.name)).size, all.length, 'each release once')
  const rootA = all[0]!.root
  assert.ok(
    all.every((r) => r.root === rootA),
    'the first root wins',
  )

  // A root problem on one release's path (the scan writes such rows for what it refuses at a
  // root's top level): counted for that release whether or not the list is limited.
  const named = all[2]!
  db.prepare(
    `INSERT INTO problems (root_id, scope, path, code, message, found_at) VALUES (?, 'root', ?, 'test-problem', 'x', '2026-12-05T00:00:00Z')`,
  ).run(named.rootId, `${named.name}/inside`)
  const withProblem = store.releases()
  assert.equal(withProblem[2]!.problems, named.problems + 1)

  // Rows are limited before each name's duplicate in the second root is dropped: a limited list
  // is a head of the full one, and twice the releases' count is all of them.
  for (let k = 1; k <= 2 * all.length; k++) {
    const head = store.releases(k)
    assert.ok(head.length >= Math.ceil(k / 2) && head.length <= k, `releases(${k}) has ${head.length}`)
    assert.deepEqual(head, withProblem.slice(0, head.length), `releases(${k})`)
  }
  assert.deepEqual(store.releases(2 * all.length), withProblem)
})
