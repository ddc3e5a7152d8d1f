/**
 * create-torrent (what webtorrent users make torrents with) agrees with us wherever its file
 * order agrees with mktorrent's: for flat folders such as AAC data folders, and single files.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import createTorrent from 'create-torrent'
import { buildTorrent, sortByNameBytes, type TorrentInput } from '../../src/torrents/index.js'
import { tempDir } from '../helpers.js'
import { baseInput, infoOf, listFiles, writeFiles } from './fixtures.js'

function theirs(path: string, pieceLength: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    // Its callback can fire a second time with nothing; the promise keeps the first.
    // No default public trackers, a fixed date instead of "now", and no junk filter. Its folder
    // walker (get-files.js) still drops dot files and "junk" such as Thumbs.db whatever the
    // option says, so the folders below hold neither.
    createTorrent(
      path,
      { pieceLength, announceList: [], creationDate: new Date(1_691_472_903_000), filterJunkFiles: false },
      (err, torrent) => (err ? reject(err) : resolve(torrent)),
    )
  })
}

async function assertSame(input: TorrentInput): Promise<void> {
  const ours = await buildTorrent(input)
  const other = infoOf(await theirs(input.root, input.pieceLength))
  assert.equal(infoOf(ours.torrent).bytes.toString('latin1'), other.bytes.toString('latin1'))
  assert.equal(ours.infoHash, other.infoHash)
}

test('same info dictionary as create-torrent for a flat data folder and for a single file', async (t) => {
  const root = tempDir(t)
  const name = 'annas_archive_data__aacid__x_files__20230808T051503Z--20230808T051504Z'
  const p = 'aacid__x_files__20230808T051503Z__'
  writeFiles(join(root, name), {
    [`${p}1__A2cdefghijkmnopqrstuvw`]: 40_000,
    [`${p}1__a2cdefghijkmnopqrstuvw`]: 0,
    [`${p}1-2__B2cdefghijkmnopqrstuvw`]: 1,
    [`${p}10__Z2cdefghijkmnopqrstuvw`]: 99_999,
    [`${p}Q2cdefghijkmnopqrstuvw`]: 65_536,
  })
  const files = sortByNameBytes(listFiles(join(root, name)))
  for (const pieceLength of [1 << 15, 1 << 16, 1 << 22]) {
    await assertSame(baseInput({ name, kind: 'folder', root: join(root, name), files, pieceLength }))
  }
  writeFiles(root, { 'meta.jsonl.zst': 123_456 })
  await assertSame(
    baseInput({
      name: 'meta.jsonl.zst',
      kind: 'file',
      root: join(root, 'meta.jsonl.zst'),
      files: [{ path: 'meta.jsonl.zst', length: 123_456 }],
    }),
  )
})

test('create-torrent walks one folder at a time, so nested orders differ from mktorrent', async (t) => {
  const root = tempDir(t)
  writeFiles(join(root, 'n'), { 'a-b': 5, 'a/x': 7 })
  const info = infoOf(await theirs(join(root, 'n'), 1 << 15)).info
  const paths = (info.files as { path: Buffer[] }[]).map((f) => f.path.map(String).join('/'))
  assert.deepEqual(paths, ['a/x', 'a-b'])
  assert.deepEqual(
    sortByNameBytes(listFiles(join(root, 'n'))).map((f) => f.path),
    ['a-b', 'a/x'],
  )
})
