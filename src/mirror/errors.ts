import { AacseedError } from '../errors.js'

export type MirrorErrorCode =
  /** A whole list cannot be used: not JSON, not an array, too large, too many entries. */
  | 'list-invalid'
  /** One list entry has a field of the wrong type or value. */
  | 'entry-invalid'
  /** An entry or .torrent whose name is not an AAC metadata file or data folder name. */
  | 'not-aac-name'
  /** A magnet link without a valid BitTorrent infohash, or with another one than its entry. */
  | 'magnet-invalid'
  /**
   * A .torrent that is not the one its entry describes (infohash, name, kind or size), or whose files are not
   * the release's.
   */
  | 'torrent-mismatch'
  /** No way to get the .torrent: no usable URL, and a magnet needs an engine that fetches metadata. */
  | 'no-torrent-source'
  /** A network error, a timeout or an HTTP status other than 2xx (after retries). */
  | 'fetch-failed'
  /** A URL from upstream (or a redirect) naming a loopback, private or link-local host. */
  | 'private-host'
  /** One release name listed with two different infohashes: AACs are immutable, neither is taken. */
  | 'conflicting-entry'
  /** A .torrent aacseed cannot check (a piece length it cannot make, `*.utf-8` names that disagree). */
  | 'torrent-unsupported'
  /** The same failure twice in a row: retrying cannot help. */
  | 'failed-repeatedly'
  /** A response or file larger than its configured limit. */
  | 'too-large'
  /** The downloaded release breaks the AAC standard. */
  | 'release-invalid'
  /** The downloaded release, torrented by the naming rules, has another infohash than upstream's. */
  | 'infohash-mismatch'
  /** A release of that name is already in the root (and is not the download). */
  | 'name-taken'
  /** The engine refused the download or reports it in error. */
  | 'download-failed'

/** An expected failure about upstream content or fetching it, naming the source and the entry. */
export class MirrorError extends AacseedError {
  declare readonly code: MirrorErrorCode
  /** Worth retrying later (network, HTTP status): not a verdict on the content. */
  readonly transient: boolean

  constructor(code: MirrorErrorCode, message: string, opts: { transient?: boolean; path?: string } = {}) {
    super(code, message, opts.path ? { path: opts.path } : {})
    this.transient = opts.transient ?? false
  }
}
