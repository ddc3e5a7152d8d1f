/**
 * Real components for the engine tests: AAC-like release folders, .torrent files from
 * mktorrent, a local bittorrent-tracker, aria2c as the downloading peer, and a
 * transmission-daemon tuned to seed fast on loopback. Everything listens on 127.0.0.1 only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { join, relative } from 'node:path'
import type { TestContext } from 'node:test'
import { Server as TrackerServer } from 'bittorrent-tracker'
import type { EngineLogger } from '../../src/engines/index.js'
import { freePort, waitFor } from '../helpers.js'

export interface ReleaseFile {
  /** Relative to the release folder. */
  path: string
  size: number
}

export interface Release {
  /** The folder that contains the release folder: an engine's `dataDir`. */
  root: string
  name: string
  /** root/name */
  dir: string
  files: ReleaseFile[]
}

let counter = 0

/** A release folder named like an AAC data folder, holding files named like AAC blobs, of random bytes. */
export function makeRelease(
  root: string,
  sizes: number[],
  opts: { collection?: string; name?: string } = {},
): Release {
  const collection = opts.collection ?? 'upload_files_test'
  const n = ++counter
  const stamp = `20241105T${String(100000 + n).slice(-6)}Z`
  const name = opts.name ?? `annas_archive_data__aacid__${collection}__${stamp}--${stamp}`
  const dir = join(root, name)
  mkdirSync(dir, { recursive: true })
  const files = sizes.map((size, i) => {
    const path = `aacid__${collection}__${stamp}__${i}__${randomBytes(8).toString('hex')}`
    writeRandom(join(dir, path), size)
    return { path, size }
  })
  return { root, name, dir, files }
}

export function writeRandom(path: string, size: number): void {
  const fd = openSync(path, 'w')
  try {
    for (let done = 0; done < size;) {
      const chunk = randomBytes(Math.min(1 << 20, size - done))
      writeSync(fd, chunk)
      done += chunk.length
    }
  } finally {
    closeSync(fd)
  }
}

/** `mktorrent -l 18 -a ANNOUNCE`: the .torrent bytes, also written to `out`. */
export function mktorrent(target: string, announce: string, out: string, pieceLengthLog2 = 18): Buffer {
  const r = spawnSync('mktorrent', ['-l', String(pieceLengthLog2), '-a', announce, '-o', out, target], {
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(`mktorrent failed (${r.status}): ${r.stderr}${r.stdout}`)
  return readFileSync(out)
}

/** The end of the bencoded value starting at `i`. */
function bencodeEnd(buf: Buffer, i: number): number {
  const c = buf[i]
  if (c === 0x69 /* i */) return buf.indexOf(0x65, i) + 1
  if (c === 0x6c /* l */ || c === 0x64 /* d */) {
    let j = i + 1
    while (buf[j] !== 0x65 /* e */) {
      if (j >= buf.length) throw new Error('bencode: unterminated list or dictionary')
      j = bencodeEnd(buf, j)
    }
    return j + 1
  }
  const colon = buf.indexOf(0x3a /* : */, i)
  if (colon < 0) throw new Error(`bencode: bad value at ${i}`)
  return colon + 1 + Number(buf.toString('ascii', i, colon))
}

/** The v1 infohash: SHA-1 of the exact bytes of the top-level `info` value. */
export function infoHashOf(torrent: Buffer): string {
  if (torrent[0] !== 0x64) throw new Error('not a bencoded dictionary')
  for (let i = 1; torrent[i] !== 0x65;) {
    const keyEnd = bencodeEnd(torrent, i)
    const key = torrent.toString('latin1', torrent.indexOf(0x3a, i) + 1, keyEnd)
    const valueEnd = bencodeEnd(torrent, keyEnd)
    if (key === 'info') return createHash('sha1').update(torrent.subarray(keyEnd, valueEnd)).digest('hex')
    i = valueEnd
  }
  throw new Error('no info dictionary')
}

type Bencodable = number | string | Buffer | Bencodable[] | { [key: string]: Bencodable }

function bencode(v: Bencodable): Buffer {
  if (typeof v === 'number') return Buffer.from(`i${v}e`)
  if (typeof v === 'string') return bencode(Buffer.from(v))
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(`${v.length}:`), v])
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')])
  const keys = Object.keys(v).sort()
  return Buffer.concat([
    Buffer.from('d'),
    ...keys.flatMap((k) => [bencode(k), bencode(v[k]!)]),
    Buffer.from('e'),
  ])
}

/**
 * A multi-file .torrent made in-process, for tests that need hundreds of them (one mktorrent
 * run each would dominate the test). Pieces are hashed from `pieceData` when given (for sparse
 * files of zeros), else read from disk. Cross-checked against mktorrent in engine-units.test.ts.
 */
export function makeTorrent(
  release: Release,
  opts: { pieceLength?: number; announce?: string; zeros?: boolean } = {},
): Buffer {
  const pieceLength = opts.pieceLength ?? 1 << 18
  const files = [...release.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  const total = files.reduce((s, f) => s + f.size, 0)
  const pieces: Buffer[] = []
  if (opts.zeros) {
    const full = createHash('sha1').update(Buffer.alloc(pieceLength)).digest()
    const count = Math.ceil(total / pieceLength)
    for (let i = 0; i < count; i++) {
      const len = i === count - 1 ? total - i * pieceLength : pieceLength
      pieces.push(len === pieceLength ? full : createHash('sha1').update(Buffer.alloc(len)).digest())
    }
  } else {
    let pending = Buffer.alloc(0)
    for (const f of files) {
      pending = Buffer.concat([pending, readFileSync(join(release.dir, f.path))])
      while (pending.length >= pieceLength) {
        pieces.push(createHash('sha1').update(pending.subarray(0, pieceLength)).digest())
        pending = pending.subarray(pieceLength)
      }
    }
    if (pending.length > 0) pieces.push(createHash('sha1').update(pending).digest())
  }
  const info = {
    files: files.map((f) => ({ length: f.size, path: f.path.split('/') })),
    name: release.name,
    'piece length': pieceLength,
    pieces: Buffer.concat(pieces),
  }
  return bencode(opts.announce ? { announce: opts.announce, info } : { info })
}

/** Every file under `dir`, relative path → bytes. */
export function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>()
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.set(relative(dir, p), readFileSync(p))
    }
  }
  walk(dir)
  return out
}

export interface Tracker {
  announce: string
  /** Its UDP announce URL (with `udp`). */
  udp: string
  port: number
  server: TrackerServer
  /** Seeders the tracker knows for this infohash. */
  seeders(infoHash: string): number
}

/**
 * A bittorrent-tracker server on 127.0.0.1 (HTTP; UDP too with `udp`, on 127.0.0.1 and ::1;
 * no HTTP with `http: false`; never WebSocket), closed after the test.
 */
export async function startTracker(
  t: TestContext,
  opts: { intervalMs?: number; host?: string; udp?: boolean; http?: boolean } = {},
): Promise<Tracker> {
  const host = opts.host ?? '127.0.0.1'
  const port = await freePort()
  const server = new TrackerServer({
    udp: opts.udp ?? false,
    ws: false,
    http: opts.http ?? true,
    stats: false,
    interval: opts.intervalMs ?? 60_000,
  })
  server.on('error', () => {})
  server.on('warning', () => {})
  if (opts.udp) {
    // UDP bound per family: the server's one-host form binds both UDP sockets to it and fails.
    // (The shared type declaration knows only the string form of the host.)
    const listen = server.listen.bind(server) as unknown as (
      port: number,
      hosts: { http: string; udp: string; udp6: string },
      cb: () => void,
    ) => void
    await new Promise<void>((res) => listen(port, { http: host, udp: host, udp6: '::1' }, res))
  } else {
    await new Promise<void>((res) => server.listen(port, host, res))
  }
  t.after(() => new Promise<void>((res) => server.close(() => res())))
  return {
    announce: `http://${host}:${port}/announce`,
    udp: `udp://${host}:${port}`,
    port,
    server,
    seeders: (h) => server.torrents[h]?.complete ?? 0,
  }
}

/**
 * Downloads a torrent with aria2c (the independent peer) into `outDir`; resolves when aria2c
 * exits 0 (it verifies every piece), rejects with its output otherwise.
 */
export async function aria2cDownload(
  t: TestContext,
  torrentPath: string,
  outDir: string,
  timeoutMs = 90_000,
): Promise<void> {
  const port = await freePort()
  const args = [
    '--no-conf=true',
    '--seed-time=0',
    '--enable-dht=false',
    '--enable-dht6=false',
    '--bt-enable-lpd=false',
    '--enable-peer-exchange=false',
    '--bt-external-ip=127.0.0.1',
    '--disable-ipv6=true',
    `--dir=${outDir}`,
    '--check-integrity=true',
    '--bt-tracker-connect-timeout=5',
    '--bt-tracker-timeout=5',
    `--listen-port=${port}`,
    '--console-log-level=warn',
    '--summary-interval=0',
    '--file-allocation=none',
    '--bt-stop-timeout=60',
    '--allow-overwrite=true',
    '--auto-file-renaming=false',
    torrentPath,
  ]
  const child = spawn('aria2c', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => killChild(child))
  let output = ''
  child.stdout.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', (c) => {
      clearTimeout(timer)
      resolve(c)
    })
  })
  if (code !== 0) throw new Error(`aria2c exited ${code}:\n${output}`)
}

/**
 * Children started under a wrapper (`faketime` forks the daemon and waits for it) lead their own
 * process group: a signal to the wrapper alone would leave the daemon running after the test.
 */
const groupLeaders = new WeakSet<ChildProcess>()

function signalChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (groupLeaders.has(child) && child.pid !== undefined) {
    try {
      process.kill(-child.pid, signal)
      return
    } catch {
      // the group is gone already; the wrapper alone, as below
    }
  }
  child.kill(signal)
}

export async function killChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((res) => child.once('exit', () => res()))
  child.ref() // an unref'd child would not keep the loop alive while we wait for its exit
  signalChild(child, signal)
  await exited
}

const daemons = new Set<ChildProcess>()
process.once('exit', () => {
  for (const d of daemons) signalChild(d, 'SIGKILL')
})

export interface TransmissionDaemon {
  /** The RPC URL, without credentials. */
  url: string
  rpcPort: number
  peerPort: number
  configDir: string
  downloadDir: string
  logPath: string
  /** (Re)starts the daemon on the same config folder and ports; resolves when RPC answers. */
  start(): Promise<void>
  kill(signal?: NodeJS.Signals): Promise<void>
  /** A raw RPC call for assertions (independent of the engine under test). */
  rpc(
    method: string,
    args?: Record<string, unknown>,
  ): Promise<{ result: string; arguments: Record<string, unknown> }>
}

/**
 * A real transmission-daemon 3.00 with a settings.json tuned to seed fast on loopback (the
 * defaults throttle it: small cache, few upload slots, uTP and LPD on). Killed after the test.
 */
export async function startTransmission(
  t: TestContext,
  dir: string,
  opts: {
    auth?: { user: string; pass: string }
    /** A command the daemon runs under, e.g. `['faketime', '-f', '+1h']` for a daemon whose clock is off. */
    wrap?: string[]
    /** The address it binds (RPC and peers): 127.0.0.1, or one inside the test's network namespace. */
    host?: string
  } = {},
): Promise<TransmissionDaemon> {
  const host = opts.host ?? '127.0.0.1'
  const rpcPort = await freePort()
  const peerPort = await freePort()
  const configDir = join(dir, 'transmission-config')
  const downloadDir = join(dir, 'transmission-downloads')
  const logPath = join(dir, 'transmission.log')
  mkdirSync(configDir, { recursive: true })
  mkdirSync(downloadDir, { recursive: true })
  // Keys as Transmission 3.00 writes them (`transmission-daemon -d` dumps them).
  const settings = {
    'bind-address-ipv4': host,
    'bind-address-ipv6': '::1',
    'cache-size-mb': 32,
    'dht-enabled': false,
    'lpd-enabled': false,
    'pex-enabled': false,
    'utp-enabled': false,
    'port-forwarding-enabled': false,
    'peer-port': peerPort,
    'peer-port-random-on-start': false,
    'peer-limit-global': 500,
    'peer-limit-per-torrent': 100,
    'upload-slots-per-torrent': 50,
    'speed-limit-up-enabled': false,
    'speed-limit-down-enabled': false,
    'alt-speed-enabled': false,
    encryption: 1,
    'prefetch-enabled': true,
    preallocation: 0,
    'rename-partial-files': false,
    'ratio-limit-enabled': false,
    'idle-seeding-limit-enabled': false,
    'seed-queue-enabled': false,
    'download-queue-enabled': false,
    'queue-stalled-enabled': false,
    'scrape-paused-torrents-enabled': false,
    'start-added-torrents': true,
    'trash-original-torrent-files': false,
    'download-dir': downloadDir,
    'incomplete-dir-enabled': false,
    'blocklist-enabled': false,
    'message-level': 2,
    'rpc-enabled': true,
    'rpc-bind-address': host,
    'rpc-port': rpcPort,
    'rpc-whitelist-enabled': true,
    'rpc-whitelist': `127.0.0.1,::1,${host}`,
    'rpc-host-whitelist-enabled': false,
    'rpc-authentication-required': opts.auth !== undefined,
    'rpc-username': opts.auth?.user ?? '',
    'rpc-password': opts.auth?.pass ?? '',
  }
  writeFileSync(join(configDir, 'settings.json'), JSON.stringify(settings, null, 2))
  const url = `http://${host}:${rpcPort}/transmission/rpc`
  let child: ChildProcess | null = null
  let sessionId = ''

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child) await killChild(child, signal)
    child = null
  }
  const start = async (): Promise<void> => {
    await kill()
    const auth = opts.auth ? ['-t', '-u', opts.auth.user, '-v', opts.auth.pass] : ['-T']
    const args = [
      '-f',
      '-g',
      configDir,
      '-p',
      String(rpcPort),
      '-P',
      String(peerPort),
      '-r',
      host,
      '-a',
      `127.0.0.1,${host}`,
      ...auth,
      '--no-portmap',
      '--no-dht',
      '--no-lpd',
      '-w',
      downloadDir,
      '-e',
      logPath,
    ]
    const [cmd, ...pre] = [...(opts.wrap ?? []), 'transmission-daemon']
    child = spawn(cmd!, [...pre, ...args], { stdio: 'ignore', detached: opts.wrap !== undefined })
    if (opts.wrap !== undefined) groupLeaders.add(child)
    const proc = child
    // A daemon must never keep the test process alive, nor outlive it (even if a failed test
    // restarts one after its `t.after` ran).
    proc.unref()
    daemons.add(proc)
    proc.once('exit', () => daemons.delete(proc))
    await waitFor(
      'transmission-daemon RPC',
      async () => {
        if (proc.exitCode !== null)
          throw new Error(`transmission-daemon exited ${proc.exitCode}; see ${logPath}`)
        try {
          const r = await fetch(url, { method: 'POST', body: '{}' })
          await r.arrayBuffer()
          return r.status === 409 || r.status === 401
        } catch {
          return false
        }
      },
      20_000,
      50,
    )
  }
  const rpc = async (
    method: string,
    args: Record<string, unknown> = {},
  ): Promise<{ result: string; arguments: Record<string, unknown> }> => {
    for (let i = 0; i < 3; i++) {
      const headers: Record<string, string> = { 'x-transmission-session-id': sessionId }
      if (opts.auth)
        headers.authorization = `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.pass}`).toString('base64')}`
      const r = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ method, arguments: args }),
      })
      if (r.status === 409) {
        sessionId = r.headers.get('x-transmission-session-id') ?? ''
        await r.arrayBuffer()
        continue
      }
      if (!r.ok) throw new Error(`rpc ${method}: HTTP ${r.status}`)
      return (await r.json()) as { result: string; arguments: Record<string, unknown> }
    }
    throw new Error(`rpc ${method}: no session id`)
  }
  t.after(() => kill())
  await start()
  return { url, rpcPort, peerPort, configDir, downloadDir, logPath, start, kill, rpc }
}

/** Open file descriptors of this process. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length
}

/** Bytes this process has read through read(2)-like calls so far (`rchar` of /proc/self/io). */
export function bytesReadSoFar(): number {
  const m = /^rchar:\s+(\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))
  if (!m) throw new Error('no rchar in /proc/self/io')
  return Number(m[1])
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  msg: string
  fields: Record<string, unknown>
}

export function memoryLogger(): EngineLogger & { lines: LogLine[] } {
  const lines: LogLine[] = []
  const at =
    (level: LogLine['level']) =>
    (fields: Record<string, unknown>, msg: string): void => {
      lines.push({ level, msg, fields })
    }
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
}
