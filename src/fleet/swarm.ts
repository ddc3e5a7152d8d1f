/**
 * Swarm figures: the `scrape` job asks every tracker about every torrent aacseed made and
 * stores the answers as a time series; the health model (health.ts) reads the latest of them
 * for every view and the published list (list.ts).
 */
import type { Config } from '../config/index.js'
import type { Db } from '../db/index.js'
import { errorMessage } from '../errors.js'
import { redactUrl } from '../log/redact.js'
import { TorrentStore } from '../torrents/store.js'
import { ScrapeError, scrapeTracker, type ScrapeResult } from './scrape.js'
import { FleetStore } from './store.js'

export interface ScrapeReport {
  trackers: number
  torrents: number
  /** Figures stored (torrents × trackers that answered). */
  figures: number
  failed: Array<{ tracker: string; error: string }>
}

/** The trackers to scrape: those our torrents announce to, and `scrape.trackers`. */
export function scrapeTrackers(config: Config): string[] {
  return [...new Set([...config.torrents.announce.flat(), ...config.scrape.trackers])]
}

export async function scrapeSwarm(
  db: Db,
  config: Config,
  opts: { signal?: AbortSignal; now?: () => Date } = {},
): Promise<ScrapeReport> {
  const now = opts.now ?? (() => new Date())
  const store = new FleetStore(db)
  // Torrents a seed plan gave the fleet are scraped too: their seeders are why they were chosen.
  const hashes = [
    ...new Set([
      ...new TorrentStore(db).all().map((t) => t.infohash),
      ...store.externalTorrents().map((t) => t.infohash),
    ]),
  ]
  const trackers = scrapeTrackers(config)
  const report =
    hashes.length === 0
      ? { trackers: trackers.length, torrents: 0, figures: 0, failed: [] }
      : await scrapeInto(db, new Map(trackers.map((tr) => [tr, hashes])), config, opts)
  store.pruneScrapes(new Date(now().getTime() - config.scrape.keep_days * 86_400_000).toISOString())
  return report
}

/**
 * Asks each tracker about its infohashes (batched, all trackers at once) and stores what they
 * answer, as the scrape job does. Trackers are stored as shown: a private tracker's passkey
 * never reaches the database.
 */
export async function scrapeInto(
  db: Db,
  work: ReadonlyMap<string, readonly string[]>,
  config: Config,
  opts: { signal?: AbortSignal; now?: () => Date } = {},
): Promise<ScrapeReport> {
  const now = opts.now ?? (() => new Date())
  const store = new FleetStore(db)
  const report: ScrapeReport = {
    trackers: work.size,
    torrents: new Set([...work.values()].flat()).size,
    figures: 0,
    failed: [],
  }
  await Promise.all(
    [...work].map(async ([tracker, hashes]) => {
      let figures: ScrapeResult[] = []
      let error: string | null = null
      try {
        figures = await scrapeTracker(tracker, hashes, {
          timeoutMs: config.scrape.timeout_ms,
          batch: config.scrape.batch,
          ...(opts.signal ? { signal: opts.signal } : {}),
        })
      } catch (e) {
        if (e instanceof ScrapeError) figures = e.partial
        error = errorMessage(e)
        report.failed.push({ tracker: redactUrl(tracker), error })
      }
      store.recordScrape(redactUrl(tracker), figures, hashes.length, now().toISOString(), error)
      report.figures += figures.length
    }),
  )
  return report
}
