import assert from 'node:assert/strict'
import { test } from 'node:test'
import { magnetLink, TorrentError } from '../../src/torrents/index.js'

const HASH = '0123456789ABCDEF0123456789abcdef01234567'

test('a magnet link with the infohash, name and trackers, every reserved character escaped', () => {
  const name =
    "annas_archive_meta__aacid__zlib3_records__20230808T014342Z--20230808T023702Z.jsonl.zst & más #1 (draft)+!'*"
  const trackers = [
    'udp://tracker.example:1337/announce',
    'http://t.example/announce?passkey=a&b=c',
    'udp://tracker.example:1337/announce',
  ]
  const link = magnetLink({ infoHash: HASH, name, trackers })
  assert.ok(link.startsWith('magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn='))
  // RFC 3986 unreserved characters only, besides the separators we put there ourselves.
  assert.match(link.slice('magnet:?'.length), /^(?:[A-Za-z0-9\-._~%]+=[A-Za-z0-9\-._~%:]+&?)+$/)
  assert.ok(!/[!'()*+ #]/.test(link.slice(8)))
  const params = new URLSearchParams(link.slice('magnet:?'.length))
  assert.equal(params.get('dn'), name)
  assert.deepEqual(params.getAll('tr'), trackers.slice(0, 2))
})

test('refuses something that is not an infohash', () => {
  for (const bad of ['', 'xyz', HASH.slice(1), `${HASH}0`, 'g'.repeat(40)]) {
    assert.throws(
      () => magnetLink({ infoHash: bad, name: 'n', trackers: [] }),
      (e: unknown) => e instanceof TorrentError && e.code === 'invalid-infohash',
    )
  }
  assert.equal(
    magnetLink({ infoHash: HASH, name: 'n', trackers: [] }),
    'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=n',
  )
})
