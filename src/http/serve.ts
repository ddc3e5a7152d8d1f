/**
 * The HTTP server as `aacseed serve` runs it: its own read-only database connection, a coverage
 * cache over it fed by the fleet's figures, the service's job runner, the engine for /healthz,
 * and the token from the environment, a file or a systemd credential.
 */
import { readFileSync } from 'node:fs'
import type { Config } from '../config/index.js'
import { readSecret } from '../config/load.js'
import { CoverageCache, fleetCoverageInputs, type CoverageInputs } from '../coverage/index.js'
import { readGroupCoverage, storingUpstreamList, upstreamReleases } from '../mirror/index.js'
import { openDatabase, type Db } from '../db/index.js'
import type { Engine } from '../engines/index.js'
import { coverageFigures, readHealth } from '../fleet/index.js'
import { torrentListJson } from '../publish/index.js'
import type { Logger } from '../log/index.js'
import type { JobsApi } from './jobs.js'
import { startHttpServer } from './server.js'

export interface ServeHttpOptions {
  config: Config
  engine: Engine
  jobs: JobsApi
  logger: Logger
  env: NodeJS.ProcessEnv
  /** Fleet, swarm and upstream figures; default: the health state (`readHealth`), read from the database. */
  inputs?: CoverageInputs
}

export function packageVersion(): string {
  return (
    JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version
}

/**
 * What coverage reads besides the catalog: the health state (src/fleet/status.ts) and the mirror's upstream
 * releases.
 */
export function healthInputs(db: Db, config: Config): CoverageInputs {
  return fleetCoverageInputs(
    () => coverageFigures(readHealth(db, config)),
    () => upstreamReleases(db),
  )
}

/** For the coverage worker, which finds it here by name: `readGroupCoverage(db, config)`. */
export { readGroupCoverage }

/** Whether a listen address is this machine only (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h.startsWith('::ffff:127.')
}

/** Starts listening; `close()` stops the server, then closes its database connection. */
export async function startServeHttp(
  opts: ServeHttpOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const { config } = opts
  const token = readSecret('AACSEED_HTTP_TOKEN', config.http.token_file, opts.env, 'http-token')
  const db = openDatabase(config.catalog.database, { readonly: true })
  const logger = opts.logger.child({ area: 'http' })
  // Recomputed in a worker thread (see CoverageCache) unless the caller supplies its own inputs,
  // which cannot cross to a thread.
  const coverage = new CoverageCache({
    db,
    inputs: opts.inputs ?? healthInputs(db, config),
    worker: opts.inputs
      ? undefined
      : {
          dbPath: config.catalog.database,
          inputs: { module: import.meta.url, name: 'healthInputs', arg: config },
          groups: { module: import.meta.url, name: 'readGroupCoverage', arg: config },
        },
    onError: (message) => logger.warn({ err: message }, `coverage: ${message}`),
    // A job storing an upstream list commits its merge slice by slice: one report after it.
    hold: storingUpstreamList,
  })
  try {
    // Not awaited: the first report is computed in the worker while serve starts seeding; the
    // first requests wait for it. A stop before it arrives rejects it (`coverage-closed`):
    // nothing is waiting for it here, and the stop is not an error.
    coverage.ready().catch(() => undefined)
    const server = await startHttpServer({
      db,
      coverage,
      jobs: opts.jobs,
      engine: {
        kind: opts.engine.kind,
        // Not list(): at 10,000 torrents that is tens of milliseconds (or a daemon's large
        // answer) for every probe.
        check: () => opts.engine.ping(),
      },
      token,
      torrentList: () => torrentListJson(db, config),
      groups: () => readGroupCoverage(db, config),
      perTorrentMetrics: config.http.per_torrent_metrics,
      refreshSeconds: config.http.refresh_seconds,
      logger: opts.logger,
      version: packageVersion(),
      host: config.http.host,
      port: config.http.port,
    })
    // Not a field named `token`: the logger redacts that name, and the line said "[redacted]"
    // with a token or without one.
    const tokenState = token ? 'configured' : 'none (read-only)'
    opts.logger.info(
      { area: 'http', url: server.url, auth: `token ${tokenState}` },
      `dashboard and API at ${server.url}; token: ${tokenState}`,
    )
    if (!token && !isLoopback(config.http.host))
      opts.logger.warn(
        { area: 'http', host: config.http.host },
        `http.host ${config.http.host} is reachable beyond this machine and no token is configured: anyone who can reach it reads the dashboard, the API (catalog, coverage, torrents, seedboxes with their redacted URLs, mirror sources, job runs), /metrics and /torrents.json; jobs cannot be started (that needs a token). Set http.token_file or AACSEED_HTTP_TOKEN, or bind to 127.0.0.1`,
      )
    return {
      url: server.url,
      async close() {
        await server.close()
        await coverage.close()
        db.close()
      },
    }
  } catch (e) {
    await coverage.close()
    db.close()
    throw e
  }
}
