/**
 * The pure health rules: seedbox status and grace, torrent verdicts (Transmission's numbers:
 * test/engines/engine-units.test.ts).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
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

test('torrent health: ok at N seeding copies, degraded below, lost at none; down seedboxes and the local engine', () => {
  const c = (
    seedbox: string,
    infohash: string,
    state: CopyInput['state'],
    error = 0,
    errorString = '',
  ): CopyInput => ({ seedbox, infohash, state, error, errorString, lastSeedingAt: null })
  const copies = [
    c('a', 'h1', 'seeding'),
    c('b', 'h1', 'seeding'),
    c('a', 'h2', 'seeding'),
    c('b', 'h2', 'downloading'),
    c('c', 'h2', 'seeding'),
    c('a', 'h3', 'error', 3, 'No data found!'),
    c('b', 'h3', 'seeding', 2, 'Tracker gave HTTP response code 404'),
    c('gone', 'h4', 'seeding'),
  ]
  const torrents = ['h1', 'h2', 'h3', 'h4'].map((h) => ({
    infohash: h,
    name: h,
    kind: 'data' as const,
    collection: 'x',
    target: 2,
  }))
  const seedboxes = [
    { name: 'a', status: 'up' as const, lastSeenAt: iso(0) },
    { name: 'b', status: 'failing' as const, lastSeenAt: iso(0) },
    { name: 'c', status: 'down' as const, lastSeenAt: iso(0) },
  ]
  const base = {
    torrents,
    seedboxes,
    copies,
    local: new Map(),
    countLocalEngine: false,
    swarm: new Map(),
    now: at(0),
  }
  const r = torrentHealth(base)
  assert.deepEqual(
    r.map((x) => [x.infohash, x.complete, x.downloading, x.health]),
    [
      ['h1', 2, 0, 'ok'],
      ['h2', 1, 1, 'degraded'],
      ['h3', 1, 0, 'degraded'],
      ['h4', 0, 0, 'lost'],
    ],
  )
  assert.deepEqual(
    r[1]!.copies.map((x) => [x.holder, x.state, x.counted]),
    [
      ['a', 'seeding', true],
      ['b', 'downloading', false],
      ['c', 'seeding', false],
    ],
    'a copy on a down seedbox is shown, not counted; one on an unconfigured seedbox is not shown',
  )
  assert.deepEqual(r[2]!.errors, [
    { seedbox: 'a', kind: 'local', message: 'No data found!' },
    { seedbox: 'b', kind: 'tracker', message: 'Tracker gave HTTP response code 404' },
  ])
  assert.deepEqual(countHealth(r), { ok: 1, degraded: 2, lost: 1 })
  const local = new Map([
    ['h2', { state: 'seeding' as const, error: null, lastSeedingAt: iso(0) }],
    ['h4', { state: 'seeding' as const, error: null, lastSeedingAt: iso(0) }],
  ])
  const withLocal = torrentHealth({ ...base, local, countLocalEngine: true })
  assert.deepEqual(
    withLocal.map((x) => x.health),
    ['ok', 'ok', 'degraded', 'degraded'],
  )
  assert.equal(withLocal[1]!.local, true)
  const notCounted = torrentHealth({ ...base, local })
  assert.deepEqual(
    notCounted.map((x) => x.health),
    ['ok', 'degraded', 'degraded', 'lost'],
    'count_local_engine off: the local copy is shown but does not count',
  )
  assert.equal(notCounted[3]!.copies[0]!.holder, 'local')
  assert.equal(notCounted[3]!.currentlySeeding, true, 'seen seeding here: aa_currently_seeding either way')
  const alone = torrentHealth({ ...base, seedboxes: [], local })
  assert.deepEqual(
    alone.map((x) => [x.complete, x.health]),
    [
      [0, 'lost'],
      [1, 'degraded'],
      [0, 'lost'],
      [1, 'degraded'],
    ],
    'no seedbox configured: the local engine is the one place a copy can be, and counts',
  )
})
