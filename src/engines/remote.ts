/**
 * The four daemon kinds behind one constructor, and their settings from `[engine.<kind>]`.
 * Seedboxes build their settings in src/fleet/seedbox.ts (their secret has its own name).
 */
import type { Config } from '../config/schema.js'
import { readSecret } from '../config/load.js'
import { DelugeEngine } from './deluge.js'
import type { RemoteEngine, RemoteKind } from './engine.js'
import { QBittorrentEngine } from './qbittorrent.js'
import { RTorrentEngine } from './rtorrent.js'
import type { RemoteEngineOptions, RemoteSettings } from './rpc.js'
import { TransmissionEngine } from './transmission.js'

export function createRemoteEngine(
  kind: RemoteKind,
  settings: RemoteSettings,
  opts: RemoteEngineOptions = {},
): RemoteEngine {
  switch (kind) {
    case 'transmission':
      return new TransmissionEngine(settings, opts)
    case 'qbittorrent':
      return new QBittorrentEngine(settings, opts)
    case 'deluge':
      return new DelugeEngine(settings, opts)
    case 'rtorrent':
      return new RTorrentEngine(settings, opts)
  }
}

/**
 * The variable holding `[engine]`'s daemon password: AACSEED_TRANSMISSION_PASSWORD,
 * AACSEED_QBITTORRENT_PASSWORD, ...
 */
export function enginePasswordEnv(kind: RemoteKind): string {
  return `AACSEED_${kind.toUpperCase()}_PASSWORD`
}

/**
 * `[engine.<kind>]` as settings: the password from its variable, else `password_file`, else the
 * systemd credential `<kind>-password`, else the URL's.
 */
export function engineSettings(
  kind: RemoteKind,
  config: Config['engine'],
  env: NodeJS.ProcessEnv = process.env,
): RemoteSettings {
  const c = config[kind]
  const password = readSecret(enginePasswordEnv(kind), c.password_file, env, `${kind}-password`)
  return {
    url: c.url,
    username: c.username,
    password: password ?? '',
    pathMap: c.path_map,
    // `[engine.<kind>] labels` is the deprecated place of `[engine] labels`: still read, and it wins.
    labels: c.labels ?? config.labels,
    timeoutMs: c.timeout_ms,
    ...('daemon' in c ? { daemon: c.daemon } : {}),
  }
}
