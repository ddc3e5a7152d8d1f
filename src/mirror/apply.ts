/**
 * Applying a seed plan (edge): to the local engine, by queueing its torrents for mirror sync;
 * or to the fleet, by giving the fleet each checked .torrent to keep on its seedboxes, which
 * download it from the swarm (no local copy needed).
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { torrentFileName } from '../aac/index.js'
import type { Config } from '../config/index.js'
import type { Db } from '../db/index.js'
import { AacseedError, errorMessage } from '../errors.js'
import { FleetStore } from '../fleet/index.js'
import { writeFileAtomic } from '../torrents/index.js'
import { checkOpaqueTorrent, checkUpstreamTorrent } from './check.js'
import { fetchBytes } from './fetch.js'
import type { PlannedTorrent } from './plan.js'
import { fetchOptions, torrentLimits } from './sources.js'
import { MirrorStore } from './store.js'
import { mirrorRoot } from './sync.js'

export interface ApplyPlanReport {
  /** Newly queued (local) or newly given to the fleet. */
  added: string[]
  /** Already queued or already the fleet's. */
  already: string[]
  failed: Array<{ name: string; code: string; message: string }>
}

export function applyPlanLocally(db: Db, config: Config, chosen: readonly PlannedTorrent[]): ApplyPlanReport {
  const root = mirrorRoot(config)
  const store = new MirrorStore(db)
  const sourceOf = new Map(store.upstream().map((u) => [u.btih, u.source]))
  const at = new Date().toISOString()
  const report: ApplyPlanReport = { added: [], already: [], failed: [] }
  for (const c of chosen) {
    if (c.kind === 'other' || c.collection === null) {
      // Mirror sync downloads an opaque torrent into its group's folder (src/mirror/other.ts).
      const isNew = store.queue(
        {
          btih: c.btih,
          name: c.name,
          kind: 'other',
          collection: '',
          dataSize: c.bytes,
          source: store.opaqueByBtih(c.btih)[0]?.source ?? 'plan',
          wantedBy: 'plan',
          root,
          topGroup: c.topGroup,
          group: c.group,
        },
        at,
      )
      ;(isNew ? report.added : report.already).push(c.name)
      continue
    }
    const isNew = store.queue(
      {
        ...c,
        kind: c.kind,
        collection: c.collection,
        dataSize: c.bytes,
        source: sourceOf.get(c.btih) ?? 'plan',
        wantedBy: 'plan',
        root,
      },
      at,
    )
    ;(isNew ? report.added : report.already).push(c.name)
  }
  return report
}

export async function applyPlanToFleet(
  db: Db,
  config: Config,
  chosen: readonly PlannedTorrent[],
  signal?: AbortSignal,
): Promise<ApplyPlanReport> {
  const fleet = new FleetStore(db)
  const known = new Set(fleet.externalTorrents().map((t) => t.infohash))
  const dir = join(config.torrents.out_dir, 'upstream')
  const report: ApplyPlanReport = { added: [], already: [], failed: [] }
  for (const c of chosen) {
    if (known.has(c.btih)) {
      report.already.push(c.name)
      continue
    }
    if (c.torrentUrl === null) {
      report.failed.push({
        name: c.name,
        code: 'no-torrent-source',
        message: `${c.name}: the lists give no .torrent URL, only a magnet link`,
      })
      continue
    }
    try {
      const bytes = await fetchBytes(
        c.torrentUrl,
        fetchOptions(config.mirror, config.mirror.max_torrent_bytes, signal),
      )
      const t =
        c.kind === 'other'
          ? checkOpaqueTorrent(
              bytes,
              { btih: c.btih, dataSize: c.bytes, label: c.name },
              torrentLimits(config.mirror),
            )
          : checkUpstreamTorrent(
              bytes,
              { btih: c.btih, name: c.name, kind: c.kind, dataSize: c.bytes },
              torrentLimits(config.mirror),
            )
      // Opaque torrents' display names repeat across groups (f_1000.torrent): they are kept by btih.
      const path = join(dir, c.kind === 'other' ? `${c.btih}.torrent` : torrentFileName(c.name))
      await mkdir(dir, { recursive: true })
      await writeFileAtomic(path, bytes)
      fleet.addExternalTorrent(
        {
          infohash: c.btih,
          name: c.name,
          kind: c.kind,
          collection: c.collection ?? '',
          totalSize: t.totalSize,
          torrentPath: path,
        },
        new Date().toISOString(),
      )
      report.added.push(c.name)
    } catch (e) {
      report.failed.push({
        name: c.name,
        code: e instanceof AacseedError ? e.code : 'fetch-failed',
        message: errorMessage(e),
      })
    }
  }
  return report
}
