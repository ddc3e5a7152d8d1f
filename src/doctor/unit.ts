/**
 * The installed systemd unit against the config: the service must run with this config, may
 * write where the config says aacseed writes, and may see the release roots. Reads the unit and
 * its drop-ins (`systemctl edit` writes `aacseed.service.d/override.conf`) the way systemd
 * combines them: later assignments win, an empty one clears a list.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, relative, resolve } from 'node:path'
import type { Config } from '../config/index.js'
import { finding, type Finding } from './finding.js'

type ServiceSection = Map<string, string[]>

export function unitFindings(config: Config, configPath: string | null, candidates: string[]): Finding[] {
  const found = candidates.filter((p) => existsSync(p))
  if (found.length === 0)
    return [finding('unit', 'skipped', `no aacseed unit installed (looked for ${candidates.join(', ')})`)]
  return found.flatMap((p) => checkUnit(p, config, configPath))
}

export function readService(path: string): ServiceSection {
  const files = [path]
  const dropins = `${path}.d`
  if (existsSync(dropins))
    files.push(
      ...readdirSync(dropins)
        .filter((f) => f.endsWith('.conf'))
        .sort()
        .map((f) => join(dropins, f)),
    )
  const service: ServiceSection = new Map()
  for (const file of files) {
    let section = ''
    for (const raw of readFileSync(file, 'utf8').split('\n')) {
      const line = raw.trim()
      if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
      const header = /^\[(.+)\]$/.exec(line)
      if (header) {
        section = header[1]!
        continue
      }
      const eq = line.indexOf('=')
      if (section !== 'Service' || eq < 0) continue
      const key = line.slice(0, eq).trim()
      const value = line.slice(eq + 1).trim()
      if (value === '') service.set(key, [])
      else service.set(key, [...(service.get(key) ?? []), value])
    }
  }
  return service
}

function checkUnit(unitPath: string, config: Config, configPath: string | null): Finding[] {
  const out: Finding[] = []
  const userUnit = unitPath.includes('/systemd/user/')
  const home = userUnit ? dirname(dirname(dirname(dirname(unitPath)))) : homedir()
  // %h in a user unit is the home the unit lives in (~/.config/systemd/user/X).
  const expand = (v: string) => v.replace(/%%|%h/g, (m) => (m === '%%' ? '%' : home))
  const service = readService(unitPath)
  const fail = (setting: string | null, path: string | null, message: string) =>
    out.push(finding('unit', 'fail', `${unitPath}: ${message}`, { setting, path: path ?? unitPath }))

  const exec = service.get('ExecStart')?.at(-1)
  if (!exec) {
    fail(null, unitPath, 'has no ExecStart=')
    return out
  }
  const words = expand(exec)
    .replace(/^[-@:+!]+/, '')
    .split(/\s+/)
  const program = words[0]!
  if (isAbsolute(program) && !existsSync(program))
    fail(
      null,
      program,
      `ExecStart= runs ${program}, which does not exist (installed elsewhere? \`npm prefix -g\`)`,
    )
  const i = words.findIndex((w) => w === '--config' || w.startsWith('--config='))
  const unitConfig =
    i < 0 ? null : words[i]!.startsWith('--config=') ? words[i]!.slice(9) : (words[i + 1] ?? null)
  if (unitConfig && configPath && resolve(unitConfig) !== resolve(configPath))
    fail(
      null,
      unitConfig,
      `the service runs with --config ${unitConfig}, but this check read ${configPath}: they are different configs`,
    )

  const protectSystem = service.get('ProtectSystem')?.at(-1) ?? 'no'
  const protectHome = service.get('ProtectHome')?.at(-1) ?? 'no'
  const writable = [
    ...(service.get('ReadWritePaths') ?? []).flatMap((v) => v.split(/\s+/)),
    ...(service.get('StateDirectory') ?? [])
      .flatMap((v) => v.split(/\s+/))
      .map((d) => (userUnit ? join(home, '.local/state', d) : join('/var/lib', d))),
  ].map((p) => expand(p.replace(/^[-+]+/, '')))
  const inside = (p: string, dirs: string[]) =>
    dirs.some((d) => {
      const r = relative(d, p)
      return r === '' || (!r.startsWith('..') && !isAbsolute(r))
    })
  const writes: [string, string][] = [
    ['catalog.database', dirname(config.catalog.database)],
    ['torrents.out_dir', config.torrents.out_dir],
    ...(config.torrents.list_path
      ? ([['torrents.list_path', dirname(config.torrents.list_path)]] as [string, string][])
      : []),
    ...(config.mirror.sources.length > 0 && (config.mirror.root || config.catalog.roots[0])
      ? ([['mirror.root', config.mirror.root || config.catalog.roots[0]!]] as [string, string][])
      : []),
  ]
  if (protectSystem === 'strict')
    for (const [setting, p] of writes)
      if (!inside(p, writable))
        fail(
          setting,
          p,
          `${setting} is ${p}, which the service cannot write (ProtectSystem=strict; writable: ${writable.join(' ') || 'nothing'}): add it to ReadWritePaths= or move it`,
        )
  const homes = ['/home', '/root', '/run/user']
  if (protectHome === 'yes' || protectHome === 'tmpfs' || protectHome === 'true') {
    const reads: [string, string][] = [
      ...config.catalog.roots.map((r, j) => [`catalog.roots[${j}]`, r] as [string, string]),
      ...writes,
    ]
    for (const [setting, p] of reads)
      if (inside(p, homes) && !inside(p, writable))
        fail(setting, p, `${setting} is ${p}, hidden from the service by ProtectHome=${protectHome}`)
  }
  if (out.length === 0)
    out.push(
      finding(
        'unit',
        'ok',
        `${unitPath}: runs ${program}${unitConfig ? ` --config ${unitConfig}` : ''}; the config's paths are within its reach`,
        { path: unitPath },
      ),
    )
  return out
}
