/**
 * Torrent engines: the `Engine` interface, its typed errors, and the factory. Code above this
 * folder talks to `Engine` only.
 */
import type { Config } from '../config/schema.js'
import type { Engine, EngineLogger } from './engine.js'
import { TransmissionEngine, type TransmissionEngineOptions } from './transmission.js'
import { WebTorrentEngine, type WebTorrentEngineOptions } from './webtorrent.js'

export {
  COPY_STATES,
  EngineError,
  isEngineError,
  silentLogger,
  type AddResult,
  type CopyState,
  type Engine,
  type EngineErrorCode,
  type EngineLogger,
  type EngineTorrent,
  type EngineTorrentStatus,
} from './engine.js'
export { mapPath } from './transmission.js'

export interface CreateEngineOptions {
  logger?: EngineLogger
  /** Where AACSEED_TRANSMISSION_PASSWORD is read (default process.env). */
  env?: NodeJS.ProcessEnv
  webtorrent?: Omit<WebTorrentEngineOptions, 'logger'>
  transmission?: Omit<TransmissionEngineOptions, 'logger' | 'env'>
}

/** The configured engine, not yet started: call `start()`, and `close()` on shutdown. */
export function createEngine(config: Config['engine'], opts: CreateEngineOptions = {}): Engine {
  const logger = opts.logger
  switch (config.kind) {
    case 'webtorrent':
      return new WebTorrentEngine(config.webtorrent, { ...opts.webtorrent, ...(logger ? { logger } : {}) })
    case 'transmission':
      return new TransmissionEngine(config.transmission, {
        ...opts.transmission,
        ...(logger ? { logger } : {}),
        ...(opts.env ? { env: opts.env } : {}),
      })
  }
}
export { EngineStatusStore, type StoredEngineStatus } from './status.js'
