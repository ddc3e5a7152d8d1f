import { AacseedError, type ErrorLocation } from '../errors.js'

export type TorrentErrorCode =
  /** Bytes that are not canonical bencode; `location.field` holds the byte offset. */
  | 'invalid-bencode'
  | 'invalid-piece-length'
  /** A file's size differs from the cataloged one, or it vanished: catalog it again. */
  | 'file-changed'
  | 'file-unreadable'
  | 'invalid-torrent-input'
  | 'empty-torrent'
  | 'too-many-pieces'
  | 'invalid-torrent'
  | 'unsafe-torrent-path'
  | 'invalid-infohash'
  /** The data as cataloged is not what an upstream torrent it must reproduce lists or hashes. */
  | 'upstream-mismatch'

export class TorrentError extends AacseedError {
  declare readonly code: TorrentErrorCode
  constructor(code: TorrentErrorCode, message: string, location: ErrorLocation = {}) {
    super(code, message, location)
  }
}
