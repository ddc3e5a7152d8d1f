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

export class TorrentError extends AacseedError {
  declare readonly code: TorrentErrorCode
  constructor(code: TorrentErrorCode, message: string, location: ErrorLocation = {}) {
    super(code, message, location)
  }
}
