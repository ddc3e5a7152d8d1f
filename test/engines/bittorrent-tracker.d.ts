/** The part of bittorrent-tracker's server the engine tests use (it ships no types). */
declare module 'bittorrent-tracker' {
  import { EventEmitter } from 'node:events'

  interface ServerOptions {
    http?: boolean
    udp?: boolean
    ws?: boolean
    stats?: boolean
    /** Announce interval told to clients, in ms. */
    interval?: number
    trustProxy?: boolean
  }

  interface Swarm {
    complete: number
    incomplete: number
  }

  export class Server extends EventEmitter {
    constructor(opts?: ServerOptions)
    /** Swarms by hex infohash. */
    torrents: Record<string, Swarm | undefined>
    listen(port: number, hostname: string, onListening?: () => void): void
    close(cb?: (err?: Error) => void): void
  }
}
