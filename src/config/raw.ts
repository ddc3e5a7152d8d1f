/**
 * The configuration as written, before the schema checks it: located, read, parsed as TOML,
 * with the environment's overrides applied. `loadConfig` validates it. `torrents make`'s head
 * start (torrents/head-start.ts) reads a few settings from it without loading the schema and zod,
 * which take most of the config's load time.
 */
import { readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { parse as parseToml } from 'smol-toml'
import { ConfigError } from '../errors.js'
import { locateConfig, userDataDir } from './locate.js'

export interface ReadConfigOptions {
  /** `--config PATH`; else the lookup of `locateConfig`. */
  path?: string | undefined
  env?: NodeJS.ProcessEnv
  cwd?: string
}

export interface EnvOverride {
  keys: string[]
  node: Record<string, unknown>
  text: string
}

export interface RawConfig {
  raw: Record<string, unknown>
  /** What relative paths in it are relative to. */
  base: string
  /** The config file's absolute path; undefined when there is none (defaults). */
  file: string | undefined
  overrides: EnvOverride[]
}

const ENV_PREFIX = 'AACSEED_'
// Secrets are read by name where they are used, never merged into the config object.
const NOT_OVERRIDES = new Set(['AACSEED_CONFIG', 'AACSEED_TRANSMISSION_PASSWORD', 'AACSEED_HTTP_TOKEN'])

export function readRawConfig(opts: ReadConfigOptions = {}): RawConfig {
  const env = opts.env ?? process.env
  const cwd = opts.cwd ?? process.cwd()
  const file = locateConfig({ path: opts.path, env, cwd }).path ?? undefined
  let raw: Record<string, unknown> = {}
  // Without a config file, relative defaults (`aacseed.db`, `torrents/`) go to the user's data
  // folder: nothing is written into the current folder unless the user named it.
  let base = userDataDir(env)
  let abs: string | undefined
  if (file !== undefined) {
    abs = resolve(cwd, file)
    let text: string
    try {
      text = readFileSync(abs, 'utf8')
    } catch (e) {
      throw new ConfigError(
        `config: cannot read ${abs}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        { path: abs },
      )
    }
    try {
      raw = parseToml(text) as Record<string, unknown>
    } catch (e) {
      const line = (e as { line?: number }).line
      throw new ConfigError(
        `config: ${abs}${line ? `:${line}` : ''}: invalid TOML: ${(e as Error).message.split('\n')[0]}`,
        { path: abs, ...(line ? { line } : {}) },
      )
    }
    base = dirname(abs)
  }
  const overrides = applyEnvOverrides(raw, env)
  return { raw, base, file: abs, overrides }
}

/** A configured path: relative ones are relative to the config file's folder (`RawConfig.base`). */
export function resolveConfigPath(p: string, base: string): string {
  return p === '' || isAbsolute(p) ? p : resolve(base, p)
}

/** `AACSEED_CATALOG__DATABASE=/x` sets `catalog.database`; values are JSON when they parse as JSON. */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): EnvOverride[] {
  const applied: EnvOverride[] = []
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || NOT_OVERRIDES.has(name) || value === undefined) continue
    const keys = name.slice(ENV_PREFIX.length).toLowerCase().split('__')
    if (keys.length < 2 || keys.some((k) => k === '')) continue
    let node = raw
    for (const k of keys.slice(0, -1)) {
      const next = node[k]
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[k] = {}
      node = node[k] as Record<string, unknown>
    }
    node[keys[keys.length - 1]!] = parseEnvValue(value)
    applied.push({ keys, node, text: value })
  }
  return applied
}

function parseEnvValue(v: string): unknown {
  try {
    return JSON.parse(v)
  } catch {
    return v
  }
}
