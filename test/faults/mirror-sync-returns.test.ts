/**
 * Fault (#12, mirror downloads that can never succeed must end): `aacseed mirror sync` without
 * `--no-wait` waits for the downloads in flight, and returns once none is, including when every
 * download ends rejected. Before, a torrent that could never be verified kept the command
 * looping for ever. Here the upstream lists two torrents aacseed cannot take (a 16 KiB piece
 * length; a `name.utf-8` that disagrees with `name`), served from 127.0.0.1; the command runs
 * in its own process with the embedded WebTorrent engine.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { test } from 'node:test'
import { encode, parseTorrent, type BencodeDict } from '../../src/torrents/index.js'
import { metaName } from '../fixtures.js'
import { freePort, tempDir } from '../helpers.js'
import { startStaticServer } from '../mirror/fixtures.js'

const CLI = resolve(import.meta.dirname, '..', '..', '..', 'bin', 'aacseed.js')

function torrent(info: BencodeDict, total: number, pieceLength: number): Buffer {
  return encode({
    announce: 'http://127.0.0.1:1/announce',
    info: {
      'piece length': pieceLength,
      pieces: Buffer.alloc(20 * Math.max(1, Math.ceil(total / pieceLength)), 7),
      ...info,
    },
  })
}

test(
  'fault: mirror sync (waiting) returns once nothing is in flight, when every download ends rejected',
  { timeout: 180_000 },
  async (t) => {
    const dir = tempDir(t)
    const site = join(dir, 'site')
    mkdirSync(site, { recursive: true })
    const a = metaName('coll', 0, 9)
    const b = metaName('coll', 10, 19)
    const torrents = [
      { name: a, buf: torrent({ name: a, length: 100_000 }, 100_000, 16 * 1024) },
      {
        name: b,
        buf: torrent({ name: b, 'name.utf-8': 'zzz-other-name', length: 100_000 }, 100_000, 32 * 1024),
      },
    ]
    const list = torrents.map(({ name, buf }) => {
      writeFileSync(join(site, `${name}.torrent`), buf)
      return {
        display_name: `${name}.torrent`,
        btih: parseTorrent(buf).infoHash,
        url: `${name}.torrent`,
        data_size: 100_000,
        added_to_torrents_list_at: '2024-01-02',
      }
    })
    writeFileSync(join(site, 'torrents.json'), JSON.stringify(list))
    const server = await startStaticServer(t, site)
    const m = join(dir, 'mirror')
    mkdirSync(join(m, 'releases'), { recursive: true })
    writeFileSync(
      join(m, 'aacseed.toml'),
      `[catalog]\nroots = ["releases"]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "torrents"\nlist_path = "torrents.json"\n` +
        `[engine.webtorrent]\nhost = "127.0.0.1"\nport = ${await freePort()}\ndht = false\nlsd = false\n` +
        `[mirror]\nreserve_bytes = 0\nretries = 0\nretry_base_ms = 10\n[[mirror.sources]]\nname = "upstream"\nlist = "${server.url}/torrents.json"\n`,
    )
    const child = spawn(process.execPath, [CLI, 'mirror', 'sync', '--json'], {
      cwd: m,
      env: { ...process.env, AACSEED_CONFIG: join(m, 'aacseed.toml') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    // Generous: the bound only tells "returned" from "loops for ever" on a loaded machine.
    const code = await new Promise<number | null>((res) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        res(null)
      }, 150_000)
      child.on('exit', (c) => {
        clearTimeout(timer)
        res(c)
      })
    })
    assert.notEqual(code, null, `mirror sync did not return:\n${stderr.slice(-3000)}`)
    assert.equal(code, 1, `rejections are exit code 1:\n${stdout}${stderr}`)
    const r = JSON.parse(stdout) as { rejected: Array<{ name: string; code: string }>; inFlight: number }
    assert.equal(r.inFlight, 0)
    assert.deepEqual(r.rejected.map((x) => x.name).sort(), [a, b].sort())
  },
)
