/**
 * The small part of webtorrent 3 that `webtorrent.ts` uses (webtorrent ships no types).
 * Checked against node_modules/webtorrent/index.js and lib/torrent.js, version 3.0.21.
 */
declare module 'webtorrent' {
  import { EventEmitter } from 'node:events'

  type Callback = (err?: Error | null) => void

  /** abstract-chunk-store, as lib/torrent.js constructs and calls it. */
  interface ChunkStoreFile {
    /** Relative to the torrent's `path`, starting with the torrent's name. */
    path: string
    length: number
    offset: number
  }
  interface ChunkStoreOptions {
    path: string
    files: ChunkStoreFile[]
    length: number
    name: string
    [key: string]: unknown
  }
  interface ChunkStore {
    readonly chunkLength: number
    get(
      index: number,
      opts: { offset?: number; length?: number } | null,
      cb: (err: Error | null, buf?: Uint8Array) => void,
    ): void
    put(index: number, buf: Uint8Array, cb?: Callback): void
    close(cb?: Callback): void
    destroy(cb?: Callback): void
  }
  type ChunkStoreConstructor = new (chunkLength: number, opts: ChunkStoreOptions) => ChunkStore

  interface TorrentOptions {
    /** Folder the torrent's files (or its one file) live under. */
    path?: string
    skipVerify?: boolean
    /** Pieces held at start (lib/torrent.js `_startupBitfield`): only those are verified. */
    bitfield?: Uint8Array
    announce?: string[]
    store?: ChunkStoreConstructor
    storeOpts?: Record<string, unknown>
    /** Pieces cached in memory per torrent; 0 disables the cache. */
    storeCacheSlots?: number
    destroyStoreOnDestroy?: boolean
    private?: boolean
    paused?: boolean
    /** Upload slots (unchoked peers). */
    uploads?: number | false
  }

  interface BitField {
    get(index: number): boolean
  }

  interface Torrent extends EventEmitter {
    readonly infoHash: string
    readonly name: string
    /** Total bytes; known once the metadata is processed. */
    readonly length: number
    readonly pieceLength: number
    readonly lastPieceLength: number
    readonly pieces: unknown[]
    readonly bitfield: BitField | undefined
    readonly ready: boolean
    readonly done: boolean
    readonly paused: boolean
    readonly destroyed: boolean
    readonly uploaded: number
    /** Bytes received from peers, invalid data included (documented as such). */
    readonly received: number
    readonly numPeers: number
    /** From the .torrent (or the `private` option): no DHT, no PEX, no extra trackers. */
    readonly private?: boolean
    readonly files: ChunkStoreFile[]
    /** Tracker URLs, once the metadata is processed. */
    readonly announce: string[]
    /** The .torrent (the info dictionary as received), once the metadata is known. */
    readonly torrentFile: Uint8Array | undefined
    destroy(opts?: { destroyStore?: boolean } | null, cb?: Callback): void
    /** A peer to connect to, "ip:port" or "[ip6]:port"; false if refused (blocked, invalid). */
    addPeer(peer: string): boolean
  }

  interface TrackerOptions {
    /** Trackers announced to for every public torrent, besides the torrent's own. */
    announce?: string[]
    /** Passed to fetch as `dispatcher` (an undici Dispatcher) for HTTP trackers. */
    proxyOpts?: { httpAgent?: unknown; httpsAgent?: unknown; socksProxy?: null }
    /** false: no WebRTC, so WebSocket trackers are skipped. */
    wrtc?: false
  }

  interface WebTorrentOptions {
    torrentPort?: number
    dht?: boolean | Record<string, unknown>
    lsd?: boolean
    utPex?: boolean
    utp?: boolean
    natUpnp?: boolean | 'permanent'
    natPmp?: boolean
    tracker?: TrackerOptions | false
    maxConns?: number
    webSeeds?: boolean
    seedOutgoingConnections?: boolean
  }

  class WebTorrent extends EventEmitter {
    constructor(opts?: WebTorrentOptions)
    readonly torrents: Torrent[]
    readonly listening: boolean
    readonly destroyed: boolean
    readonly torrentPort: number
    /** The wire protocol peer id (the `peerId` option's, or a random one), 40 hex digits. */
    readonly peerId: string
    add(torrentId: Uint8Array | string, opts?: TorrentOptions, ontorrent?: (t: Torrent) => void): Torrent
    address(): { address: string; family: string; port: number } | null
    destroy(cb?: Callback): void
  }

  export default WebTorrent
  export type { Torrent, TorrentOptions, ChunkStore, ChunkStoreOptions, ChunkStoreFile, WebTorrentOptions }
}
