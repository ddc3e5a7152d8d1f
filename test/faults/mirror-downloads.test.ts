/**
 * Fault-injection cases of issue #12 about mirror downloads that could never succeed, each
 * named by its case: a piece length aacseed cannot make again, and `name.utf-8`/`path.utf-8`
 * that disagree with `name`/`path` (WebTorrent's parse-torrent reads the former). Both are
 * refused before any download, with their reason.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { checkEngineView } from '../../src/mirror/check.js'
import { MirrorError } from '../../src/mirror/index.js'
import { encode, parseTorrent, type BencodeDict } from '../../src/torrents/index.js'
import { aacid, dataName, metaName } from '../fixtures.js'

const LIMITS = { maxBytes: 1 << 20, maxFiles: 100, maxPieces: 1 << 16 }

function torrent(info: BencodeDict, total: number, pieceLength: number): Buffer {
  return encode({
    announce: 'http://127.0.0.1:1/announce',
    info: {
      'piece length': pieceLength,
      pieces: Buffer.alloc(20 * Math.max(1, Math.ceil(total / pieceLength)), 7),
      ...info,
    },
  })
}

async function refusal(buf: Buffer): Promise<MirrorError> {
  const t = parseTorrent(buf, LIMITS)
  try {
    await checkEngineView(buf, t)
  } catch (e) {
    assert.ok(e instanceof MirrorError, String(e))
    return e
  }
  assert.fail('expected the torrent to be refused')
}

describe('fault: piece length outside 32 KiB–16 MiB', () => {
  test('16 KiB, 32 MiB and a non-power of two are refused before download, with the reason', async () => {
    const name = metaName('coll', 0, 9)
    for (const pl of [16 * 1024, 32 * 1024 * 1024, 48 * 1024]) {
      const e = await refusal(torrent({ name, length: 100_000 }, 100_000, pl))
      assert.equal(e.code, 'torrent-unsupported')
      assert.match(e.message, new RegExp(`piece length ${pl}: .*powers of two from 32 KiB to 16 MiB`))
    }
  })

  test('a supported piece length passes', async () => {
    const buf = torrent({ name: metaName('coll', 0, 9), length: 100_000 }, 100_000, 32 * 1024)
    await checkEngineView(buf, parseTorrent(buf, LIMITS))
  })
})

describe('fault: name.utf-8 / path.utf-8 disagreeing with name / path', () => {
  test('a name.utf-8 other than name is refused', async () => {
    const name = metaName('coll', 0, 9)
    const e = await refusal(torrent({ name, 'name.utf-8': 'zzz-other-name', length: 1000 }, 1000, 32 * 1024))
    assert.equal(e.code, 'torrent-unsupported')
    assert.match(e.message, /\*\.utf-8 fields/)
  })

  test('a path.utf-8 other than path is refused; agreeing fields pass', async () => {
    const name = dataName('coll', 0, 9)
    const file = aacid('coll', 5)
    const e = await refusal(
      torrent(
        { name, files: [{ length: 1000, path: [file], 'path.utf-8': ['other-file'] }] },
        1000,
        32 * 1024,
      ),
    )
    assert.equal(e.code, 'torrent-unsupported')
    const ok = torrent(
      { name, 'name.utf-8': name, files: [{ length: 1000, path: [file], 'path.utf-8': [file] }] },
      1000,
      32 * 1024,
    )
    await checkEngineView(ok, parseTorrent(ok, LIMITS))
  })
})
