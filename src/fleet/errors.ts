import { AacseedError } from '../errors.js'

export type FleetErrorCode =
  /** Two seedboxes with one name, a bad name, a seedbox path that is not absolute. */
  | 'fleet-config'
  /** A seedbox answered `free-space` or `torrent-get` with something that is not what Transmission sends. */
  | 'fleet-bad-reply'
  /** A torrent's .torrent file could not be read to push it. */
  | 'fleet-torrent-missing'
  /** A tracker answered a scrape with an error, garbage, or not at all. */
  | 'scrape-failed'

/**
 * An expected fleet failure with a stable code. Seedbox RPC failures stay `EngineError`s
 * (`engine-unreachable`, `engine-auth`, `engine-timeout`, ...) from src/engines.
 */
export class FleetError extends AacseedError {
  declare readonly code: FleetErrorCode

  constructor(code: FleetErrorCode, message: string) {
    super(code, message)
  }
}
