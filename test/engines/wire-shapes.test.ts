/**
 * The fleet benchmark's FAKE daemons (test/support/fake-daemons.ts) answer in each kind's real
 * wire format: their poll answers (version, every torrent, free space) have the same keys and
 * types as the real daemons' answers the contract suite recorded in test/fixtures/wire/<kind>.json,
 * and aacseed's clients read the values the fakes were given.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createRemoteEngine, REMOTE_KINDS, type WireCall } from '../../src/engines/index.js'
import { fakeSeedbox } from '../support/fake-daemons.js'
import { readWireFixture, shapeDiff, shapeOf } from '../support/wire-shape.js'

const HASH = 'c4dbf8de780279d13c69c761cede25b0222d18b2'

for (const kind of REMOTE_KINDS) {
  test(`FAKE ${kind}: the poll answers have the shape of the real daemon's (test/fixtures/wire/${kind}.json)`, async (t) => {
    const fake = fakeSeedbox(kind, { freeBytes: 5e11 })
    fake.put({
      hash: HASH,
      name: 'release-1',
      size: 2_065_537,
      uploaded: 4_000_000,
      peers: 2,
      seeders: 3,
      leechers: 1,
    })
    await fake.listen()
    t.after(() => fake.close())
    const answers: Partial<Record<WireCall, unknown>> = {}
    const engine = createRemoteEngine(
      kind,
      {
        url: fake.url,
        username: fake.username,
        password: fake.password,
        pathMap: {},
        labels: ['aacseed'],
        timeoutMs: 5000,
      },
      { wireTap: (call, answer) => (answers[call] = answer), retry: { attempts: 1 } },
    )
    t.after(() => engine.close())
    const info = await engine.info()
    const [copy] = await engine.list()
    const free = await engine.freeSpace('/downloads')
    const recorded = readWireFixture(kind)
    for (const call of ['info', 'list', 'freeSpace'] as const)
      assert.deepEqual(shapeDiff(recorded.shapes[call], shapeOf(answers[call])), [], `${kind} ${call}`)
    assert.ok(info.version.length > 0)
    assert.deepEqual(
      {
        infoHash: copy?.infoHash,
        state: copy?.state,
        progress: copy?.progress,
        bytes: copy?.bytesPresent,
        uploaded: copy?.uploaded,
      },
      { infoHash: HASH, state: 'seeding', progress: 1, bytes: 2_065_537, uploaded: 4_000_000 },
    )
    // rTorrent's free space comes from `df -k`: whole KiB.
    assert.ok(Math.abs(free - 5e11) < 1024, String(free))
  })
}
