/**
 * A chunk checked while another thread holds the catalog's write lock (deferChunk): its records
 * wait, unwritten and unreported, until the lock is free, and are then written and reported.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseMetaFileName } from '../../src/aac/index.js'
import { deferChunk, deferredChunks, flushDeferred } from '../../src/catalog/line-check.js'
import type { ChunkRequest } from '../../src/catalog/line-protocol.js'
import { CatalogStore } from '../../src/catalog/store.js'
import { WriteLock } from '../../src/catalog/write-lock.js'
import { aacid, catalogDb, metaName, rec } from '../fixtures.js'

const C = 'zlib3_records'

test('records checked while the write lock is taken are written and reported once it is free', (t) => {
  const { db, path } = catalogDb(t)
  const store = new CatalogStore(db)
  const meta = parseMetaFileName(metaName(C, 0, 999))
  const fileId = store.beginMetaFile(store.rootId('/roots/a'), meta, { size: 1n, mtimeNs: 1n, inode: 1n })
  const text = Buffer.from([rec(aacid(C, 1)), rec(aacid(C, 2)), '{"not":"a record"}'].join('\n') + '\n')
  const newlines: number[] = []
  for (let i = text.indexOf(10); i >= 0; i = text.indexOf(10, i + 1)) newlines.push(i)
  const chunk = (seq: number): ChunkRequest => ({
    seq,
    buffer: new Uint8Array(text).buffer,
    length: text.length,
    base: seq * text.length,
    lineBase: 1 + seq * 3,
    newlines: Int32Array.from(newlines),
    utf8: true,
    context: { collection: C, fromS: meta.range.from.seconds, toS: meta.range.to.seconds },
    target: { database: path, fileId },
  })
  const stored = (): number =>
    db.prepare('SELECT count(*) FROM records WHERE meta_file_id = ?').pluck().get(fileId) as number
  const word = new SharedArrayBuffer(4)
  const lock = new WriteLock(word)

  Atomics.store(new Int32Array(word), 0, 1) // another thread holds the lock
  deferChunk(chunk(0))
  deferChunk(chunk(1))
  assert.equal(deferredChunks(), 2)
  assert.deepEqual(flushDeferred(lock, false), [], 'nothing is written or reported while the lock is taken')
  assert.equal(stored(), 0)
  assert.equal(deferredChunks(), 2)

  Atomics.store(new Int32Array(word), 0, 0) // released
  const results = flushDeferred(lock, false)
  assert.deepEqual(
    results.map((r) => [r.seq, r.lines, r.records, r.problems.map((p) => [p.line, p.code])]),
    [
      [0, 3, 2, [[3, 'unexpected-key']]],
      [1, 3, 2, [[6, 'unexpected-key']]],
    ],
  )
  assert.equal(stored(), 4, 'both chunks written, each with its own records')
  assert.equal(deferredChunks(), 0)
  assert.equal(Atomics.load(new Int32Array(word), 0), 0, 'the lock is free again')
})
