/**
 * Coverage computed in a worker thread, so a recomputation never stalls the HTTP server's event
 * loop (at 10,000 torrents `computeCoverage` takes a few hundred milliseconds).
 *
 * One truth: the worker opens the same database read-only (WAL lets a reader run beside the
 * writer), reads it through the same `CoverageSource` and calls the same `computeCoverage` as the
 * in-process cache. The external figures come from a factory named by module and export (a
 * closure cannot cross threads): serve names `healthInputs` with its config.
 *
 * Handing the report back is the other cost: deserializing 10,000 torrents at once on the main
 * thread takes 100–200 ms, as long as the computation. The worker keeps the report and hands it
 * over in slices of at most `SLICE` array elements, one slice per request from the main thread,
 * so each slice is a short task between HTTP requests. The bodies the dashboard loads first are
 * serialized (and gzipped) here too and travel as bytes. The coverage per upstream group (the
 * metrics' `aacseed_group_*`) is computed here as well: it reads the health of every torrent again
 * (a few hundred milliseconds at 10,000), which on the main thread stalled the first request of
 * each new generation.
 */
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { parentPort, workerData } from 'node:worker_threads'
import { gzipSync } from 'node:zlib'
import { openDatabase } from '../db/index.js'
import type { GroupCoverage } from './groups.js'
import type { CoverageInputs } from './inputs.js'
import { coverageJson, timelineJson } from './json.js'
import { computeCoverage } from './model.js'
import { CoverageSource } from './source.js'
import {
  reportSkeleton,
  reportSlices,
  type CoverageWorkerData,
  type FromWorker,
  type ToWorker,
} from './worker-protocol.js'

/**
 * On Linux a thread has its own nice value: this one yields the CPU to the event loop (answering
 * requests) and to the engine whenever they want it. Elsewhere, or when not allowed, it runs at
 * the process's priority.
 */
function lowerThreadPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10)
  } catch {
    // Not Linux, or not permitted: the same priority as the server.
  }
}

async function main(): Promise<void> {
  const port = parentPort
  if (!port) return
  const data = workerData as CoverageWorkerData
  // The first report is awaited by serve's first requests: at nice 10 beside the list threads
  // of a start-up mirror_sync (two cores busy), loading this thread's modules and computing it
  // over an empty list kept the first GET /api/coverage waiting 1.1-1.3 s.
  let lowered = !data.first
  if (lowered) lowerThreadPriority()
  const db = openDatabase(data.dbPath, { readonly: true })
  // It reads each table once per recomputation, front to back (a 1,000,000-entry upstream list
  // is about 150 MB of pages): a 32 MB page cache (connectDatabase's) held those pages for
  // nothing but the next pass, which rereads them anyway, from the OS's cache.
  db.pragma('cache_size = -4096')
  let inputs: CoverageInputs
  if (data.inputs) {
    const mod = (await import(data.inputs.module)) as Record<
      string,
      (db: unknown, arg: unknown) => CoverageInputs
    >
    const factory = mod[data.inputs.name]
    if (typeof factory !== 'function')
      throw new Error(`coverage worker: ${data.inputs.module} exports no function ${data.inputs.name}`)
    inputs = factory(db, data.inputs.arg)
  } else {
    const { NO_EXTERNAL_INPUTS } = await import('./inputs.js')
    inputs = NO_EXTERNAL_INPUTS
  }
  const source = new CoverageSource(db, inputs)
  let groups: ((db: unknown, arg: unknown) => GroupCoverage[]) | undefined
  if (data.groups) {
    const mod = (await import(data.groups.module)) as Record<string, typeof groups>
    groups = mod[data.groups.name]
    if (typeof groups !== 'function')
      throw new Error(`coverage worker: ${data.groups.module} exports no function ${data.groups.name}`)
  }
  let pending: Array<{ target: number; values: unknown[] }> = []
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'next') {
      const slice = pending.shift()
      if (slice) port.postMessage({ type: 'slice', ...slice } satisfies FromWorker)
      return
    }
    try {
      const started = performance.now()
      const report = computeCoverage(source.read())
      const computeMs = Math.round(performance.now() - started)
      const g = msg.generation
      const summary = Buffer.from(
        JSON.stringify(coverageJson(report, { detail: false, generation: g, computedAt: msg.computedAt })),
      )
      const timelineGzip = gzipSync(JSON.stringify(timelineJson(report, { generation: g })), { level: 4 })
      const groupReport = groups?.(db, data.groups!.arg)
      pending = reportSlices(report)
      const begin: FromWorker = {
        type: 'begin',
        generation: g,
        computeMs,
        reread: source.lastReread,
        skeleton: reportSkeleton(report),
        slices: pending.length,
        summary,
        timelineGzip,
        ...(groupReport ? { groups: groupReport } : {}),
      }
      // Copied, not transferred: a short Buffer may sit in Node's shared pool.
      port.postMessage(begin)
      if (!lowered) {
        lowered = true
        lowerThreadPriority()
      }
    } catch (e) {
      pending = []
      port.postMessage({
        type: 'failed',
        generation: msg.generation,
        message: (e as Error).message,
      } satisfies FromWorker)
    }
  })
}

await main()
