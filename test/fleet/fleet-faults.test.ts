/**
 * Faults against a real transmission-daemon: killed (SIGKILL) and restarted in the middle of
 * an apply's pushes, and a daemon refusing our credentials. Never a crash, never a duplicate,
 * never a lost placement, never a password in what is shown.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { openDatabase } from '../../src/db/index.js'
import { Fleet, FleetStore, seedboxPasswordEnv } from '../../src/fleet/index.js'
import { requireTool, runCli, tempDir, waitFor } from '../helpers.js'
import { infoHashOf, makeRelease, makeTorrent, startTransmission } from '../engines/fixtures.js'
import { fleetConfig, insertTorrent } from './support.js'

test(
  'a seedbox killed and restarted in the middle of a push: each torrent ends up there exactly once',
  { timeout: 120_000 },
  async (t) => {
    if (!requireTool(t, 'transmission-daemon')) return
    const dir = tempDir(t)
    const daemon = await startTransmission(t, join(dir, 'box'))
    const db = openDatabase(join(dir, 'aacseed.db'))
    t.after(() => db.close())
    mkdirSync(join(dir, 'torrents'))
    const hashes: string[] = []
    for (let i = 0; i < 12; i++) {
      // The data stays here: the seedbox has none and waits for peers (there are none), which is all this
      // test needs.
      const release = makeRelease(join(dir, 'local'), [50_000 + i])
      const torrent = makeTorrent(release, { announce: 'http://127.0.0.1:1/announce' })
      const torrentPath = join(dir, 'torrents', `${release.name}.torrent`)
      writeFileSync(torrentPath, torrent)
      const infohash = infoHashOf(torrent)
      insertTorrent(db, { name: release.name, infohash, torrentPath, size: 50_000 + i, root: release.root })
      hashes.push(infohash)
    }
    const config = fleetConfig(
      join(dir, 'aacseed.db'),
      [{ name: 'box', url: daemon.url, path: daemon.downloadDir, timeout_ms: 2000 }],
      { replicas: 1 },
    )
    const fleet = new Fleet(config, db, {
      env: {},
      client: { retry: { attempts: 8, baseDelayMs: 200, maxDelayMs: 1000 } },
    })
    const count = async () =>
      (
        (
          await daemon
            .rpc('torrent-get', { fields: ['hashString'] })
            .catch(() => ({ arguments: { torrents: [] } }))
        ).arguments.torrents as unknown[]
      ).length

    const applying = fleet.apply()
    await waitFor('a few pushes to land', async () => (await count()) >= 3, 30_000, 20)
    await daemon.kill('SIGKILL')
    await new Promise((r) => setTimeout(r, 400))
    await daemon.start()
    const first = await applying
    // The push in flight was retried across the restart (or left to the next apply); nothing failed for good.
    assert.equal(
      first.added + first.duplicate + first.deferred + first.failed.length,
      12,
      JSON.stringify(first),
    )

    const second = await fleet.apply()
    assert.equal(second.failed.length, 0, JSON.stringify(second.failed))
    const third = await fleet.apply()
    assert.deepEqual(
      [third.added, third.duplicate, third.failed.length],
      [0, 0, 0],
      'a settled fleet pushes nothing',
    )
    const raw = await daemon.rpc('torrent-get', { fields: ['hashString', 'downloadDir', 'status'] })
    const torrents = raw.arguments.torrents as Array<{
      hashString: string
      downloadDir: string
      status: number
    }>
    assert.deepEqual(
      torrents.map((x) => x.hashString).sort(),
      [...hashes].sort(),
      'every placement there, each once',
    )
    assert.ok(
      torrents.every((x) => x.downloadDir === daemon.downloadDir),
      'into the seedbox path, also those reloaded after the SIGKILL',
    )
    assert.ok(
      torrents.every((x) => x.status !== 0),
      `none left paused: ${JSON.stringify(torrents.map((x) => x.status))}; third apply ${JSON.stringify(third)}`,
    )
    await fleet.poll()
    assert.equal(new FleetStore(db).copies().length, 12)
  },
)

test(
  'wrong credentials on a real daemon: reported as engine-auth, the rest of the fleet carries on, no password shown',
  { timeout: 60_000 },
  async (t) => {
    if (!requireTool(t, 'transmission-daemon')) return
    const dir = tempDir(t)
    const pass = 'R1ght-Seedbox-Pass'
    const wrong = 'Wr0ng-Seedbox-Pass'
    const locked = await startTransmission(t, join(dir, 'locked'), { auth: { user: 'aacseed', pass } })
    const open = await startTransmission(t, join(dir, 'open'))
    const dbPath = join(dir, 'aacseed.db')
    writeFileSync(
      join(dir, 'aacseed.toml'),
      `[catalog]\ndatabase = "${dbPath}"\n[fleet]\n` +
        `[[fleet.seedboxes]]\nname = "locked"\nurl = "${locked.url}"\nusername = "aacseed"\npath = "${locked.downloadDir}"\nreserve_bytes = 0\n` +
        `[[fleet.seedboxes]]\nname = "open"\nurl = "${open.url}"\npath = "${open.downloadDir}"\nreserve_bytes = 0\n`,
    )
    const env = { [seedboxPasswordEnv('locked')]: wrong }
    const apply = await runCli(['fleet', 'apply', '--config', join(dir, 'aacseed.toml')], { env })
    assert.equal(apply.code, 0, apply.stderr + apply.stdout)
    assert.match(apply.stdout, /polled 1\/2/)
    assert.match(apply.stdout, /locked: engine-auth: .*401/)
    const status = await runCli(['fleet', 'status', '--json', '--config', join(dir, 'aacseed.toml')], { env })
    const s = JSON.parse(status.stdout) as {
      seedboxes: Array<{ name: string; status: string; error: { code: string } | null }>
    }
    assert.deepEqual(
      s.seedboxes.map((b) => [b.name, b.status, b.error?.code ?? null]),
      [
        ['locked', 'unknown', 'engine-auth'],
        ['open', 'up', null],
      ],
    )
    const everything = apply.stdout + apply.stderr + status.stdout + status.stderr
    assert.ok(!everything.includes(wrong) && !everything.includes(pass), 'no password in output')

    // The right password, from the systemd credential `seedbox-locked`.
    const creds = join(dir, 'creds')
    mkdirSync(creds)
    writeFileSync(join(creds, 'seedbox-locked'), pass)
    const fixed = await runCli(
      ['fleet', 'status', '--poll', '--json', '--config', join(dir, 'aacseed.toml')],
      { env: { CREDENTIALS_DIRECTORY: creds } },
    )
    assert.deepEqual(
      (JSON.parse(fixed.stdout) as typeof s).seedboxes.map((b) => b.status),
      ['up', 'up'],
    )
  },
)
