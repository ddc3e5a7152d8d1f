/**
 * The embedded tracker (`[tracker] enabled`): bittorrent-tracker's `Server`, HTTP and UDP, run
 * inside `aacseed serve`, so peers find a demo or a private fleet without a tracker of its own.
 * Torrents announce to it when `torrents.announce` names it (the demo config does), or, with
 * `torrents.announce` empty, at `tracker.announce_host` (config/load.ts, withTrackerAnnounce).
 *
 * bittorrent-tracker binds UDP for IPv4 and IPv6 on the one host it is given, and binding an
 * IPv6 socket to 127.0.0.1 fails (EINVAL). So the host is split by family: IPv4 and HTTP on
 * `host`, IPv6 UDP on `::1` for a loopback host, `::` for an all-addresses host.
 */
import { isIP } from 'node:net'
import type { Config } from '../config/index.js'
import { ConfigError } from '../errors.js'
import { boundedLine } from '../log/bounded.js'

export type TrackerConfig = Config['tracker']

export interface RunningTracker {
  /** The HTTP announce URL, e.g. http://127.0.0.1:6969/announce. */
  httpAnnounce: string
  /** The UDP announce URL; null with `udp = false`. */
  udpAnnounce: string | null
  close(): Promise<void>
}

interface TrackerServer {
  http: { address(): { port: number } | string | null } | null
  udp4: { address(): { port: number } } | null
  on(event: 'error' | 'warning', fn: (err: Error) => void): void
  on(
    event: 'start' | 'complete' | 'update' | 'stop',
    fn: (addr: string, params: { info_hash: string; left?: number }) => void,
  ): void
  once(event: 'listening' | 'error', fn: (arg?: Error) => void): void
  off(event: 'error', fn: (err: Error) => void): void
  listen(port: number, hostname: { http: string; udp: string; udp6: string }): void
  close(cb?: () => void): void
}

function udp6Host(host: string): string {
  if (isIP(host) === 6) return host
  if (host === '0.0.0.0' || host === '') return '::'
  return '::1'
}

export async function startTracker(
  config: TrackerConfig,
  log: { warn(obj: object, msg: string): void; debug?(obj: object, msg: string): void } = { warn: () => {} },
  /** Warnings about requests (default: 10 a minute, then one line for the rest). */
  warnings: { lines: number; windowMs: number } = { lines: 10, windowMs: 60_000 },
): Promise<RunningTracker> {
  // Loaded here: only serve with the tracker on needs it.
  const { Server } = (await import('bittorrent-tracker')) as unknown as {
    Server: new (opts: object) => TrackerServer
  }
  const server = new Server({ http: true, udp: config.udp, ws: false, stats: false, trustProxy: false })
  await new Promise<void>((resolve, reject) => {
    // Each socket (HTTP, UDP, UDP6) reports a taken port: every one must be heard (an unheard
    // 'error' throws), and the sockets that did bind are closed, or they keep the process alive.
    const onStartError = (e?: Error): void => {
      try {
        server.close(() => {})
      } catch {
        // nothing was listening
      }
      reject(
        (e as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE'
          ? new ConfigError(`tracker: port ${config.port} on ${config.host} is in use ([tracker] port)`)
          : (e ?? new Error('tracker did not start')),
      )
    }
    server.on('error', onStartError)
    server.once('listening', () => {
      server.off('error', onStartError)
      resolve()
    })
    server.listen(config.port, { http: config.host, udp: config.host, udp6: udp6Host(config.host) })
  })
  // Warnings are about requests (a bad announce, an unknown infohash): anyone who can reach the
  // tracker can send thousands, so they are bounded.
  const warn = boundedLine((f, m) => log.warn(f, m), { ...warnings, what: 'tracker warnings' })
  server.on('error', (e) => log.warn({ area: 'tracker', err: e.message }, 'tracker error'))
  server.on('warning', (e) => warn({ area: 'tracker', err: e.message }, 'tracker warning'))
  // Who announced what, at debug: how an operator (and the fleet test) sees a seedbox reach it.
  for (const event of ['start', 'complete', 'update', 'stop'] as const) {
    server.on(event, (addr, params) =>
      log.debug?.(
        { area: 'tracker', event, info_hash: params.info_hash, peer: addr, left: params.left ?? null },
        `tracker: ${event} announce from ${addr}`,
      ),
    )
  }
  const addr = server.http?.address()
  const httpPort = typeof addr === 'object' && addr ? addr.port : config.port
  const shown =
    isIP(config.host) === 6 ? `[${config.host}]` : config.host === '0.0.0.0' ? '127.0.0.1' : config.host
  return {
    httpAnnounce: `http://${shown}:${httpPort}/announce`,
    udpAnnounce: server.udp4 ? `udp://${shown}:${server.udp4.address().port}` : null,
    close: () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          warn.close()
          resolve()
        }),
      ),
  }
}
