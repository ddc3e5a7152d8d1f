/**
 * Which configuration file a command uses when `--config` is absent, in the order operators
 * expect from other daemons: the environment, the current folder, the user's XDG config
 * folder, then the system one. The first file that exists wins; none means built-in defaults.
 */
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'

export type ConfigSource = 'option' | 'env' | 'cwd' | 'user' | 'system' | 'none'

export interface ConfigLocation {
  /** Absolute path of the file in use; null when none was found (built-in defaults). */
  path: string | null
  source: ConfigSource
  /** Where the lookup looked, in order (for messages and `aacseed config`). */
  searched: string[]
}

export interface LocateOptions {
  path?: string | undefined
  env?: NodeJS.ProcessEnv
  cwd?: string
}

const SYSTEM_CONFIG = '/etc/aacseed/aacseed.toml'

function home(env: NodeJS.ProcessEnv): string {
  return env.HOME || homedir()
}

/**
 * An XDG base directory: the variable when it is an absolute path (the spec ignores relative ones), else the
 * fallback.
 */
function xdgDir(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const v = env[name]
  return v && isAbsolute(v) ? v : join(home(env), fallback)
}

/** `$XDG_CONFIG_HOME/aacseed/aacseed.toml` (default `~/.config/aacseed/aacseed.toml`). */
export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(xdgDir(env, 'XDG_CONFIG_HOME', '.config'), 'aacseed', 'aacseed.toml')
}

/**
 * Where relative default paths (`aacseed.db`, `torrents/`) live when no config file is found:
 * `$XDG_DATA_HOME/aacseed` (default `~/.local/share/aacseed`), never the current folder,
 * which the user did not name.
 */
export function userDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(xdgDir(env, 'XDG_DATA_HOME', join('.local', 'share')), 'aacseed')
}

export function locateConfig(opts: LocateOptions = {}): ConfigLocation {
  const env = opts.env ?? process.env
  const cwd = opts.cwd ?? process.cwd()
  // Named by the user: used (and an error if unreadable) whether or not it exists.
  if (opts.path !== undefined) return { path: resolve(cwd, opts.path), source: 'option', searched: [] }
  if (env.AACSEED_CONFIG)
    return { path: resolve(cwd, env.AACSEED_CONFIG), source: 'env', searched: ['$AACSEED_CONFIG'] }
  const candidates: Array<[string, ConfigSource]> = [
    [resolve(cwd, 'aacseed.toml'), 'cwd'],
    [userConfigPath(env), 'user'],
    [SYSTEM_CONFIG, 'system'],
  ]
  const searched = ['$AACSEED_CONFIG', ...candidates.map(([p]) => p)]
  for (const [path, source] of candidates) if (existsSync(path)) return { path, source, searched }
  return { path: null, source: 'none', searched }
}

const SOURCE_LABEL: Record<ConfigSource, string> = {
  option: '--config',
  env: '$AACSEED_CONFIG',
  cwd: './aacseed.toml',
  user: '$XDG_CONFIG_HOME/aacseed',
  system: '/etc/aacseed',
  none: '',
}

/** One line for `--help` and `aacseed config`: which file is in use and why. */
export function describeConfigLocation(loc: ConfigLocation, env: NodeJS.ProcessEnv = process.env): string {
  if (loc.path === null)
    return `config: none found (looked at ${loc.searched.join(', ')}); built-in defaults, data in ${userDataDir(env)}`
  return `config: ${loc.path} (from ${SOURCE_LABEL[loc.source]})`
}
