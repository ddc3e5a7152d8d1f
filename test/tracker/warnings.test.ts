/**
 * The embedded tracker's warnings are about requests, which anyone who reaches it can send: a
 * flood of bad announces must not become a flood of journal lines (src/log/bounded.ts).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startTracker } from '../../src/tracker/index.js'
import { freePort } from '../helpers.js'

test('200 bad announces to the embedded tracker log at most 10 warnings and one line for the rest', async () => {
  const lines: Array<{ fields: Record<string, unknown>; msg: string }> = []
  const port = await freePort()
  const tracker = await startTracker(
    { enabled: true, host: '127.0.0.1', port, udp: false, announce_host: '' },
    { warn: (fields, msg) => lines.push({ fields: fields as Record<string, unknown>, msg }) },
    // A window longer than the test: closing the tracker writes the count.
    { lines: 10, windowMs: 600_000 },
  )
  try {
    for (let i = 0; i < 200; i++) {
      // No info_hash: bittorrent-tracker answers a failure reason and emits a warning.
      const res = await fetch(`http://127.0.0.1:${port}/announce?peer_id=x&port=1`)
      assert.match(await res.text(), /failure reason/)
    }
    assert.equal(lines.length, 10)
  } finally {
    await tracker.close()
  }
  assert.equal(lines.filter((l) => l.msg === 'tracker warning').length, 10)
  assert.equal(lines.length, 11, JSON.stringify(lines.map((l) => l.msg)))
  assert.equal(lines.at(-1)!.fields.more, 190)
  assert.match(lines.at(-1)!.msg, /^tracker warnings: 190 more in 600 s, the latest: tracker warning: /)
})
