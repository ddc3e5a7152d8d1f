import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ZodIssue } from 'zod'
import { ConfigError } from '../errors.js'
import { readRawConfig, resolveConfigPath, type EnvOverride } from './raw.js'
import { configSchema, type Config } from './schema.js'

export interface LoadConfigOptions {
  /**
   * `--config PATH`; else the lookup of `locateConfig` (AACSEED_CONFIG, ./aacseed.toml, XDG, /etc); no file
   * at all means defaults.
   */
  path?: string | undefined
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Check that the configured release roots exist (commands that scan need them). */
  checkRoots?: boolean
}

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const { raw, base, file, overrides } = readRawConfig(opts)
  let parsed = configSchema.safeParse(raw)
  // A string setting whose environment value happens to parse as JSON (`AACSEED_TORRENTS__COMMENT=123`,
  // a numeric user name) keeps the text as written instead of failing as "expected string".
  if (!parsed.success && keepEnvStrings(parsed.error.issues, overrides)) parsed = configSchema.safeParse(raw)
  if (!parsed.success) {
    // List every bad setting at once: fixing a config one error per restart is miserable.
    throw new ConfigError(
      parsed.error.issues.map(formatIssue).join('\n'),
      file !== undefined ? { path: file } : {},
    )
  }
  const config = withTrackerAnnounce(resolvePaths(parsed.data, base))
  if (opts.checkRoots) checkRoots(config.catalog.roots)
  return config
}

export function checkRoots(roots: readonly string[], label = 'catalog.roots'): void {
  const bad = roots.flatMap((r, i) =>
    existsSync(r) ? [] : [`config: ${label}[${i}]: path does not exist: ${r}`],
  )
  if (bad.length > 0) throw new ConfigError(bad.join('\n'), { field: label })
}

function formatIssue(issue: ZodIssue): string {
  const path = issue.path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : String(p)),
    '',
  )
  const msg =
    issue.code === 'unrecognized_keys'
      ? `unknown setting(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`
      : issue.message
  return `config: ${path || '(top level)'}: ${msg}`
}

/** Puts back the raw text of overrides that the schema wanted as a string; true if any changed. */
function keepEnvStrings(issues: readonly ZodIssue[], overrides: readonly EnvOverride[]): boolean {
  let changed = false
  for (const issue of issues) {
    if (issue.code !== 'invalid_type' || issue.expected !== 'string') continue
    const o = overrides.find(
      (o) => o.keys.length === issue.path.length && o.keys.every((k, i) => k === issue.path[i]),
    )
    const last = o?.keys[o.keys.length - 1]
    if (o && last !== undefined && typeof o.node[last] !== 'string') {
      o.node[last] = o.text
      changed = true
    }
  }
  return changed
}

function resolvePaths(c: Config, base: string): Config {
  const abs = (p: string): string => resolveConfigPath(p, base)
  return {
    ...c,
    catalog: { ...c.catalog, roots: c.catalog.roots.map(abs), database: abs(c.catalog.database) },
    torrents: { ...c.torrents, out_dir: abs(c.torrents.out_dir), list_path: abs(c.torrents.list_path) },
    engine: {
      ...c.engine,
      transmission: {
        ...c.engine.transmission,
        password_file: abs(c.engine.transmission.password_file),
        // Keys are release roots as aacseed sees them, so they resolve like `catalog.roots` and
        // still match them; values are the daemon's own paths and stay as written.
        path_map: Object.fromEntries(
          Object.entries(c.engine.transmission.path_map).map(([k, v]) => [abs(k), v]),
        ),
      },
    },
    http: { ...c.http, token_file: abs(c.http.token_file) },
    mirror: {
      ...c.mirror,
      root: abs(c.mirror.root),
      // A list is a URL or a file; only a file is resolved.
      sources: c.mirror.sources.map((s) => ({
        ...s,
        list: /^[a-z][a-z0-9+.-]*:\/\//i.test(s.list) ? s.list : abs(s.list),
        torrent_dir: abs(s.torrent_dir),
      })),
    },
  }
}

/**
 * With the embedded tracker on and no `torrents.announce` of its own, the torrents announce to
 * that tracker, at `tracker.announce_host`: a private fleet's seedboxes (and a demo's peers)
 * find each other through the coordinator. Resolved here, once, so making torrents, magnet
 * links, the published list and scraping all read the same trackers.
 */
export function withTrackerAnnounce(c: Config): Config {
  if (!c.tracker.enabled || c.torrents.announce.length > 0) return c
  return { ...c, torrents: { ...c.torrents, announce: trackerAnnounceTiers(c.tracker) } }
}

/** The embedded tracker's announce URLs as tiers: HTTP first, then UDP (when on). */
export function trackerAnnounceTiers(tracker: Config['tracker']): string[][] {
  let host = tracker.announce_host || tracker.host
  if (host === '' || host === '0.0.0.0' || host === '::' || host === '[::]') host = '127.0.0.1'
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`
  const at = `${host}:${tracker.port}`
  return [[`http://${at}/announce`], ...(tracker.udp ? [[`udp://${at}`]] : [])]
}

/**
 * Reads a secret: from the environment variable, else the configured file, else the systemd
 * credential of that name (`LoadCredential=NAME:...` puts it in $CREDENTIALS_DIRECTORY).
 * An empty value means "not set". The value is never logged or echoed in errors.
 */
export function readSecret(
  envName: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  credential?: string,
): string | undefined {
  const fromEnv = env[envName]
  if (fromEnv) return fromEnv
  const path =
    file || (credential && env.CREDENTIALS_DIRECTORY ? join(env.CREDENTIALS_DIRECTORY, credential) : '')
  if (!path) return undefined
  try {
    return readFileSync(path, 'utf8').trim() || undefined
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    // An optional credential that systemd did not provide is simply absent.
    if (!file && code === 'ENOENT') return undefined
    throw new ConfigError(`config: cannot read secret file ${path}: ${code ?? 'error'}`, { path })
  }
}
