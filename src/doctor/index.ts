/**
 * `aacseed doctor`: checks a machine before an operator walks away. Each finding names the
 * setting (or file) to fix. Engines and seedboxes are reached through the engines' and the
 * fleet's own clients, loaded only when the config has one, so a doctor run on a plain catalog
 * machine loads neither WebTorrent nor the fleet code.
 */
import { readFileSync, statfsSync } from 'node:fs'
import { homedir } from 'node:os'
import { resolve } from 'node:path'
import type { Config } from '../config/index.js'
import { finding, type Finding } from './finding.js'
import { probeReadable, probeWritable } from './probe.js'
import { portFinding } from './ports.js'
import { unitFindings } from './unit.js'

export interface DoctorOptions {
  config: Config
  /** The config file in use (absolute), or null when running on defaults. */
  configPath: string | null
  env: NodeJS.ProcessEnv
  /** Unit files to compare with the config; default: the user unit, then the system unit. */
  unitPaths?: string[]
  /** Largest clock difference accepted, ms. */
  maxClockSkewMs?: number
}

export const MIN_NODE_MAJOR = 20

export type { CheckName, Finding, FindingStatus } from './finding.js'

export async function runDoctor(opts: DoctorOptions): Promise<Finding[]> {
  const { config } = opts
  const out: Finding[] = [nodeFinding(process.versions.node)]
  out.push(...pathFindings(config))
  out.push(...diskFindings(config))
  if (config.http.enabled) out.push(await portFinding('http.port', config.http.host, config.http.port))
  if (config.engine.kind === 'webtorrent' && config.engine.webtorrent.port !== 0)
    out.push(
      await portFinding(
        'engine.webtorrent.port',
        config.engine.webtorrent.host,
        config.engine.webtorrent.port,
      ),
    )
  out.push(...(await engineFindings(opts)))
  out.push(...(await seedboxFindings(opts)))
  out.push(...unitFindings(config, opts.configPath, opts.unitPaths ?? defaultUnitPaths(opts.env)))
  return out
}

export function nodeFinding(version: string): Finding {
  const major = Number(version.split('.')[0])
  return major >= MIN_NODE_MAJOR
    ? finding('node', 'ok', `Node ${version}`)
    : finding('node', 'fail', `Node ${version} is too old: aacseed needs Node ${MIN_NODE_MAJOR} or newer`)
}

/** Every path aacseed writes must be writable (or creatable), every one it reads readable. */
export function pathFindings(config: Config): Finding[] {
  const out: Finding[] = []
  const writable = (setting: string, path: string, folder: boolean) => {
    const problem = probeWritable(path, folder)
    out.push(
      problem
        ? finding('path', 'fail', `${setting}: ${path}: ${problem}`, { setting, path })
        : finding('path', 'ok', `${setting}: ${path} is writable`, { setting, path }),
    )
  }
  const readable = (setting: string, path: string, folder: boolean) => {
    const problem = probeReadable(path, folder)
    out.push(
      problem
        ? finding('path', 'fail', `${setting}: ${path}: ${problem}`, { setting, path })
        : finding('path', 'ok', `${setting}: ${path} is readable`, { setting, path }),
    )
  }
  writable('catalog.database', config.catalog.database, false)
  writable('torrents.out_dir', config.torrents.out_dir, true)
  if (config.torrents.list_path) writable('torrents.list_path', config.torrents.list_path, false)
  const mirrorRoot = mirrorRootOf(config)
  config.catalog.roots.forEach((root, i) => {
    if (root === mirrorRoot) writable(`catalog.roots[${i}]`, root, true)
    else readable(`catalog.roots[${i}]`, root, true)
  })
  if (mirrorRoot && !config.catalog.roots.includes(mirrorRoot)) writable('mirror.root', mirrorRoot, true)
  if (config.http.token_file) readable('http.token_file', config.http.token_file, false)
  if (config.engine.kind !== 'webtorrent' && config.engine[config.engine.kind].password_file)
    readable(
      `engine.${config.engine.kind}.password_file`,
      config.engine[config.engine.kind].password_file,
      false,
    )
  config.fleet.seedboxes.forEach((s, i) => {
    if (s.password_file) readable(`fleet.seedboxes[${i}].password_file`, s.password_file, false)
  })
  return out
}

/** The release root mirror sync downloads into, when a mirror source is configured. */
function mirrorRootOf(config: Config): string | null {
  if (config.mirror.sources.length === 0) return null
  return config.mirror.root || config.catalog.roots[0] || null
}

export function diskFindings(config: Config): Finding[] {
  const root = mirrorRootOf(config)
  if (!root) return [finding('disk', 'skipped', 'no [[mirror.sources]]: nothing is downloaded here')]
  let free: number
  try {
    const s = statfsSync(root)
    free = s.bavail * s.bsize
  } catch (e) {
    return [
      finding('disk', 'fail', `mirror.root: cannot read the free space of ${root}: ${errCode(e)}`, {
        setting: 'mirror.root',
        path: root,
      }),
    ]
  }
  const reserve = config.mirror.reserve_bytes
  const where = { setting: 'mirror.reserve_bytes', path: root }
  return free < reserve
    ? [
        finding(
          'disk',
          'fail',
          `mirror.reserve_bytes: ${root} has ${gb(free)} free, less than the ${gb(reserve)} to keep free: mirror sync will download nothing`,
          where,
        ),
      ]
    : [finding('disk', 'ok', `${root}: ${gb(free)} free, reserve ${gb(reserve)}`, where)]
}

interface DaemonInfo {
  version: string
  apiVersion?: string
}

/** The local engine: the embedded one runs inside `serve`; a daemon must answer with its version. */
async function engineFindings(opts: DoctorOptions): Promise<Finding[]> {
  const { config } = opts
  const kind = config.engine.kind
  if (kind === 'webtorrent')
    return [
      finding(
        'engine',
        'ok',
        `embedded WebTorrent ${webtorrentVersion()} (runs inside aacseed serve; its port is checked above)`,
        { setting: 'engine.kind' },
      ),
    ]
  const { createEngine } = await import('../engines/index.js')
  const engine = createEngine(config.engine, {
    env: opts.env,
    retry: { attempts: 1, baseDelayMs: 100, maxDelayMs: 100 },
  })
  const url = redactUrl(config.engine[kind].url)
  const setting = `engine.${kind}.url`
  try {
    // Engines that can say which daemon they talk to implement `info()`.
    const withInfo = engine as typeof engine & { info?: () => Promise<DaemonInfo> }
    let version = 'version unknown'
    if (withInfo.info) {
      const info = await withInfo.info()
      version = info.version + (info.apiVersion ? ` (RPC ${info.apiVersion})` : '')
    } else {
      await engine.start()
      await engine.list()
    }
    const out = [finding('engine', 'ok', `${kind} ${version} at ${url}`, { setting })]
    out.push(await clockFinding(setting, config.engine[kind].url, `the ${kind} engine`, opts))
    return out
  } catch (e) {
    return [
      finding('engine', 'fail', `${setting}: ${kind} at ${url} does not answer: ${errMessage(e)}`, {
        setting,
      }),
    ]
  } finally {
    await engine.close().catch(() => undefined)
  }
}

/** Each seedbox through the fleet's client (whatever kind it is): reachable, its version, its free space. */
async function seedboxFindings(opts: DoctorOptions): Promise<Finding[]> {
  const boxes = opts.config.fleet.seedboxes
  if (boxes.length === 0) return []
  const { SeedboxClient } = await import('../fleet/index.js')
  const out: Finding[] = []
  for (const [i, box] of boxes.entries()) {
    const setting = `fleet.seedboxes[${i}]`
    const client = new SeedboxClient(box, {
      env: opts.env,
      retry: { attempts: 1, baseDelayMs: 100, maxDelayMs: 100 },
      pollRetry: { attempts: 1, baseDelayMs: 100, maxDelayMs: 100 },
    })
    const url = redactUrl(box.url)
    try {
      const poll = await client.poll()
      const kind = poll.kind
      out.push(
        finding(
          'seedbox',
          'ok',
          `seedbox ${box.name}: ${kind} ${poll.version} at ${url}, ${poll.torrents.length} torrents`,
          { setting: `${setting}.url` },
        ),
      )
      if (poll.freeBytes !== null && poll.freeBytes < box.reserve_bytes)
        out.push(
          finding(
            'disk',
            'fail',
            `${setting}.reserve_bytes: seedbox ${box.name} has ${gb(poll.freeBytes)} free at ${box.path}, less than its reserve of ${gb(box.reserve_bytes)}: nothing more will be placed on it`,
            { setting: `${setting}.reserve_bytes`, path: box.path },
          ),
        )
      else if (poll.freeBytes !== null)
        out.push(
          finding(
            'disk',
            'ok',
            `seedbox ${box.name}: ${gb(poll.freeBytes)} free at ${box.path}, reserve ${gb(box.reserve_bytes)}`,
            { setting: `${setting}.reserve_bytes`, path: box.path },
          ),
        )
      out.push(await clockFinding(`${setting}.url`, box.url, `seedbox ${box.name}`, opts))
    } catch (e) {
      out.push(
        finding(
          'seedbox',
          'fail',
          `${setting}.url: seedbox ${box.name} at ${url} does not answer: ${errMessage(e)}`,
          {
            setting: `${setting}.url`,
          },
        ),
      )
    } finally {
      await client.close().catch(() => undefined)
    }
  }
  return out
}

/**
 * A daemon's clock against ours, from the `Date` header of its HTTP answer: a seedbox stamps its
 * torrents' times (added, last active) with its own clock, and the fleet compares them with ours.
 */
async function clockFinding(
  setting: string,
  url: string,
  what: string,
  opts: DoctorOptions,
): Promise<Finding> {
  const max = opts.maxClockSkewMs ?? 60_000
  const target = new URL(url)
  target.username = ''
  target.password = ''
  const before = Date.now()
  let date: string | null
  try {
    const res = await fetch(target, { signal: AbortSignal.timeout(5000) })
    await res.arrayBuffer()
    date = res.headers.get('date')
  } catch (e) {
    return finding('clock', 'skipped', `${what}: no answer to compare clocks: ${errMessage(e)}`, { setting })
  }
  const theirs = date ? Date.parse(date) : NaN
  if (Number.isNaN(theirs))
    return finding('clock', 'skipped', `${what}: its answer carries no Date`, { setting })
  // The header has whole seconds: compare with the middle of the round trip, allow one second more.
  const ours = (before + Date.now()) / 2
  const skew = theirs - ours
  const text = `${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? 'ahead of' : 'behind'} this machine`
  return Math.abs(skew) > max + 1000
    ? finding(
        'clock',
        'fail',
        `${what}'s clock is ${text}: its torrent times will not agree with ours (more than ${max / 1000} s); fix its time (NTP) or this machine's`,
        { setting },
      )
    : finding(
        'clock',
        'ok',
        `${what}: clock within ${Math.max(1, Math.round(Math.abs(skew) / 1000))} s of ours`,
        {
          setting,
        },
      )
}

export function defaultUnitPaths(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME || homedir()
  const configHome = env.XDG_CONFIG_HOME || resolve(home, '.config')
  return [resolve(configHome, 'systemd/user/aacseed.service'), '/etc/systemd/system/aacseed.service']
}

function webtorrentVersion(): string {
  // webtorrent's `exports` hide its package.json; its entry point sits at the package's root.
  try {
    const entry = import.meta.resolve('webtorrent')
    const pkg = JSON.parse(readFileSync(new URL('./package.json', entry), 'utf8')) as { version: string }
    return pkg.version
  } catch {
    return '(version unknown)'
  }
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    u.search = ''
    return u.toString()
  } catch {
    return url
  }
}

function gb(n: number): string {
  return `${(n / 1e9).toFixed(n < 1e10 ? 2 : 0)} GB`
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e)
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
