/**
 * npm run bench:mirror [-- --rounds N --meta-records N --data-mib N --no-io --list-entries N
 *   --timeline --kinds data,meta --sync-node-args ARGS --seeder-node-args ARGS]
 *
 * `--timeline` prints each timed `mirror sync`'s steps (its debug log: lists read, .torrent
 * fetched, engine added, first announce answered, first peer, first and last piece, checked,
 * published, engine stopped) as seconds after it was spawned; `--sync-node-args` passes Node
 * options to it (e.g. '--cpu-prof --cpu-prof-dir=DIR'); `--kinds data` times the data folder only.
 * Each round prints the CPU seconds of both downloaders (aria2c's and ours, from this process's
 * waited-for children) and the seeder's CPU over the same download: on a 2-core machine the
 * downloader's CPU is taken from the seeder's.
 *
 * Then the issue #12 list case (bench/mirror-list.ts): a `--list-entries` (default 1,000,000)
 * entry upstream list read by `aacseed mirror sources` and by serve's `mirror_sync` job, with
 * /healthz probed throughout; `--list-entries 0` leaves it out.
 *
 * Mirroring a release against aria2c downloading it, in one run.
 *
 * Upstream: `aacseed serve` seeds the 2 GiB data folder the seed benchmark uses (or, for a quick
 * trial, `--data-mib N` of its own) and a metadata
 * file (`--meta-records`, default 500,000 records), announcing to a local tracker; its torrent
 * list and .torrent files are on a local HTTP server.
 *
 * Time, in `--rounds` interleaved rounds (default 3), for each release:
 * 1. reference: aria2c downloads its .torrent from that seeder (every piece checked);
 * 2. ours: `aacseed mirror sync` into an empty release root, following only that kind (a
 *    source with `kinds = ["data"]` or `["meta"]`): the list and the .torrent fetched and
 *    checked, the download, the files checked, renamed into the root, scanned, its torrent
 *    written around upstream's info dictionary and published.
 * Bar (#14 §1): ours ≤ 1.10 × aria2c for the data folder, in every round. The metadata file's
 * ratio is printed too; on a file that downloads in a second or two it is mostly start-up.
 *
 * Fairness, the same for both sides: the seeder's data is read once into the page cache before
 * the first round; before each timed download the page cache's dirty pages are written out
 * (`sync`), and each side's download is deleted as soon as it is checked. Before, a mirror's
 * 2 GiB stayed on disk until the next round, and its write-back ran during the next round's
 * aria2c (aria2c took 11.3 s in round 1, 14–16 s after); which side goes first alternates by
 * round.
 *
 * Reads after the download completed (#14 §1), one more `mirror sync` per release under
 * `strace -f -y` (not timed: strace slows every system call). What is measured, and why:
 * - the bar's figure: bytes read by system calls from the release's own files (under the
 *   mirror's release root, staging included) after the engine reported every piece verified
 *   (the process logs that moment at debug level), per byte mirrored. This counts page-cache
 *   hits too, so a re-hash of just-downloaded (cached) data shows in full; /proc's
 *   `read_bytes` would hide it, and dropping the cache needs root. Bars: ≤ 0.05 for a data
 *   folder, ≤ 1.05 for a metadata file (its one decompress-and-validate pass).
 * - beside it, the process's own /proc/<pid>/io over the same phase, as logged with the
 *   release's steps: `rchar` (every read system call: the catalog database's reads, which
 *   SQLite makes many times over a metadata file's size, sockets, modules loaded) and
 *   `read_bytes` (what came from the disk: near zero while the page cache holds the data).
 */
import { spawnSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { TestContext } from 'node:test'
import { parseArgs } from 'node:util'
import { writeLargeMetaFile } from '../src/catalog/index.js'
import { aria2cDownload, startTracker, writeRandom } from '../test/engines/fixtures.js'
import { freePort, waitFor } from '../test/helpers.js'
import { startStaticServer } from '../test/mirror/fixtures.js'
import { ensureData, FOLDER, TOTAL } from './data.js'
import { measure, type Measured } from './measure.js'
import { mirrorListBench } from './mirror-list.js'

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'meta-records': { type: 'string', default: '500000' },
    'data-mib': { type: 'string' },
    'no-io': { type: 'boolean', default: false },
    timeline: { type: 'boolean', default: false },
    'list-entries': { type: 'string', default: '1000000' },
    // Node options for the timed `mirror sync`, split on spaces (e.g. '--cpu-prof --cpu-prof-dir=DIR').
    'sync-node-args': { type: 'string', default: '' },
    // Node options for the seeder (`aacseed serve`), e.g. '--cpu-prof --cpu-prof-dir=DIR' (its
    // profile is written when the benchmark ends it with SIGINT).
    'seeder-node-args': { type: 'string', default: '' },
    // Which releases the rounds time: `data,meta` (default), or one of them while developing.
    kinds: { type: 'string', default: 'data,meta' },
  },
})
const SYNC_NODE_ARGS = flags['sync-node-args'].split(' ').filter((a) => a !== '')
const SEEDER_NODE_ARGS = flags['seeder-node-args'].split(' ').filter((a) => a !== '')
const KINDS = flags.kinds.split(',') as Array<'data' | 'meta'>
const ROUNDS = Number(flags.rounds)
const META_RECORDS = Number(flags['meta-records'])
const DATA_MIB = flags['data-mib'] === undefined ? null : Number(flags['data-mib'])

const repo = resolve(import.meta.dirname, '..', '..')
const cli = join(repo, 'bin', 'aacseed.js')
const MIRROR_CACHE = join(repo, '.bench-cache', 'mirror')
const cleanups: Array<() => unknown> = []
const ctx = {
  after: (fn: () => unknown) => cleanups.push(fn),
  diagnostic: () => {},
  skip: () => {},
} as unknown as TestContext

type Kind = 'data' | 'meta'

function run(args: string[], cwd: string): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [cli, ...args, '--config', join(cwd, 'aacseed.toml')], {
      cwd,
      stdio: 'inherit',
    })
    child.on('exit', (c) => (c === 0 ? res() : rej(new Error(`aacseed ${args.join(' ')} exited ${c}`))))
  })
}

/**
 * CPU seconds (user, system) of this process's children that have exited and been waited for,
 * from /proc/self/stat (cutime, cstime): the difference across one child's run is its CPU.
 */
function childrenCpu(): { user: number; sys: number } {
  const s = readFileSync('/proc/self/stat', 'utf8')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  // Fields 16 and 17 of stat(5), counted from the state (field 3) here; clock ticks of 1/100 s.
  return { user: Number(f[13]) / 100, sys: Number(f[14]) / 100 }
}

/** CPU seconds (user+sys) a running process has used so far (the seeder's), from /proc/PID/stat. */
function processCpu(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

/** Writes out dirty pages (an earlier download's) so that no timed download pays for them. */
function settle(): void {
  spawnSync('sync')
}

function bytesOf(path: string): number {
  const st = statSync(path)
  return st.isDirectory() ? readdirSync(path).reduce((n, f) => n + statSync(join(path, f)).size, 0) : st.size
}

/** The metadata file, generated once under .bench-cache/mirror/ (its own root: bench:seed's stays as it is). */
async function ensureMeta(): Promise<{ root: string; name: string; bytes: number }> {
  const root = join(MIRROR_CACHE, `releases-${META_RECORDS}`)
  const marker = join(MIRROR_CACHE, `complete-${META_RECORDS}`)
  if (!existsSync(marker)) {
    rmSync(root, { recursive: true, force: true })
    mkdirSync(root, { recursive: true })
    console.log(`generating a metadata file of ${META_RECORDS.toLocaleString('en')} records (once)…`)
    const r = await writeLargeMetaFile(root, 'zlib3_records', META_RECORDS)
    writeFileSync(marker, r.name)
  }
  const name = readFileSync(marker, 'utf8')
  return { root, name, bytes: statSync(join(root, name)).size }
}

/** A smaller data folder of the same shape, for a quick trial of the benchmark itself. */
function ensureSmallData(mib: number): { root: string; total: number } {
  const root = join(MIRROR_CACHE, `data-${mib}`)
  const dir = join(root, FOLDER)
  const marker = join(MIRROR_CACHE, `data-complete-${mib}`)
  if (!existsSync(marker)) {
    rmSync(root, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    let left = mib * 2 ** 20
    for (let i = 0; left > 0; i++) {
      const size = Math.min(left, 100_000 + ((i * 7_919_993) % 11_900_000))
      writeRandom(
        join(
          dir,
          `aacid__zlib3_files__20230808T0515${String(10 + (i % 50))}Z__${22430000 + i}__${String(i).padStart(22, 'A')}`,
        ),
        size,
      )
      left -= size
    }
    writeFileSync(marker, '')
  }
  return { root, total: mib * 2 ** 20 }
}

interface LogLine {
  msg?: string
  time?: string
  io?: { rchar: number; read_bytes: number } | null
}

interface IoFigures {
  releaseBytesRead: number
  rchar: number | null
  readBytes: number | null
}

/**
 * Bytes read from files under `root` after `afterS` (epoch seconds), from an `strace -f -y -ttt`
 * log: each read names its file (`read(7</path>, …) = n`); a call another thread interrupted is
 * split into `<unfinished ...>` and `<... read resumed>` lines.
 */
function releaseReads(trace: string, root: string, afterS: number): number {
  const pending = new Map<string, string>()
  let total = 0
  const call = /^(\d+)\s+(\d+\.\d+) (?:read|pread64|readv|preadv|preadv2)\(\d+<([^>]*)>/
  const resumed = /^(\d+)\s+(\d+\.\d+) <\.\.\. (?:read|pread64|readv|preadv|preadv2) resumed>.*= (\d+)/
  for (const line of trace.split('\n')) {
    const c = call.exec(line)
    if (c) {
      const [, pid, at, path] = c
      if (line.endsWith('<unfinished ...>')) {
        pending.set(pid!, path!)
        continue
      }
      const n = /= (\d+)$/.exec(line)
      if (n && Number(at) >= afterS && path!.startsWith(root)) total += Number(n[1])
      continue
    }
    const r = resumed.exec(line)
    if (r) {
      const path = pending.get(r[1]!)
      pending.delete(r[1]!)
      if (path !== undefined && Number(r[2]) >= afterS && path.startsWith(root)) total += Number(r[3])
    }
  }
  return total
}

async function main(): Promise<void> {
  const small = DATA_MIB === null ? null : ensureSmallData(DATA_MIB)
  const dataRoot = small?.root ?? ensureData()
  const dataTotal = small?.total ?? TOTAL
  const meta = await ensureMeta()
  const dir = join(MIRROR_CACHE, 'run')
  rmSync(dir, { recursive: true, force: true })
  const up = join(dir, 'up')
  mkdirSync(join(up, 'site'), { recursive: true })
  const tracker = await startTracker(ctx)
  const site = await startStaticServer(ctx, join(up, 'site'))
  writeFileSync(
    join(up, 'aacseed.toml'),
    `[catalog]\nroots = [${JSON.stringify(dataRoot)}, ${JSON.stringify(meta.root)}]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "site/torrents"\nlist_path = "site/torrents.json"\nurl_base = "${site.url}/torrents/"\nannounce = [["${tracker.announce}"]]\n` +
      `[engine.webtorrent]\nhost = "127.0.0.1"\nport = ${await freePort()}\ndht = false\nlsd = false\n[http]\nenabled = false\n`,
  )
  console.log('upstream: cataloging and torrenting the releases…')
  await run(['scan'], up)
  await run(['torrents', 'make'], up)
  const seeder: ChildProcess = spawn(
    process.execPath,
    [...SEEDER_NODE_ARGS, cli, 'serve', '--config', join(up, 'aacseed.toml')],
    { cwd: up, stdio: 'ignore' },
  )
  cleanups.push(async () => {
    if (SEEDER_NODE_ARGS.length === 0) return seeder.kill('SIGKILL')
    // Node writes a --cpu-prof profile on a clean exit only: stop it as an operator would.
    seeder.kill('SIGINT')
    await new Promise((res) => {
      seeder.once('exit', res)
      setTimeout(res, 20_000).unref()
    })
  })
  const list = (await (await fetch(`${site.url}/torrents.json`)).json()) as Array<{ btih: string }>
  await waitFor('upstream seeding', () => list.every((e) => tracker.seeders(e.btih) > 0), 600_000, 200)

  const releases: Record<Kind, { name: string; bytes: number }> = {
    data: { name: FOLDER, bytes: dataTotal },
    meta: { name: meta.name, bytes: meta.bytes },
  }

  /** CPU seconds of a timed download: the downloader's (user, sys) and the seeder's (user+sys). */
  interface Cpu {
    user: number
    sys: number
    seeder: number
  }
  function cpuFrom(before: { user: number; sys: number }, seederBefore: number): Cpu {
    const after = childrenCpu()
    return {
      user: after.user - before.user,
      sys: after.sys - before.sys,
      seeder: processCpu(seeder.pid!) - seederBefore,
    }
  }

  async function aria(kind: Kind): Promise<{ seconds: number; cpu: Cpu }> {
    const out = join(dir, 'aria2c')
    rmSync(out, { recursive: true, force: true })
    mkdirSync(out)
    settle()
    const cpuBefore = childrenCpu()
    const seederBefore = processCpu(seeder.pid!)
    const started = process.hrtime.bigint()
    await aria2cDownload(ctx, join(up, 'site', 'torrents', `${releases[kind].name}.torrent`), out, 900_000)
    const s = Number(process.hrtime.bigint() - started) / 1e9
    const cpu = cpuFrom(cpuBefore, seederBefore)
    if (bytesOf(join(out, releases[kind].name)) !== releases[kind].bytes)
      throw new Error(`aria2c did not download all of ${releases[kind].name}`)
    rmSync(out, { recursive: true, force: true })
    return { seconds: s, cpu }
  }

  async function sync(
    kind: Kind,
    traced: string | null,
  ): Promise<{ m: Measured; root: string; startedAt: number; cpu: Cpu }> {
    const m = join(dir, `mirror-${kind}`)
    rmSync(m, { recursive: true, force: true })
    mkdirSync(join(m, 'releases'), { recursive: true })
    writeFileSync(
      join(m, 'aacseed.toml'),
      `[catalog]\nroots = ["releases"]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "torrents"\nlist_path = "torrents.json"\n` +
        `[log]\nlevel = "${traced || flags.timeline ? 'debug' : 'info'}"\n` +
        `[engine.webtorrent]\nhost = "127.0.0.1"\nport = ${await freePort()}\ndht = false\nlsd = false\n[mirror]\nreserve_bytes = 0\n[[mirror.sources]]\nname = "upstream"\nlist = "${site.url}/torrents.json"\nkinds = ["${kind}"]\n`,
    )
    const args = [cli, 'mirror', 'sync', '--json', '--config', join(m, 'aacseed.toml')]
    settle()
    const cpuBefore = childrenCpu()
    const seederBefore = processCpu(seeder.pid!)
    const startedAt = Date.now()
    const measured = traced
      ? await measure(
          'strace',
          [
            '-f',
            '-y',
            '-ttt',
            '-qq',
            '-s',
            '0',
            '-e',
            'trace=read,pread64,readv,preadv,preadv2',
            '-e',
            'signal=none',
            '-o',
            traced,
            process.execPath,
            ...args,
          ],
          { cwd: m },
        )
      : await measure(process.execPath, [...SYNC_NODE_ARGS, ...args], { cwd: m })
    const cpu = cpuFrom(cpuBefore, seederBefore)
    if (measured.code !== 0) throw new Error(`mirror sync exited ${measured.code}: ${measured.stderr}`)
    const report = JSON.parse(measured.stdout) as { done: string[] }
    const { name, bytes } = releases[kind]
    if (report.done.length !== 1 || bytesOf(join(m, 'releases', name)) !== bytes)
      throw new Error(`mirror sync did not bring ${name}: ${measured.stdout}`)
    rmSync(m, { recursive: true, force: true })
    return { m: measured, root: resolve(m, 'releases'), startedAt, cpu }
  }

  console.log(
    `data folder:   ${FOLDER} (${(dataTotal / 2 ** 20).toFixed(0)} MiB, ${readdirSync(join(dataRoot, FOLDER)).length} files)`,
  )
  console.log(
    `metadata file: ${meta.name} (${(meta.bytes / 2 ** 20).toFixed(0)} MiB, ${META_RECORDS.toLocaleString('en')} records)`,
  )
  // The seeder serves from the page cache in every round, the first included.
  for (const f of readdirSync(join(dataRoot, FOLDER))) readFileSync(join(dataRoot, FOLDER, f))
  readFileSync(join(meta.root, meta.name))
  console.log(
    'fairness: seeder data cached before round 1; dirty pages written out (sync) before each timed download; each download deleted once checked; aria2c first in odd rounds, aacseed first in even rounds',
  )
  const ratios: Record<Kind, number[]> = { data: [], meta: [] }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const kind of KINDS) {
      let ref: Awaited<ReturnType<typeof aria>>
      let ours: Awaited<ReturnType<typeof sync>>
      if (round % 2 === 1) {
        ref = await aria(kind)
        ours = await sync(kind, null)
      } else {
        ours = await sync(kind, null)
        ref = await aria(kind)
      }
      const a = ref.seconds
      const ratio = ours.m.seconds / a
      ratios[kind].push(ratio)
      if (flags.timeline) {
        const lines = ours.m.stderr
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as LogLine)
        const t0 = ours.startedAt
        for (const l of lines) console.log(`  +${((Date.parse(l.time!) - t0) / 1000).toFixed(2)} s ${l.msg}`)
      }
      console.log(
        `round ${round} ${kind.padEnd(4)}: aria2c ${a.toFixed(2)} s, aacseed mirror sync ${ours.m.seconds.toFixed(2)} s, ratio ${ratio.toFixed(2)}${kind === 'data' ? ` (bar ≤ 1.10: ${ratio <= 1.1 ? 'met' : 'NOT met'})` : ''}, peak RSS ${ours.m.peakRssMb?.toFixed(0) ?? '?'} MB`,
      )
      const cpuText = (c: Cpu): string =>
        `${c.user.toFixed(2)} user + ${c.sys.toFixed(2)} sys, seeder ${c.seeder.toFixed(2)}`
      console.log(`  CPU seconds: aria2c ${cpuText(ref.cpu)}; aacseed ${cpuText(ours.cpu)}`)
    }
  }
  const worst = Math.max(...ratios.data)
  console.log(
    `data folder, every round ≤ 1.10 × aria2c: ${worst <= 1.1 ? 'met' : 'NOT met'} (worst ${worst.toFixed(2)})`,
  )

  if (flags['no-io']) return
  if (spawnSync('strace', ['-V']).status !== 0) {
    console.log('strace is not installed: the reads after the download were not measured')
    return
  }
  for (const kind of ['data', 'meta'] as const) {
    const trace = join(dir, `strace-${kind}.txt`)
    const { m, root } = await sync(kind, trace)
    const lines = m.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine)
    const downloaded = lines.find((l) => l.msg?.startsWith('mirror: downloaded and verified by the engine'))
    const published = lines.find((l) => l.msg === 'mirror: published')
    if (!downloaded?.time) throw new Error(`no "downloaded" log line in: ${m.stderr.slice(-2000)}`)
    const io: IoFigures = {
      releaseBytesRead: releaseReads(
        readFileSync(trace, 'utf8'),
        root + '/',
        Date.parse(downloaded.time) / 1000,
      ),
      rchar: downloaded.io && published?.io ? published.io.rchar - downloaded.io.rchar : null,
      readBytes: downloaded.io && published?.io ? published.io.read_bytes - downloaded.io.read_bytes : null,
    }
    rmSync(trace, { force: true })
    const bytes = releases[kind].bytes
    const per = io.releaseBytesRead / bytes
    const bar = kind === 'data' ? 0.05 : 1.05
    const mib = (n: number | null): string =>
      n === null ? '?' : n < 2 ** 20 ? `${n} bytes` : `${(n / 2 ** 20).toFixed(1)} MiB`
    console.log(
      `${kind.padEnd(4)} after the download: ${mib(io.releaseBytesRead)} read from the release's files for ${mib(bytes)} mirrored = ${per.toFixed(3)} per byte (bar ≤ ${bar}: ${per <= bar ? 'met' : 'NOT met'}); process /proc io over the phase: rchar ${mib(io.rchar)} (${io.rchar === null ? '?' : (io.rchar / bytes).toFixed(3)} per byte), read_bytes ${mib(io.readBytes)}`,
    )
  }
  rmSync(dir, { recursive: true, force: true })
}

try {
  await main()
} finally {
  for (const c of cleanups.reverse()) await c()
}
const LIST_ENTRIES = Number(flags['list-entries'])
if (LIST_ENTRIES > 0) {
  console.log(`\nthe list case (issue #12, bench/mirror-list.ts):`)
  await mirrorListBench(LIST_ENTRIES)
}
process.exit()
