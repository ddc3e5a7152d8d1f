/**
 * Torrent engines: the `Engine` interface, its typed errors, and the factory. Code above this
 * folder talks to `Engine` only.
 */
import type { Config } from '../config/schema.js'
import type { Engine, EngineLogger } from './engine.js'
import { createRemoteEngine, engineSettings } from './remote.js'
import type { RetryPolicy } from './rpc.js'
import { WebTorrentEngine, type WebTorrentEngineOptions } from './webtorrent.js'

export {
  COPY_STATES,
  EngineError,
  isEngineError,
  isFailedCopy,
  silentLogger,
  type AddResult,
  type CopyState,
  type Engine,
  type EngineErrorCode,
  type EngineLogger,
  type EngineTorrent,
  type EngineTorrentStatus,
  type EngineKind,
  type ErrorKind,
  type RemoteEngine,
  type RemoteInfo,
  type RemoteKind,
  type RemoteTorrentStatus,
  REMOTE_KINDS,
} from './engine.js'
export { mapPath, type RemoteSettings, type RetryPolicy, type WireCall } from './rpc.js'
export { createRemoteEngine, enginePasswordEnv, engineSettings } from './remote.js'

export interface CreateEngineOptions {
  logger?: EngineLogger
  /** Where AACSEED_<KIND>_PASSWORD is read (default process.env). */
  env?: NodeJS.ProcessEnv
  webtorrent?: Omit<WebTorrentEngineOptions, 'logger'>
  /** Retries of the daemon kinds' RPC calls. */
  retry?: Partial<RetryPolicy>
}

/** The configured engine, not yet started: call `start()`, and `close()` on shutdown. */
export function createEngine(config: Config['engine'], opts: CreateEngineOptions = {}): Engine {
  const logger = opts.logger
  switch (config.kind) {
    case 'webtorrent':
      return new WebTorrentEngine(config.webtorrent, { ...opts.webtorrent, ...(logger ? { logger } : {}) })
    case 'transmission':
    case 'qbittorrent':
    case 'deluge':
    case 'rtorrent':
      return createRemoteEngine(config.kind, engineSettings(config.kind, config, opts.env), {
        ...(logger ? { logger } : {}),
        ...(opts.retry ? { retry: opts.retry } : {}),
      })
  }
}
export { EngineStatusStore, type StoredEngineStatus } from './status.js'
