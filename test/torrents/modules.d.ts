// The two devDependencies used only by these tests ship no types; only what the tests call.
declare module 'create-torrent' {
  interface CreateTorrentOptions {
    name?: string
    pieceLength?: number
    announceList?: string[][]
    creationDate?: Date
    filterJunkFiles?: boolean
    private?: boolean
    createdBy?: string
  }
  export default function createTorrent(
    input: string,
    opts: CreateTorrentOptions,
    cb: (err: Error | null, torrent: Uint8Array) => void,
  ): void
}

declare module 'bittorrent-tracker' {
  import type { EventEmitter } from 'node:events'
  export class Server extends EventEmitter {
    constructor(opts: { http?: boolean; udp?: boolean; ws?: boolean; stats?: boolean; interval?: number })
    listen(port: number, hostname: string, cb: () => void): void
    close(cb?: () => void): void
  }
}
