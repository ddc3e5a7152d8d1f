/**
 * Leases across processes on one database: taken atomically, named holder, expiry when the
 * holder dies (same host, dead pid) or stops beating (heartbeat too old), released only by its
 * holder; and the job runner recording a run as skipped when another process holds its lease.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { openDatabase } from '../../src/db/index.js'
import { JobRunner } from '../../src/jobs/index.js'
import { JobRuns } from '../../src/jobs/runs.js'
import { Lease, LeaseHeldError, Leases, TTL_MS } from '../../src/jobs/leases.js'
import { createLogger } from '../../src/log/index.js'
import { REPO_ROOT, tempDir, waitFor } from '../helpers.js'

const silent = createLogger({ level: 'silent' })

describe('leases', () => {
  test('one holder at a time; the message names it; released only by its holder', (t) => {
    const db = openDatabase(join(tempDir(t), 'l.db'))
    t.after(() => db.close())
    const now = () => new Date('2026-12-04T12:03:30Z')
    const serve = new Leases(db, { holder: 'serve', pid: 4242, host: 'here', now, alive: () => true })
    const cli = new Leases(db, { holder: 'cli', pid: 5151, host: 'here', now, alive: () => true })
    const lease = serve.acquire('catalog', 'scan')
    assert.ok(lease instanceof Lease)
    const held = cli.tryAcquire('catalog', 'torrents make')
    assert.ok(!(held instanceof Lease))
    assert.equal(held.pid, 4242)
    assert.throws(
      () => cli.acquire('catalog', 'torrents make'),
      (e: unknown) =>
        e instanceof LeaseHeldError &&
        e.code === 'lease-held' &&
        e.message === 'scan is running in serve (pid 4242 on here) since 12:03 UTC; wait, or stop serve',
    )
    // Another lease name is free.
    const other = cli.acquire('fleet_apply', 'fleet apply')
    // Only the acquirer's token releases or renews.
    assert.equal(cli.renew('catalog', 'not-the-token'), false)
    cli.drop('catalog', 'not-the-token')
    assert.equal(cli.holderOf('catalog')?.pid, 4242)
    lease.release()
    assert.equal(cli.holderOf('catalog'), undefined)
    assert.ok(cli.acquire('catalog', 'torrents make') instanceof Lease)
    other.release()
  })

  test('expired when the holder is gone: same host and a dead pid, or a heartbeat older than the TTL', (t) => {
    const db = openDatabase(join(tempDir(t), 'l.db'))
    t.after(() => db.close())
    let clock = Date.parse('2026-12-04T12:00:00Z')
    const now = () => new Date(clock)
    let alive = true
    const a = new Leases(db, {
      holder: 'serve',
      pid: 100,
      host: 'h1',
      now,
      alive: () => alive,
      heartbeatMs: 0,
    })
    const sameHost = new Leases(db, { holder: 'cli', pid: 200, host: 'h1', now, alive: () => alive })
    const otherHost = new Leases(db, { holder: 'cli', pid: 300, host: 'h2', now, alive: () => false })
    const lease = a.acquire('scan', 'scan')
    // Another host cannot see the pid: only the heartbeat counts there.
    assert.ok(!(otherHost.tryAcquire('scan', 'scan') instanceof Lease))
    clock += TTL_MS - 1000
    assert.equal(lease.heartbeat(), true)
    clock += TTL_MS - 1000
    assert.ok(!(otherHost.tryAcquire('scan', 'scan') instanceof Lease), 'renewed in time')
    clock += 2000
    // The holder stopped beating past the TTL: taken over; the old holder learns it lost it.
    const taken = otherHost.tryAcquire('scan', 'scan')
    assert.ok(taken instanceof Lease)
    assert.equal(lease.heartbeat(), false)
    taken.release()
    // Same host, dead pid: expired at once, however fresh the heartbeat.
    a.acquire('scan', 'scan')
    assert.ok(!(sameHost.tryAcquire('scan', 'scan') instanceof Lease))
    alive = false
    assert.ok(sameHost.tryAcquire('scan', 'scan') instanceof Lease)
  })

  test('taken atomically: of 6 processes racing for one lease, exactly one wins', async (t) => {
    const dir = tempDir(t)
    const path = join(dir, 'race.db')
    openDatabase(path).close()
    // Each holds what it got until every one has tried (the parent closes their stdin then):
    // a winner that exited early would rightly lose its lease to a latecomer.
    const script = `
      const { openDatabase } = await import(${JSON.stringify(join(REPO_ROOT, 'dist/src/db/index.js'))})
      const { Leases, Lease } = await import(${JSON.stringify(join(REPO_ROOT, 'dist/src/jobs/leases.js'))})
      const db = openDatabase(process.argv[1])
      process.stdin.once('data', () => {
        const got = new Leases(db, { holder: 'cli' }).tryAcquire('catalog', 'scan')
        process.stdout.write(got instanceof Lease ? 'won' : 'held:' + got.pid)
      })
      process.stdin.once('end', () => process.exit(0))
      process.stdout.write('ready;')
    `
    const children = Array.from({ length: 6 }, () => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', script, path])
      let out = ''
      p.stdout.on('data', (d: Buffer) => (out += d.toString()))
      p.stderr.on('data', (d: Buffer) => (out += d.toString()))
      const closed = new Promise<void>((res) => p.on('close', () => res()))
      return { p, out: () => out, closed }
    })
    t.after(() => children.forEach((c) => c.p.kill()))
    await waitFor('all ready', () => children.every((c) => c.out().startsWith('ready;')), 60_000, 50)
    // Go, all at once.
    for (const c of children) c.p.stdin.write('go\n')
    await waitFor('all tried', () => children.every((c) => /ready;(won|held:\d+)$/.test(c.out())), 60_000, 50)
    const results = children.map((c) => c.out().slice('ready;'.length))
    for (const c of children) c.p.stdin.end()
    await Promise.all(children.map((c) => c.closed))
    assert.equal(results.filter((r) => r === 'won').length, 1, results.join(' | '))
    assert.equal(results.filter((r) => r.startsWith('held:')).length, 5, results.join(' | '))
  })

  test('the job runner skips a run whose lease another process holds, and names the holder', async (t) => {
    const db = openDatabase(join(tempDir(t), 'l.db'))
    t.after(() => db.close())
    const other = new Leases(db, { holder: 'cli', pid: 777, host: 'elsewhere' })
    const leases = new Leases(db, { holder: 'serve' })
    let ran = 0
    const runner = new JobRunner({
      db,
      logger: silent,
      leases,
      jobs: [
        {
          name: 'scan',
          schedule: '0 0 1 1 *',
          run: () => {
            ran++
            return Promise.resolve({})
          },
        },
        {
          name: 'make_torrents',
          schedule: '0 0 1 1 *',
          // A job that needs another lease (the catalog) while someone else holds it.
          run: () => leases.with(['catalog'], 'make_torrents', () => Promise.resolve({ made: 1 })),
        },
      ],
    })
    const held = other.acquire('scan', 'scan')
    const skipped = await runner.runNow('scan')
    assert.equal(skipped.outcome, 'skipped')
    assert.match(
      skipped.error ?? '',
      /^scan is running in aacseed \(pid 777 on elsewhere\) since .* UTC; wait, or stop it$/,
    )
    assert.equal(ran, 0)
    held.release()
    const ok = await runner.runNow('scan')
    assert.equal(ok.outcome, 'ok')
    assert.equal(ran, 1)
    // The runner released the job's lease when the run ended.
    assert.equal(leases.holderOf('scan'), undefined)

    const catalog = other.acquire('catalog', 'torrents make')
    const blocked = await runner.runNow('make_torrents')
    assert.equal(blocked.outcome, 'skipped')
    assert.match(blocked.error ?? '', /torrents make is running in aacseed \(pid 777/)
    catalog.release()
    assert.equal((await runner.runNow('make_torrents')).outcome, 'ok')
  })

  test("serve's start-up leaves the running runs of another live process alone", async (t) => {
    const db = openDatabase(join(tempDir(t), 'l.db'))
    t.after(() => db.close())
    const other = new Leases(db, { holder: 'cli', pid: 777, host: 'elsewhere' })
    const runs = new JobRuns(db)
    const live = runs.start('scan', 'manual', new Date())
    const dead = runs.start('scrape', 'manual', new Date())
    const held = other.acquire('scan', 'scan')
    const job = (name: string) => ({ name, schedule: '0 0 1 1 *', run: () => Promise.resolve({}) })
    const runner = new JobRunner({
      db,
      logger: silent,
      leases: new Leases(db, { holder: 'serve' }),
      jobs: [job('scan'), job('scrape')],
    })
    runner.start()
    t.after(() => runner.stop())
    assert.equal(runs.get(live)!.outcome, 'running')
    assert.equal(runs.get(dead)!.outcome, 'interrupted')
    held.release()
  })
})
