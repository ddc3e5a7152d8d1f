/** The part of parse-torrent (WebTorrent's parser) the mirror reads; it ships no types. */
declare module 'parse-torrent' {
  interface ParsedTorrentFile {
    path: string
    name: string
    length: number
  }
  interface ParsedTorrentInfo {
    infoHash: string
    name?: string
    files?: ParsedTorrentFile[]
    pieceLength?: number
    announce?: string[]
  }
  export default function parseTorrent(torrent: Uint8Array | string): Promise<ParsedTorrentInfo>
}
