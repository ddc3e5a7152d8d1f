/**
 * The outage rule every caller shares (src/log/outage.ts): one warning when something starts
 * failing, a reminder at most every period while it keeps failing, its end told when a warning
 * was, and at most one warning a period for a thing that flaps. The clock is the test's.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Outage, Outages } from '../../src/log/outage.js'

const MIN = 60_000
const HOUR = 60 * MIN

function clocked(): { outage: Outage; advance: (ms: number) => void } {
  let now = 1_700_000_000_000
  const outage = new Outage({ reminderMs: HOUR, now: () => now })
  return { outage, advance: (ms) => (now += ms) }
}

/** Fails once a minute for `minutes` and returns the warnings that were due, by minute. */
function failEveryMinute(
  o: { outage: Outage; advance: (ms: number) => void },
  minutes: number,
): Array<[number, string, number]> {
  const said: Array<[number, string, number]> = []
  for (let m = 0; m < minutes; m++) {
    o.outage.failed()
    const w = o.outage.warning()
    if (w) said.push([m, w.kind, w.downMs])
    o.advance(MIN)
  }
  return said
}

test('something that works has no outage: no warning is due, and its recovery is nothing', () => {
  const { outage } = clocked()
  assert.equal(outage.since, null)
  assert.equal(outage.warningDueAt(), null)
  assert.equal(outage.warning(), null)
  assert.equal(outage.recovered(), null)
})

test('failing every minute for three hours: one warning at once, then a reminder each hour with how long it has been down', () => {
  const o = clocked()
  const said = failEveryMinute(o, 181)
  assert.deepEqual(said, [
    [0, 'first', 0],
    [60, 'reminder', 60 * MIN],
    [120, 'reminder', 120 * MIN],
    [180, 'reminder', 180 * MIN],
  ])
  assert.equal(o.outage.warned, true)
})

test('a warning is counted once it is handed out: asking again at the same moment gives none', () => {
  const o = clocked()
  o.outage.failed()
  assert.equal(o.outage.warning()?.kind, 'first')
  assert.equal(o.outage.warning(), null)
  assert.equal(o.outage.warningDueAt(), o.outage.since! + HOUR)
})

test('the recovery says how long it was down and that a warning was written; the next failure is a new outage', () => {
  const o = clocked()
  failEveryMinute(o, 90)
  const since = o.outage.since!
  const end = o.outage.recovered()
  assert.deepEqual(end, { downMs: 90 * MIN, warned: true })
  assert.equal(o.outage.since, null)
  assert.equal(o.outage.warned, false)
  assert.equal(o.outage.recovered(), null, 'told once')
  o.advance(HOUR)
  o.outage.failed()
  assert.ok(o.outage.since! > since)
  assert.deepEqual(o.outage.warning(), { kind: 'first', downMs: 0 })
})

test('an outage asked about only later (TrackerLog waits to count its torrents) reports the time since its first failure', () => {
  const o = clocked()
  o.outage.failed()
  o.advance(5000)
  o.outage.failed()
  assert.deepEqual(o.outage.warning(), { kind: 'first', downMs: 5000 })
})

test('a thing that flaps warns at most once an hour: an outage that starts within the hour after a warning is not warned about until the hour is over, and its end is then not worth a line', () => {
  const o = clocked()
  o.outage.failed()
  assert.equal(o.outage.warning()?.kind, 'first')
  o.advance(MIN)
  assert.equal(o.outage.recovered()?.warned, true)
  // Down and up every other minute for 58 minutes: no warning, and the ends say none was written.
  for (let m = 2; m < 60; m += 2) {
    o.advance(MIN)
    o.outage.failed()
    assert.equal(o.outage.warning(), null, `minute ${m}`)
    o.advance(MIN)
    assert.deepEqual(o.outage.recovered(), { downMs: MIN, warned: false })
  }
  // Down again an hour after the last warning: its first warning is due at once.
  o.advance(MIN)
  o.outage.failed()
  const w = o.outage.warning()
  assert.deepEqual(w, { kind: 'first', downMs: 0 })
})

test('the first warning of an outage that starts within the hour after the last one is due when the hour is over, and reports the time since it started', () => {
  const o = clocked()
  o.outage.failed()
  const first = o.outage.since!
  o.outage.warning()
  o.advance(10 * MIN)
  o.outage.recovered()
  o.advance(10 * MIN)
  o.outage.failed()
  assert.equal(o.outage.warningDueAt(), first + HOUR)
  assert.deepEqual(failEveryMinute(o, 41), [[40, 'first', 40 * MIN]])
})

test('Outages: one outage per key, each on its own; a key never down has no end', () => {
  let now = 0
  const outages = new Outages({ reminderMs: HOUR, now: () => now })
  assert.equal(outages.recovered('a'), null)
  outages.of('a').failed()
  assert.equal(outages.of('a'), outages.of('a'))
  assert.equal(outages.of('a').warning()?.kind, 'first')
  assert.equal(outages.of('b').since, null)
  now += 5 * MIN
  assert.deepEqual(outages.recovered('a'), { downMs: 5 * MIN, warned: true })
  assert.equal(outages.recovered('a'), null)
  assert.equal(outages.recovered('b'), null)
})
