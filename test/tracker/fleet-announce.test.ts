/**
 * A private fleet whose seedboxes announce to the coordinator (issue #11 §7): with `[tracker]
 * enabled` and no `torrents.announce`, the torrents aacseed makes announce to its embedded
 * tracker at `tracker.announce_host`, and a real seedbox (transmission-daemon 3.00) given them
 * by `aacseed fleet apply` announces each one to `serve`'s tracker, which logs it (at debug).
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import parseTorrent from 'parse-torrent'
import { writeSampleRelease } from '../../src/catalog/sample.js'
import {
  configSchema,
  loadConfig,
  trackerAnnounceTiers,
  withTrackerAnnounce,
} from '../../src/config/index.js'
import { startTransmission } from '../engines/fixtures.js'
import { freePort, requireTool, runCliProcess, spawnCli, tempDir, waitFor } from '../helpers.js'

test('the embedded tracker is what the torrents announce to, at tracker.announce_host', () => {
  const parse = (toml: object) => withTrackerAnnounce(configSchema.parse(toml))
  // Off: nothing changes.
  assert.deepEqual(parse({}).torrents.announce, [])
  // On, at the address seedboxes reach the coordinator at; HTTP first, then UDP.
  assert.deepEqual(
    parse({ tracker: { enabled: true, host: '0.0.0.0', port: 7000, announce_host: 'coord.example.org' } })
      .torrents.announce,
    [['http://coord.example.org:7000/announce'], ['udp://coord.example.org:7000']],
  )
  // Without announce_host: the listening host, or loopback for every address; IPv6 in brackets.
  assert.deepEqual(trackerAnnounceTiers(configSchema.parse({ tracker: { host: '0.0.0.0' } }).tracker), [
    ['http://127.0.0.1:6969/announce'],
    ['udp://127.0.0.1:6969'],
  ])
  assert.deepEqual(
    trackerAnnounceTiers(configSchema.parse({ tracker: { host: '::1', udp: false } }).tracker),
    [['http://[::1]:6969/announce']],
  )
  // torrents.announce set by the operator wins.
  assert.deepEqual(
    parse({
      tracker: { enabled: true },
      torrents: { announce: [['http://tracker.example.org/announce']] },
    }).torrents.announce,
    [['http://tracker.example.org/announce']],
  )
  // A URL is not a host.
  assert.throws(() => configSchema.parse({ tracker: { announce_host: 'http://coord/' } }))
})

test(
  "a seedbox given the fleet's torrents announces each one to serve's embedded tracker",
  { timeout: 300_000 },
  async (t) => {
    if (!requireTool(t, 'transmission-daemon')) return
    const dir = tempDir(t)
    const box = await startTransmission(t, join(dir, 'box'))
    // The coordinator catalogs the seedbox's own download folder: the seedbox verifies the data
    // it holds and seeds at once, without a download (Transmission 3.00 dials no loopback peer).
    writeSampleRelease({ root: box.downloadDir })
    const releases = readdirSync(box.downloadDir)
    const trackerPort = await freePort()
    const configPath = join(dir, 'aacseed.toml')
    writeFileSync(
      configPath,
      [
        '[catalog]',
        `roots = [${JSON.stringify(box.downloadDir)}]`,
        'database = "aacseed.db"',
        '[torrents]',
        'out_dir = "torrents"',
        'list_path = "torrents.json"',
        '[tracker]',
        'enabled = true',
        'host = "127.0.0.1"',
        `port = ${trackerPort}`,
        'udp = false',
        'announce_host = "127.0.0.1"',
        '[engine.webtorrent]',
        'port = 0',
        'dht = false',
        'lsd = false',
        '[http]',
        'enabled = false',
        '[fleet]',
        'replicas = 1',
        '[[fleet.seedboxes]]',
        'name = "box"',
        `url = ${JSON.stringify(box.url)}`,
        `path = ${JSON.stringify(box.downloadDir)}`,
        'reserve_bytes = 0',
        'timeout_ms = 10000',
        '[log]',
        'level = "debug"',
        '',
      ].join('\n'),
    )
    const announce = `http://127.0.0.1:${trackerPort}/announce`
    assert.deepEqual(loadConfig({ path: configPath, env: {} }).torrents.announce, [[announce]])

    const serve = spawnCli(['serve', '--config', configPath])
    let log = ''
    serve.stdout!.on('data', (d: Buffer) => (log += d.toString()))
    serve.stderr!.on('data', (d: Buffer) => (log += d.toString()))
    t.after(async () => {
      if (serve.exitCode !== null || serve.signalCode !== null) return
      const exited = once(serve, 'exit')
      serve.kill('SIGINT')
      await exited
    })

    // serve makes the torrents; each names its tracker.
    const listPath = join(dir, 'torrents.json')
    const list = await waitFor(
      'serve to make and publish every torrent',
      () => {
        if (serve.exitCode !== null) throw new Error(`serve exited ${serve.exitCode}:\n${log}`)
        if (!existsSync(listPath)) return undefined
        const entries = JSON.parse(readFileSync(listPath, 'utf8')) as { display_name: string; btih: string }[]
        return entries.length === releases.length ? entries : undefined
      },
      180_000,
      250,
    )
    for (const e of list) {
      const torrent = await parseTorrent(readFileSync(join(dir, 'torrents', e.display_name)))
      assert.deepEqual(torrent.announce, [announce], e.display_name)
    }

    // The fleet gives them to the seedbox, from the CLI beside serve.
    const apply = runCliProcess(['fleet', 'apply', '--config', configPath])
    assert.equal(apply.code, 0, `${apply.stdout}\n${apply.stderr}`)

    // serve's tracker hears the seedbox (its peer port) announce every torrent.
    const peer = `127.0.0.1:${box.peerPort}`
    const heard = await waitFor(
      `every torrent announced by the seedbox (${peer}) to serve's tracker`,
      () => {
        const seen = new Set<string>()
        for (const line of log.split('\n')) {
          if (!line.startsWith('{')) continue
          const l = JSON.parse(line) as { area?: string; peer?: string; info_hash?: string }
          if (l.area === 'tracker' && l.peer === peer && l.info_hash) seen.add(l.info_hash)
        }
        return list.every((e) => seen.has(e.btih)) ? seen : undefined
      },
      120_000,
      500,
    )
    t.diagnostic(`serve's tracker heard the seedbox announce ${heard.size} torrents`)
  },
)
