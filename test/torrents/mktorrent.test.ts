/**
 * Our info dictionary must be mktorrent 1.1's, byte for byte, so that a release hashed by us and
 * by anyone running mktorrent on the same folder is one swarm.
 */
import assert from 'node:assert/strict'
import { mkdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { buildTorrent, sortByNameBytes } from '../../src/torrents/index.js'
import { requireTool, tempDir } from '../helpers.js'
import { baseInput, infoOf, listFiles, mktorrent, writeFiles, type MktorrentOptions } from './fixtures.js'

async function assertSameAsMktorrent(t: TestContext, target: string, opts: MktorrentOptions): Promise<void> {
  const kind = statSync(target).isDirectory() ? 'folder' : 'file'
  const name = basename(target)
  const files =
    kind === 'folder' ? sortByNameBytes(listFiles(target)) : [{ path: name, length: statSync(target).size }]
  const ours = await buildTorrent(
    baseInput({
      name,
      kind,
      root: target,
      files,
      pieceLength: 2 ** opts.pieceLog2,
      private: opts.private ?? false,
      source: opts.source ?? '',
    }),
  )
  const theirs = mktorrent(target, tempDir(t), opts)
  const a = infoOf(ours.torrent)
  const b = infoOf(theirs)
  assert.ok(b.bytes.equals(b.reencoded), 'mktorrent wrote a canonical info dictionary')
  assert.equal(
    a.bytes.toString('latin1'),
    b.bytes.toString('latin1'),
    `info of ${name} with -l ${opts.pieceLog2}`,
  )
  assert.equal(ours.infoHash, b.infoHash)
  assert.equal(a.info.private, opts.private ? 1 : undefined)
  assert.equal(b.info.private, opts.private ? 1 : undefined)
  assert.equal(ours.pieceCount, (b.info.pieces as Buffer).length / 20)
}

test('one file, with sizes that are and are not multiples of the piece length', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const dir = tempDir(t)
  writeFiles(dir, {
    'annas_archive_meta__aacid__zlib3_records__20230808T014342Z--20230808T023702Z.jsonl.zst': 1_000_001,
    'one-piece': 32_768,
    'two-pieces': 65_536,
    tiny: 3,
  })
  for (const pieceLog2 of [15, 18, 22]) {
    await assertSameAsMktorrent(
      t,
      join(dir, 'annas_archive_meta__aacid__zlib3_records__20230808T014342Z--20230808T023702Z.jsonl.zst'),
      { pieceLog2 },
    )
  }
  await assertSameAsMktorrent(t, join(dir, 'one-piece'), { pieceLog2: 15 })
  await assertSameAsMktorrent(t, join(dir, 'two-pieces'), { pieceLog2: 15 })
  await assertSameAsMktorrent(t, join(dir, 'tiny'), { pieceLog2: 18 })
})

test('a data folder of AACID-named blobs whose order depends on -, _, case and digits', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const folder = join(tempDir(t), 'annas_archive_data__aacid__x_files__20230808T051503Z--20230808T051504Z')
  const p = 'aacid__x_files__20230808T051503Z__'
  writeFiles(folder, {
    [`${p}1__A2cdefghijkmnopqrstuvw`]: 40_000,
    [`${p}1__a2cdefghijkmnopqrstuvw`]: 32_768,
    [`${p}1-2__B2cdefghijkmnopqrstuvw`]: 1,
    [`${p}10__Z2cdefghijkmnopqrstuvw`]: 99_999,
    [`${p}2__z2cdefghijkmnopqrstuvw`]: 0,
    [`${p}1__92cdefghijkmnopqrstuvw`]: 65_537,
    [`${p}Q2cdefghijkmnopqrstuvw`]: 12_345,
    aacid__x_files__20230808T051504Z__1__A2cdefghijkmnopqrstuvw: 262_144,
  })
  for (const pieceLog2 of [15, 18, 22]) await assertSameAsMktorrent(t, folder, { pieceLog2 })
})

test('nested folders, dot files and non-ASCII names sort by the bytes of the whole path', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const folder = join(tempDir(t), 'nested')
  // mktorrent: "B/q" < "Z" < "a-b" < "a/x" < "a0" < "b"; a per-folder walk would put "a/x" before "a-b".
  // U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80) by bytes, after it by UTF-16 units.
  writeFiles(folder, {
    'a-b': 5,
    'a/x': 70_000,
    'a/y/z': 3,
    a0: 1,
    'B/q': 2,
    b: 33_000,
    Z: 4,
    '.hidden': 6,
    é: 7,
    '\uFF21': 8,
    '\u{1F600}': 9,
  })
  for (const pieceLog2 of [15, 18]) await assertSameAsMktorrent(t, folder, { pieceLog2 })

  // The order is what makes these equal: JavaScript's own sort gives another infohash.
  const files = listFiles(folder).sort((x, y) => (x.path < y.path ? -1 : 1))
  const wrong = await buildTorrent(baseInput({ name: 'nested', kind: 'folder', root: folder, files }))
  assert.notEqual(wrong.infoHash, infoOf(mktorrent(folder, tempDir(t), { pieceLog2: 15 })).infoHash)
})

test('empty files at the start, middle and end; totals that are exact multiples', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const root = tempDir(t)
  writeFiles(join(root, 'empties'), { a: 0, b: 50_000, c: 0, d: 0, e: 15_536, f: 0 })
  writeFiles(join(root, 'exact'), { a: 32_768, b: 65_536, c: 1, d: 32_767 })
  for (const pieceLog2 of [15, 18]) {
    await assertSameAsMktorrent(t, join(root, 'empties'), { pieceLog2 })
    await assertSameAsMktorrent(t, join(root, 'exact'), { pieceLog2 })
  }
})

test('private flag and source string are in the info dictionary', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const root = tempDir(t)
  writeFiles(join(root, 'r'), { x: 100_000, y: 1 })
  await assertSameAsMktorrent(t, join(root, 'r'), { pieceLog2: 15, private: true })
  await assertSameAsMktorrent(t, join(root, 'r'), { pieceLog2: 15, source: 'AAC' })
  await assertSameAsMktorrent(t, join(root, 'r'), { pieceLog2: 15, private: true, source: 'AAC' })
  writeFiles(root, { single: 40_000 })
  await assertSameAsMktorrent(t, join(root, 'single'), { pieceLog2: 15, private: true, source: 'AAC' })
})

test('a folder large enough to be hashed by several worker threads', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const folder = join(tempDir(t), 'big')
  mkdirSync(folder)
  const files: Record<string, number> = {}
  for (let i = 0; i < 24; i++)
    files[`aacid__x_files__20230808T051503Z__${i}__B2cdefghijkmnopqrstuvw`] = 1_000_000 + i * 123_457
  writeFiles(folder, files)
  await assertSameAsMktorrent(t, folder, { pieceLog2: 15 })
  await assertSameAsMktorrent(t, folder, { pieceLog2: 18 })
})
