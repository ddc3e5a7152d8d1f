/**
 * The final judge of a torrent: a real client. transmission-daemon is given one of our
 * multi-file torrents next to the data and must verify every piece and start seeding.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { Server } from 'bittorrent-tracker'
import { buildTorrent, sortByNameBytes } from '../../src/torrents/index.js'
import { freePort, requireTool, tempDir, waitFor } from '../helpers.js'
import { baseInput, listFiles, writeFiles } from './fixtures.js'

interface TorrentStatus {
  hashString: string
  percentDone: number
  status: number
  error: number
  errorString: string
}

// Transmission 3 `status`: 1 queued to verify, 2 verifying, 4 downloading, 6 seeding.
const VERIFYING = new Set([1, 2])
const SEEDING = 6

/** One RPC call, with Transmission's CSRF handshake: a 409 hands out the session id to send. */
async function rpc<T>(url: string, session: { id: string }, method: string, args: object): Promise<T> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'X-Transmission-Session-Id': session.id },
      body: JSON.stringify({ method, arguments: args }),
    })
    if (res.status === 409) {
      session.id = res.headers.get('X-Transmission-Session-Id') ?? ''
      continue
    }
    assert.equal(res.status, 200, `${method}: HTTP ${res.status}`)
    const body = (await res.json()) as { result: string; arguments: T }
    assert.equal(body.result, 'success', `${method}: ${body.result}`)
    return body.arguments
  }
  throw new Error(`${method}: no session id after 3 attempts`)
}

test('transmission-daemon verifies our multi-file torrent against the data and seeds it', async (t) => {
  if (!requireTool(t, 'transmission-daemon')) return
  const downloads = tempDir(t)
  const name = 'annas_archive_data__aacid__x_files__20230808T051503Z--20230808T051504Z'
  const p = 'aacid__x_files__20230808T051503Z__'
  writeFiles(join(downloads, name), {
    [`${p}1__A2cdefghijkmnopqrstuvw`]: 1_500_001,
    [`${p}1-2__B2cdefghijkmnopqrstuvw`]: 1,
    [`${p}10__Z2cdefghijkmnopqrstuvw`]: 2_000_000,
    [`${p}2__a2cdefghijkmnopqrstuvw`]: 0,
    [`${p}Q2cdefghijkmnopqrstuvw`]: 65_536,
  })

  const trackerPort = await freePort()
  const tracker = new Server({ http: true, udp: false, ws: false, stats: false })
  await new Promise<void>((res) => tracker.listen(trackerPort, '127.0.0.1', res))
  t.after(() => new Promise<void>((res) => tracker.close(() => res())))

  const built = await buildTorrent(
    baseInput({
      name,
      kind: 'folder',
      root: join(downloads, name),
      files: sortByNameBytes(listFiles(join(downloads, name))),
      pieceLength: 1 << 15,
      announce: [[`http://127.0.0.1:${trackerPort}/announce`]],
      webSeeds: ['http://127.0.0.1:1/releases/'],
      createdBy: 'aacseed test',
      creationDate: 1_691_472_903,
    }),
  )

  const rpcPort = await freePort()
  const peerPort = await freePort()
  const daemon = spawn(
    'transmission-daemon',
    [
      '-f',
      '-g',
      tempDir(t),
      '-p',
      String(rpcPort),
      '-P',
      String(peerPort),
      '-r',
      '127.0.0.1',
      '-a',
      '127.0.0.1',
      '-T',
      '--no-portmap',
      '--no-dht',
      '--no-lpd',
      '-w',
      downloads,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  daemon.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise((res) => daemon.on('exit', res))
  t.after(async () => {
    daemon.kill('SIGTERM')
    const timer = setTimeout(() => daemon.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
  })

  const url = `http://127.0.0.1:${rpcPort}/transmission/rpc`
  const session = { id: '' }
  await waitFor(
    'the RPC server',
    () =>
      fetch(url, { method: 'POST' }).then(
        () => true,
        () => false,
      ),
    15_000,
  )
  const added = await rpc<{ 'torrent-added'?: { id: number; hashString: string } }>(
    url,
    session,
    'torrent-add',
    {
      metainfo: built.torrent.toString('base64'),
      'download-dir': downloads,
      paused: false,
    },
  )
  const id = added['torrent-added']?.id
  assert.ok(id !== undefined, `torrent-add: ${JSON.stringify(added)}`)

  const get = async (): Promise<TorrentStatus> =>
    (
      await rpc<{ torrents: TorrentStatus[] }>(url, session, 'torrent-get', {
        ids: [id],
        fields: ['hashString', 'percentDone', 'status', 'error', 'errorString'],
      })
    ).torrents[0]!
  // Wait for the check to end, not for success: wrong pieces would show as a download at once.
  const done = await waitFor(
    'transmission to verify the data',
    async () => {
      const s = await get()
      return s.status !== 0 && !VERIFYING.has(s.status) ? s : undefined
    },
    30_000,
    100,
  ).catch((e: Error) => {
    throw new Error(`${e.message}; daemon stderr: ${stderr}`)
  })
  assert.equal(done.hashString, built.infoHash)
  assert.deepEqual(
    { percentDone: done.percentDone, status: done.status, error: done.error, errorString: done.errorString },
    { percentDone: 1, status: SEEDING, error: 0, errorString: '' },
  )
})
