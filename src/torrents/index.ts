export { TorrentError, type TorrentErrorCode } from './errors.js'
export {
  encode,
  Bencoded,
  decode,
  decodeDict,
  BencodeError,
  type BencodeValue,
  type BencodeDict,
  type Decoded,
  type DecodedDict,
  type DecodeOptions,
} from './bencode.js'
export {
  choosePieceLength,
  validatePieceLength,
  resolvePieceLength,
  isValidPieceLength,
  MIN_PIECE_LENGTH,
  MAX_PIECE_LENGTH,
} from './piece-length.js'
export { hashPieces, type HashFile, type HashOptions } from './hasher.js'
export {
  buildTorrent,
  parseTorrent,
  readForeignInfo,
  wrapForeignInfo,
  firstBadPiece,
  webSeedUrl,
  type TorrentInput,
  type TorrentFile,
  type BuiltTorrent,
  type ParsedTorrent,
  type ParseLimits,
  type ForeignInfo,
  type TorrentOuter,
} from './metainfo.js'
export { sortByNameBytes, compareNameBytes, unsafeComponentReason } from './paths.js'
export { magnetLink, type MagnetInput } from './magnet.js'
export { writeFileAtomic, isAtomicTempName } from './write.js'
export {
  makeTorrents,
  CREATED_BY,
  type MakeOptions,
  type MakeReport,
  type MadeTorrent,
  type TorrentShape,
} from './make.js'
export {
  torrentListEntries,
  formatTorrentList,
  publishTorrentList,
  upstreamListEntry,
  type TorrentListEntry,
  type UpstreamListEntry,
  type PublishedListEntry,
  type ListFormat,
  type ListFlags,
  type SwarmFigures,
  type ListSettings,
} from './list.js'
export { TorrentStore, type TorrentRow } from './store.js'
