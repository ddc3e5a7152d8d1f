/**
 * Real torrent daemons of every remote kind for the tests, each on a temp dir and free ports,
 * bound to `host` (127.0.0.1, or an address inside a network namespace the test made):
 * transmission-daemon 3.00, qbittorrent-nox 4.5, deluged + deluge-web 2.0, rtorrent 0.9.8.
 * Each is tuned for tests: no DHT, LSD, PeX or UPnP, no queueing, no speed limits.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, openSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { RemoteKind, RemoteSettings } from '../../src/engines/index.js'
import { scgiExchange } from '../../src/engines/xmlrpc.js'
import { freePort, waitFor } from '../helpers.js'
import { killChild, startTransmission } from './fixtures.js'

export const DAEMON_TOOLS: Record<RemoteKind, string[]> = {
  transmission: ['transmission-daemon'],
  qbittorrent: ['qbittorrent-nox'],
  deluge: ['deluged', 'deluge-web'],
  rtorrent: ['rtorrent'],
}

export interface Daemon {
  kind: RemoteKind
  /** Where the daemon keeps data by default; tests put releases under it. */
  dataDir: string
  settings: RemoteSettings
  /**
   * The same daemon with a wrong password; null where the transport has no authentication (rTorrent's SCGI).
   */
  wrongSettings: RemoteSettings | null
  /** (Re)starts the daemon on the same ports and state. */
  start(): Promise<void>
  kill(signal?: NodeJS.Signals): Promise<void>
  /** The address peers reach it at. */
  host: string
  peerPort: number
  /** The daemon's process id while it runs, where known (qBittorrent: for bench:seed's CPU and memory). */
  pid?: () => number | undefined
}

export interface DaemonOptions {
  host?: string
  /** Port probe for `host` (inside a namespace, 127.0.0.1's free ports are free there too). */
  port?: () => Promise<number>
  /**
   * rTorrent only: reach it through an HTTP endpoint with basic auth (XML-RPC over HTTP, as behind
   * ruTorrent's web server) instead of its SCGI port: a tiny proxy of the test's own forwards each
   * request to the SCGI socket.
   */
  http?: boolean
}

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

function track(c: ChildProcess): ChildProcess {
  c.unref()
  children.add(c)
  c.once('exit', () => children.delete(c))
  return c
}

const settingsOf = (url: string, username: string, password: string): RemoteSettings => ({
  url,
  username,
  password,
  pathMap: {},
  labels: ['aacseed'],
  // Generous: deluge-web (Python) answers slowly on a loaded machine.
  timeoutMs: 30_000,
})

export async function startDaemon(
  t: TestContext,
  kind: RemoteKind,
  dir: string,
  opts: DaemonOptions = {},
): Promise<Daemon> {
  mkdirSync(dir, { recursive: true })
  switch (kind) {
    case 'transmission':
      return await transmission(t, dir, opts)
    case 'qbittorrent':
      return await qbittorrent(t, dir, opts)
    case 'deluge':
      return await deluge(t, dir, opts)
    case 'rtorrent':
      return await rtorrent(t, dir, opts)
  }
}

async function transmission(t: TestContext, dir: string, opts: DaemonOptions): Promise<Daemon> {
  const user = 'aacseed'
  const pass = 'tr-Secret-1'
  const d = await startTransmission(t, dir, {
    auth: { user, pass },
    ...(opts.host ? { host: opts.host } : {}),
  })
  return {
    kind: 'transmission',
    dataDir: d.downloadDir,
    settings: settingsOf(d.url, user, pass),
    wrongSettings: settingsOf(d.url, user, 'wrong-pw'),
    start: () => d.start(),
    kill: (signal) => d.kill(signal),
    host: opts.host ?? '127.0.0.1',
    peerPort: d.peerPort,
  }
}

async function qbittorrent(t: TestContext, dir: string, opts: DaemonOptions): Promise<Daemon> {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.port ?? freePort
  const webPort = await port()
  const peerPort = await port()
  const profile = join(dir, 'qbt-profile')
  const dataDir = join(dir, 'qbt-downloads')
  mkdirSync(join(profile, 'qBittorrent', 'config'), { recursive: true })
  mkdirSync(dataDir, { recursive: true })
  // 4.5.2 has no --confirm-legal-notice; the profile accepts it. admin/adminadmin is 4.5's default login.
  writeFileSync(
    join(profile, 'qBittorrent', 'config', 'qBittorrent.conf'),
    [
      '[LegalNotice]',
      'Accepted=true',
      '',
      '[BitTorrent]',
      `Session\\DefaultSavePath=${dataDir}`,
      `Session\\Port=${peerPort}`,
      `Session\\Interface=lo`,
      `Session\\InterfaceName=lo`,
      `Session\\InterfaceAddress=${host}`,
      'Session\\DHTEnabled=false',
      'Session\\LSDEnabled=false',
      'Session\\PeXEnabled=false',
      'Session\\QueueingSystemEnabled=false',
      'Session\\AnonymousModeEnabled=false',
      'Session\\uTPEnabled=false',
      '',
      '[Preferences]',
      `WebUI\\Address=${host}`,
      `WebUI\\Port=${webPort}`,
      'WebUI\\LocalHostAuth=true',
      'WebUI\\HostHeaderValidation=false',
      'Connection\\UPnP=false',
      '',
    ].join('\n'),
  )
  const url = `http://${host}:${webPort}/`
  let child: ChildProcess | null = null
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child) await killChild(child, signal)
    child = null
  }
  const start = async (): Promise<void> => {
    await kill()
    const proc = track(
      spawn('qbittorrent-nox', [`--profile=${profile}`, `--webui-port=${webPort}`], { stdio: 'ignore' }),
    )
    child = proc
    await waitFor(
      'qbittorrent-nox WebUI',
      async () => {
        if (proc.exitCode !== null) throw new Error(`qbittorrent-nox exited ${proc.exitCode}`)
        try {
          const r = await fetch(`${url}api/v2/app/version`)
          await r.arrayBuffer()
          return r.status === 403 || r.status === 200
        } catch {
          return false
        }
      },
      20_000,
      50,
    )
    // On one address every peer shares the IP: without this it drops all but the first.
    const login = await fetch(`${url}api/v2/auth/login`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'admin', password: 'adminadmin' }),
    })
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!
    await login.arrayBuffer()
    const prefs = await fetch(`${url}api/v2/app/setPreferences`, {
      method: 'POST',
      headers: { cookie },
      body: new URLSearchParams({
        json: JSON.stringify({ enable_multi_connections_from_same_ip: true, max_ratio_enabled: false }),
      }),
    })
    await prefs.arrayBuffer()
  }
  t.after(() => kill())
  await start()
  return {
    kind: 'qbittorrent',
    dataDir,
    settings: settingsOf(url, 'admin', 'adminadmin'),
    wrongSettings: settingsOf(url, 'admin', 'wrong-pw'),
    start,
    kill,
    host,
    peerPort,
    pid: () => child?.pid,
  }
}

/** Deluge's config files: a header object, then the settings object. */
function delugeConf(file: number, body: object): string {
  return `${JSON.stringify({ file, format: 1 }, null, 4)}${JSON.stringify(body, null, 4)}`
}

async function deluge(t: TestContext, dir: string, opts: DaemonOptions): Promise<Daemon> {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.port ?? freePort
  const daemonPort = await port()
  const webPort = await port()
  const peerPort = await port()
  const config = join(dir, 'deluge-config')
  const dataDir = join(dir, 'deluge-downloads')
  mkdirSync(config, { recursive: true })
  mkdirSync(dataDir, { recursive: true })
  const daemonUser = 'aacseed'
  const daemonPass = 'deluged-Secret-1'
  // deluge-web reads the `localclient` line at start even when its host list names another user.
  writeFileSync(
    join(config, 'auth'),
    `localclient:${randomBytes(16).toString('hex')}:10\n${daemonUser}:${daemonPass}:10\n`,
  )
  writeFileSync(
    join(config, 'core.conf'),
    delugeConf(1, {
      download_location: dataDir,
      listen_ports: [peerPort, peerPort],
      random_port: false,
      listen_interface: host,
      outgoing_interface: '',
      dht: false,
      lsd: false,
      upnp: false,
      natpmp: false,
      utpex: false,
      new_release_check: false,
      max_active_seeding: -1,
      max_active_downloading: -1,
      max_active_limit: -1,
      stop_seed_at_ratio: false,
      enc_in_policy: 1,
      enc_out_policy: 1,
      daemon_port: daemonPort,
      allow_remote: false,
    }),
  )
  // deluge-web's connection manager lists our daemon; the client picks it (the only one).
  writeFileSync(
    join(config, 'hostlist.conf'),
    delugeConf(3, {
      hosts: [['aacseedtestdaemon0000000000000000', host, daemonPort, daemonUser, daemonPass]],
    }),
  )
  const webPass = 'deluge-Web-1'
  const salt = randomBytes(20).toString('hex')
  writeFileSync(
    join(config, 'web.conf'),
    delugeConf(2, {
      pwd_salt: salt,
      pwd_sha1: createHash('sha1')
        .update(salt + webPass)
        .digest('hex'),
      first_login: false,
      interface: host,
      port: webPort,
      session_timeout: 3600,
    }),
  )
  const url = `http://${host}:${webPort}/json`
  let daemonProc: ChildProcess | null = null
  let webProc: ChildProcess | null = null
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    await Promise.all([daemonProc && killChild(daemonProc, signal), webProc && killChild(webProc, signal)])
    daemonProc = null
    webProc = null
  }
  const start = async (): Promise<void> => {
    await kill()
    const d = track(
      spawn(
        'deluged',
        [
          '-c',
          config,
          '-p',
          String(daemonPort),
          '-i',
          host,
          '-u',
          host,
          '-d',
          '-L',
          'error',
          '-l',
          join(dir, 'deluged.log'),
        ],
        { stdio: 'ignore' },
      ),
    )
    const w = track(
      spawn(
        'deluge-web',
        [
          '-c',
          config,
          '-p',
          String(webPort),
          '-i',
          host,
          '-d',
          '-L',
          'error',
          '-l',
          join(dir, 'deluge-web.log'),
        ],
        { stdio: ['ignore', 'ignore', openSync(join(dir, 'deluge-web.err'), 'a')] },
      ),
    )
    daemonProc = d
    webProc = w
    await waitFor(
      'deluged and deluge-web',
      async () => {
        if (d.exitCode !== null) throw new Error(`deluged exited ${d.exitCode}`)
        if (w.exitCode !== null)
          throw new Error(`deluge-web exited ${w.exitCode}; see ${join(dir, 'deluge-web.log')}`)
        const daemonUp = await new Promise<boolean>((res) => {
          const s = connect({ host, port: daemonPort })
          s.once('connect', () => {
            s.destroy()
            res(true)
          })
          s.once('error', () => res(false))
        })
        if (!daemonUp) return false
        try {
          const r = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ method: 'web.connected', params: [], id: 1 }),
          })
          await r.arrayBuffer()
          return r.status === 200
        } catch {
          return false
        }
      },
      30_000,
      100,
    )
  }
  t.after(() => kill())
  await start()
  return {
    kind: 'deluge',
    dataDir,
    settings: settingsOf(url, '', webPass),
    wrongSettings: settingsOf(url, '', 'wrong-pw'),
    start,
    kill,
    host,
    peerPort,
  }
}

async function rtorrent(t: TestContext, dir: string, opts: DaemonOptions): Promise<Daemon> {
  const host = opts.host ?? '127.0.0.1'
  const port = opts.port ?? freePort
  const scgiPort = await port()
  const peerPort = await port()
  const session = join(dir, 'rtorrent-session')
  const dataDir = join(dir, 'rtorrent-downloads')
  mkdirSync(session, { recursive: true })
  mkdirSync(dataDir, { recursive: true })
  const rc = join(dir, 'rtorrent.rc')
  writeFileSync(
    rc,
    [
      `session.path.set = ${session}`,
      'session.use_lock.set = no',
      `directory.default.set = ${dataDir}`,
      `network.scgi.open_port = ${host}:${scgiPort}`,
      `network.port_range.set = ${peerPort}-${peerPort}`,
      'network.port_random.set = no',
      `network.bind_address.set = ${host}`,
      `network.local_address.set = ${host}`,
      'dht.mode.set = disable',
      'protocol.pex.set = no',
      'trackers.use_udp.set = no',
      'protocol.encryption.set = allow_incoming,try_outgoing,enable_retry',
      'throttle.max_uploads.global.set = 0',
      'throttle.max_downloads.global.set = 0',
      'system.daemon.set = true',
      '',
    ].join('\n'),
  )
  let child: ChildProcess | null = null
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child) await killChild(child, signal)
    child = null
  }
  const start = async (): Promise<void> => {
    await kill()
    const proc = track(spawn('rtorrent', ['-n', '-o', `import=${rc}`], { stdio: 'ignore', cwd: dir }))
    child = proc
    await waitFor(
      'rtorrent SCGI',
      async () => {
        if (proc.exitCode !== null) throw new Error(`rtorrent exited ${proc.exitCode}`)
        return await new Promise<boolean>((res) => {
          const s = connect({ host, port: scgiPort })
          s.once('connect', () => {
            s.destroy()
            res(true)
          })
          s.once('error', () => res(false))
        })
      },
      20_000,
      50,
    )
  }
  t.after(() => kill())
  await start()
  if (opts.http) {
    const user = 'aacseed'
    const pass = 'rt-Secret-1'
    const url = await scgiHttpProxy(t, host, scgiPort, { user, pass })
    return {
      kind: 'rtorrent',
      dataDir,
      settings: settingsOf(url, user, pass),
      wrongSettings: settingsOf(url, user, 'wrong-pw'),
      start,
      kill,
      host,
      peerPort,
    }
  }
  return {
    kind: 'rtorrent',
    dataDir,
    settings: settingsOf(`scgi://${host}:${scgiPort}`, '', ''),
    wrongSettings: null,
    start,
    kill,
    host,
    peerPort,
  }
}

/**
 * XML-RPC over HTTP in front of rTorrent's SCGI port, as a web server (nginx's scgi_pass behind
 * ruTorrent) puts it: POST /RPC2 with basic auth, each request forwarded as one SCGI exchange.
 * Answers 401 to wrong credentials and 502 when the daemon is down.
 */
async function scgiHttpProxy(
  t: TestContext,
  host: string,
  scgiPort: number,
  auth: { user: string; pass: string },
): Promise<string> {
  const want = `Basic ${Buffer.from(`${auth.user}:${auth.pass}`).toString('base64')}`
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.headers.authorization !== want) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="rtorrent"' })
        return res.end('Unauthorized')
      }
      if (req.method !== 'POST' || req.url !== '/RPC2') {
        res.writeHead(404)
        return res.end()
      }
      scgiExchange(host, scgiPort, Buffer.concat(chunks).toString('utf8'), 60_000).then(
        (r) => {
          res.writeHead(r.status === 0 ? 502 : r.status, { 'content-type': 'text/xml' })
          res.end(r.body)
        },
        () => {
          res.writeHead(502)
          res.end('Bad Gateway')
        },
      )
    })
  })
  const port = await freePort()
  await new Promise<void>((res) => server.listen(port, host, res))
  t.after(
    () =>
      new Promise<void>((res) => {
        server.closeAllConnections()
        server.close(() => res())
      }),
  )
  return `http://${host}:${port}/RPC2`
}
