/**
 * `aacseed config`: which configuration file is in use, the settings as resolved (defaults,
 * environment overrides, paths made absolute) and whether each secret is set. A secret's
 * value is never printed: only set or unset, and where it would come from.
 */
import { stringify } from 'smol-toml'
import {
  describeConfigLocation,
  locateConfig,
  readSecret,
  userDataDir,
  type Config,
} from '../../config/index.js'
import { errorMessage } from '../../errors.js'
// The seedbox module alone: `aacseed config` should not load the fleet's planner and pollers.
import { seedboxPasswordEnv } from '../../fleet/seedbox.js'
import { defineCommand, stringFlag, writeJson } from '../command.js'

interface SecretStatus {
  secret: string
  state: 'set' | 'unset' | 'unreadable'
  /** Where it is read from, in order (names and paths, never the value). */
  from: string
  error?: string
}

function secretStatus(
  secret: string,
  envName: string,
  file: string,
  env: NodeJS.ProcessEnv,
  credential: string | undefined,
  url: string | undefined,
): SecretStatus {
  const sources = [`$${envName}`, file ? `file ${file}` : credential ? `credential ${credential}` : '']
  const inUrl = url !== undefined && urlPassword(url) !== ''
  if (url !== undefined) sources.push('the URL')
  const from = sources.filter(Boolean).join(', then ')
  try {
    const set = readSecret(envName, file, env, credential) !== undefined || inUrl
    return { secret, state: set ? 'set' : 'unset', from }
  } catch (e) {
    return { secret, state: 'unreadable', from, error: errorMessage(e) }
  }
}

function urlPassword(u: string): string {
  try {
    return new URL(u).password
  } catch {
    return ''
  }
}

/** URLs may carry a password (`http://user:pass@host/`): shown as `***`. */
function redact<T>(value: T): T {
  if (typeof value === 'string') {
    if (!urlPassword(value)) return value
    const u = new URL(value)
    u.password = '***'
    return u.toString() as T
  }
  if (Array.isArray(value)) return value.map(redact) as T
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v)])) as T
  return value
}

export function secrets(config: Config, env: NodeJS.ProcessEnv): SecretStatus[] {
  return [
    secretStatus(
      'engine.transmission password',
      'AACSEED_TRANSMISSION_PASSWORD',
      config.engine.transmission.password_file,
      env,
      undefined,
      config.engine.transmission.url,
    ),
    secretStatus('http token', 'AACSEED_HTTP_TOKEN', config.http.token_file, env, 'http-token', undefined),
    ...config.fleet.seedboxes.map((b) =>
      secretStatus(
        `seedbox ${b.name} password`,
        seedboxPasswordEnv(b.name),
        b.password_file,
        env,
        `seedbox-${b.name}`,
        b.url,
      ),
    ),
  ]
}

export const configCommand = defineCommand({
  name: 'config',
  usage: '[--json]',
  options: { json: { type: 'boolean' } },
  help: [
    'Without --config the file is the first that exists of: $AACSEED_CONFIG, ./aacseed.toml,',
    '$XDG_CONFIG_HOME/aacseed/aacseed.toml (default ~/.config/aacseed), /etc/aacseed/aacseed.toml.',
    'With none, the built-in defaults, with relative paths in $XDG_DATA_HOME/aacseed',
    '(default ~/.local/share/aacseed). Environment overrides (AACSEED_SECTION__KEY) are applied.',
    '--json   {file, source, searched, config, secrets}',
  ],
  async run(ctx) {
    const location = locateConfig({ path: stringFlag(ctx.values.config), env: ctx.env, cwd: ctx.cwd })
    const config = ctx.config()
    const status = secrets(config, ctx.env)
    const code = status.some((s) => s.state === 'unreadable') ? 1 : 0
    if (ctx.values.json) {
      writeJson(ctx, {
        file: location.path,
        source: location.source,
        searched: location.searched,
        ...(location.path === null ? { data_dir: userDataDir(ctx.env) } : {}),
        config: redact(config),
        secrets: status,
      })
      return code
    }
    const lines = [
      `# ${describeConfigLocation(location, ctx.env)}`,
      '# secrets (values never shown):',
      ...status.map((s) => `#   ${s.secret}: ${s.state}${s.error ? ` (${s.error})` : ''}  [from ${s.from}]`),
      '',
      stringify(redact(config)),
    ]
    ctx.out.write(lines.join('\n') + '\n')
    return code
  },
})
