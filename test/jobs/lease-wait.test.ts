/**
 * Waiting for a lease (`--wait`), and the commands that hold one (issue #11 §3): every CLI
 * command that takes a lease exits 2 naming the holder, or with `--wait` polls until the holder
 * ends (bounded by `--wait-timeout`). `plan --apply`, `fleet plan` and `fleet status --poll`
 * write what a job acts on, so they hold that job's lease too.
 *
 * The holder is "another process" on this host: a Leases with a live pid that is not ours.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { writeSampleRelease } from '../../src/catalog/sample.js'
import { openDatabase } from '../../src/db/index.js'
import { Lease, LeaseHeldError, Leases } from '../../src/jobs/leases.js'
import { runCli, tempDir } from '../helpers.js'
import { buildUpstream } from '../mirror/fixtures.js'

/** Another live process on this host, as far as a lease can tell. */
const OTHER = { holder: 'serve' as const, pid: process.ppid, heartbeatMs: 0 }

describe('waiting for a lease', () => {
  test('take waits until the holder releases, says whom it waits for once, and gives up at the bound', async (t) => {
    const db = openDatabase(join(tempDir(t), 'aacseed.db'))
    t.after(() => db.close())
    const held = new Leases(db, OTHER).acquire('scan', 'scan')
    const waitedFor: number[] = []
    const waiting = new Leases(db, {
      holder: 'cli',
      heartbeatMs: 0,
      wait: { timeoutMs: 60_000, maxPollMs: 100, onWait: (h) => waitedFor.push(h.pid) },
    })
    setTimeout(() => held.release(), 400)
    const started = Date.now()
    const lease = await waiting.take('scan', 'scan')
    assert.ok(lease instanceof Lease)
    assert.ok(Date.now() - started >= 350, 'it waited for the release')
    assert.deepEqual(waitedFor, [process.ppid])
    lease.release()

    // Bounded: held throughout, it gives up and names the holder, and says how long it waited:
    // at least the bound, at most as long as the call took (a busy machine wakes the last poll
    // late, so 300 ms can read as 1 s).
    new Leases(db, OTHER).acquire('scan', 'scan')
    const short = new Leases(db, { holder: 'cli', heartbeatMs: 0, wait: { timeoutMs: 300, maxPollMs: 100 } })
    const shortStarted = Date.now()
    const gaveUp = await short.take('scan', 'scan').then(
      () => assert.fail('it took a lease that stayed held'),
      (e: unknown) => e,
    )
    const shortMs = Date.now() - shortStarted
    assert.ok(gaveUp instanceof LeaseHeldError, String(gaveUp))
    const m =
      /^scan is running in serve \(pid \d+\) since .* UTC; wait, or stop serve; gave up after waiting (\d+) s/.exec(
        gaveUp.message,
      )
    assert.ok(m, gaveUp.message)
    assert.ok(shortMs >= 300, `it gave up after ${shortMs} ms, before the bound`)
    const saidS = Number(m[1])
    assert.ok(saidS <= Math.round(shortMs / 1000), `it says ${saidS} s for a wait of 300 ms to ${shortMs} ms`)
    // Without wait, at once, with the hint.
    await assert.rejects(new Leases(db, { holder: 'cli' }).take('scan', 'scan'), /\(or pass --wait\)$/)
  })
})

describe('CLI commands holding a lease: exit 2 naming the holder, or --wait', () => {
  test('scan, torrents make, run, fleet plan/apply/status --poll, plan --apply local|fleet, mirror sync', async (t) => {
    const dir = tempDir(t)
    const up = await buildUpstream(join(dir, 'up'))
    const m = join(dir, 'm')
    mkdirSync(join(m, 'releases'), { recursive: true })
    writeSampleRelease({ root: join(m, 'releases') })
    writeFileSync(
      join(m, 'aacseed.toml'),
      `[catalog]
roots = ["releases"]
database = "aacseed.db"
[engine.webtorrent]
port = 0
dht = false
lsd = false
[mirror]
reserve_bytes = 0
[[mirror.sources]]
name = "up"
list = ${JSON.stringify(up.listPath)}
[fleet]
# Nothing listens here: a poll fails at once (connection refused), which is all these commands need.
[[fleet.seedboxes]]
name = "box"
url = "http://127.0.0.1:9/transmission/rpc"
path = "/srv/box"
timeout_ms = 1000
`,
    )
    const env = { ...process.env, AACSEED_CONFIG: join(m, 'aacseed.toml') }
    const cli = (args: string[]) => runCli(args, { env, cwd: m })
    const sources = await cli(['mirror', 'sources'])
    assert.equal(sources.code, 0, sources.stderr)
    const db = openDatabase(join(m, 'aacseed.db'))
    t.after(() => db.close())
    const other = new Leases(db, OTHER)

    const cases: Array<{ args: string[]; lease: string; waitToo: boolean }> = [
      { args: ['scan'], lease: 'catalog', waitToo: true },
      { args: ['torrents', 'make'], lease: 'catalog', waitToo: true },
      { args: ['run', 'scan'], lease: 'scan', waitToo: true },
      { args: ['fleet', 'plan'], lease: 'fleet_poll', waitToo: true },
      { args: ['fleet', 'status', '--poll'], lease: 'fleet_poll', waitToo: true },
      { args: ['fleet', 'apply'], lease: 'fleet_apply', waitToo: true },
      { args: ['plan', '--budget', '1GB', '--apply', 'local'], lease: 'mirror_sync', waitToo: true },
      { args: ['plan', '--budget', '1GB', '--apply', 'fleet'], lease: 'fleet_apply', waitToo: true },
      // Waiting through would start the embedded engine and download: the refusal and the bound are enough.
      { args: ['mirror', 'sync'], lease: 'mirror_sync', waitToo: false },
    ]
    for (const c of cases) {
      const what = c.args.join(' ')
      const lease = other.acquire(c.lease, `job of ${c.lease}`)
      const refused = await cli(c.args)
      assert.equal(refused.code, 2, `${what}: ${refused.stdout}${refused.stderr}`)
      assert.match(
        refused.stderr,
        new RegExp(
          `job of ${c.lease} is running in serve \\(pid ${process.ppid}\\) since .*; wait, or stop serve`,
        ),
        what,
      )
      // The runner records a skipped run with the holder's name; the others say how to wait.
      if (c.args[0] !== 'run') assert.match(refused.stderr, /or pass --wait/, what)

      const boundedStarted = Date.now()
      const bounded = await cli([...c.args, '--wait', '--wait-timeout', '1'])
      const boundedMs = Date.now() - boundedStarted
      assert.equal(bounded.code, 2, `${what} --wait-timeout 1: ${bounded.stderr}`)
      assert.match(bounded.stderr, /waiting \(up to 1 s\): job of/, what)
      if (c.args[0] !== 'run') {
        // At least the bound, at most the whole run: a busy machine wakes the last poll late.
        const said = /gave up after waiting (\d+) s/.exec(bounded.stderr)
        assert.ok(said, `${what}: ${bounded.stderr}`)
        const s = Number(said[1])
        assert.ok(
          s >= 1 && s <= Math.round(boundedMs / 1000),
          `${what}: waited ${s} s in a ${boundedMs} ms run`,
        )
      }

      if (c.waitToo) {
        // The holder ends once the command says it waits (not after a fixed time: a slow start
        // would find the lease already free and never wait).
        const waited = await runCli([...c.args, '--wait'], {
          env,
          cwd: m,
          onStderr: (text) => {
            if (/waiting \(up to 3600 s\)/.test(text)) setImmediate(() => lease.release())
          },
        })
        assert.ok(
          waited.code === 0 || waited.code === 1,
          `${what} --wait exited ${waited.code}: ${waited.stderr}`,
        )
        assert.match(waited.stderr, /waiting \(up to 3600 s\)/, what)
        assert.doesNotMatch(waited.stderr, /gave up|or pass --wait/, what)
        assert.equal(other.holderOf(c.lease), undefined, `${what} released ${c.lease}`)
      }
      lease.release()
    }
    assert.match((await cli(['scan', '--wait-timeout', '5'])).stderr, /--wait-timeout needs --wait/)
  })
})
