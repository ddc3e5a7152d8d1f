/** The pure health rules: seedbox status and grace, copy states from Transmission's numbers, torrent verdicts. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  copyState,
  countHealth,
  holdsPlacements,
  seedboxStatus,
  torrentHealth,
  type CopyInput,
} from '../../src/fleet/health.js'

const at = (s: number) => new Date(Date.parse('2026-11-24T10:00:00Z') + s * 1000)
const iso = (s: number) => at(s).toISOString()

test('seedbox status: up, failing within the grace period, down after it, unknown when never seen', () => {
  const grace = 300_000
  assert.equal(seedboxStatus({ lastSeenAt: iso(0), failingSince: null }, at(10), grace), 'up')
  assert.equal(seedboxStatus({ lastSeenAt: iso(0), failingSince: iso(60) }, at(359), grace), 'failing')
  assert.equal(seedboxStatus({ lastSeenAt: iso(0), failingSince: iso(60) }, at(360), grace), 'down')
  assert.equal(seedboxStatus({ lastSeenAt: null, failingSince: null }, at(0), grace), 'unknown')
  assert.equal(seedboxStatus({ lastSeenAt: null, failingSince: iso(0) }, at(10), grace), 'unknown')
  assert.equal(seedboxStatus({ lastSeenAt: null, failingSince: iso(0) }, at(300), grace), 'down')
  assert.deepEqual((['up', 'failing', 'down', 'unknown'] as const).map(holdsPlacements), [
    true,
    true,
    false,
    false,
  ])
})

test('copy state from Transmission status, percentDone and error (3.00 and 4.x share the numbers)', () => {
  assert.equal(copyState(6, 1, 0), 'complete')
  assert.equal(copyState(5, 1, 0), 'complete', 'queued to seed')
  assert.equal(copyState(6, 1, 1), 'complete', 'a tracker warning does not stop serving')
  assert.equal(copyState(6, 1, 3), 'error', 'a local error (missing data) does')
  assert.equal(copyState(4, 0.4, 0), 'downloading')
  assert.equal(copyState(3, 0, 0), 'downloading')
  assert.equal(copyState(2, 0.2, 0), 'checking')
  assert.equal(copyState(1, 0, 0), 'checking')
  assert.equal(copyState(0, 1, 0), 'stopped')
  assert.equal(copyState(42, 1, 0), 'error', 'an unknown status is not healthy')
})

test('torrent health: ok at N complete copies, degraded below, lost at none; down seedboxes and the local engine', () => {
  const c = (
    seedbox: string,
    infohash: string,
    state: CopyInput['state'],
    error = 0,
    errorString = '',
  ): CopyInput => ({ seedbox, infohash, state, error, errorString })
  const copies = [
    c('a', 'h1', 'complete'),
    c('b', 'h1', 'complete'),
    c('a', 'h2', 'complete'),
    c('b', 'h2', 'downloading'),
    c('c', 'h2', 'complete'),
    c('a', 'h3', 'error', 3, 'No data found!'),
    c('b', 'h3', 'complete', 2, 'Tracker gave HTTP response code 404'),
  ]
  const torrents = ['h1', 'h2', 'h3', 'h4'].map((h) => ({ infohash: h, name: h, target: 2 }))
  const r = torrentHealth(torrents, copies, new Set(['a', 'b']), null)
  assert.deepEqual(
    r.map((x) => [x.infohash, x.complete, x.downloading, x.health]),
    [
      ['h1', 2, 0, 'ok'],
      ['h2', 1, 1, 'degraded'],
      ['h3', 1, 0, 'degraded'],
      ['h4', 0, 0, 'lost'],
    ],
  )
  assert.deepEqual(r[2]!.errors, [
    { seedbox: 'a', kind: 'local', message: 'No data found!' },
    { seedbox: 'b', kind: 'tracker', message: 'Tracker gave HTTP response code 404' },
  ])
  assert.deepEqual(countHealth(r), { ok: 1, degraded: 2, lost: 1 })
  const withLocal = torrentHealth(torrents, copies, new Set(['a', 'b']), new Set(['h2', 'h4']))
  assert.deepEqual(
    withLocal.map((x) => x.health),
    ['ok', 'ok', 'degraded', 'degraded'],
  )
  assert.equal(withLocal[1]!.local, true)
})
