/**
 * `aacseed torrents make` as a user runs it, a whole process, against `mktorrent -l 22 -t 2` as a
 * process, on a 2 GiB AAC data folder of ~360 blobs, page cache warm.
 * Bars: our time ≤ 1.25 × mktorrent's, our peak RSS ≤ 200 MB, equal infohashes.
 *
 *   npm run bench:torrent                         2 rounds, best of each kept
 *   npm run bench:torrent -- --rounds 5           more rounds on a busy machine
 *   npm run bench:torrent -- --gib 0.25           a smaller folder (cached separately)
 *
 * The folder is generated once under .bench-cache/torrent/ and cataloged once (`aacseed scan`,
 * not timed). Each timed round starts from that catalog with no .torrent made yet and runs
 * `node bin/aacseed.js torrents make` (start-up, catalog, hashing, writing the .torrent and the
 * list: everything the user waits for); its peak RSS is the process's VmHWM. For reference it
 * also times the library call alone (`buildTorrent` in a child process), which separates
 * start-up and bookkeeping from hashing.
 * Exit code: 0 all bars met, 1 a bar missed, 2 infohashes differ.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync } from 'node:fs'
import { measure } from './measure.js'
import { createCipheriv, createHash } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import {
  encodeShortuuid,
  formatAacId,
  formatDataFolderName,
  makeRange,
  timestampFromSeconds,
} from '../src/aac/index.js'
// The modules themselves, not the folder's index: that also loads the catalog and SQLite, which
// would only add start-up work to the child being measured.
import { buildTorrent, parseTorrent, type TorrentFile } from '../src/torrents/metainfo.js'
import { sortByNameBytes } from '../src/torrents/paths.js'

const REPO_ROOT = resolve(import.meta.dirname, '..', '..')
const gibArg = process.argv.indexOf('--gib')
const GIB = gibArg > 0 ? Number(process.argv[gibArg + 1]) : 2
const TOTAL = Math.round(GIB * 1024 ** 3)
// The release root (what `catalog.roots` names) is CACHE/root; the folder is inside it.
const CACHE = join(REPO_ROOT, '.bench-cache', GIB === 2 ? 'torrent' : `torrent-${GIB}`)
const ROOT = join(CACHE, 'root')
const CLI = join(REPO_ROOT, 'bin', 'aacseed.js')
const MIN_FILE = 100_000
const MAX_FILE = 12_000_000
const PIECE_LOG2 = 22
const RATIO_BAR = 1.25
const RSS_BAR_MB = 200
const GENERATOR_VERSION = 2

interface Manifest {
  version: number
  folder: string
  files: TorrentFile[]
}

/** splitmix32: a fixed seed gives the same names and sizes on every machine. */
function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32
  }
}

function plan(): Manifest {
  const rand = prng(20230808)
  const start = Date.UTC(2023, 7, 8, 5, 15, 3) / 1000
  const files: TorrentFile[] = []
  let total = 0
  for (let i = 0; total < TOTAL; i++) {
    const size = Math.min(TOTAL - total, MIN_FILE + Math.floor(rand() * (MAX_FILE - MIN_FILE)))
    const ts = timestampFromSeconds(start + Math.floor(i / 3)).text
    let uuid = 0n
    for (let k = 0; k < 4; k++) uuid = (uuid << 32n) | BigInt(Math.floor(rand() * 2 ** 32))
    // Some blobs carry the source's id and some do not, so `__1__` and `__A` orderings both occur.
    const id = rand() < 0.8 ? String(22_400_000 + Math.floor(rand() * 100_000)) : null
    files.push({ path: formatAacId('zlib3_files', ts, id, encodeShortuuid(uuid)), length: size })
    total += size
  }
  const last = files[files.length - 1]!.path.split('__')[2]!
  const folder = formatDataFolderName('annas_archive', makeRange('zlib3_files', '20230808T051503Z', last))
  return { version: GENERATOR_VERSION, folder, files: sortByNameBytes(files) }
}

function ensureData(): Manifest {
  const manifestPath = join(CACHE, 'manifest.json')
  const want = plan()
  if (existsSync(manifestPath)) {
    const have = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest
    const dir = join(ROOT, have.folder)
    if (
      JSON.stringify(have) === JSON.stringify(want) &&
      have.files.every((f) => statSync(join(dir, f.path), { throwIfNoEntry: false })?.size === f.length)
    )
      return have
  }
  rmSync(CACHE, { recursive: true, force: true })
  const dir = join(ROOT, want.folder)
  mkdirSync(dir, { recursive: true })
  process.stdout.write(`generating ${want.files.length} files (${TOTAL / 1024 ** 3} GiB) in ${dir} ...\n`)
  const zeros = Buffer.alloc(8 << 20)
  want.files.forEach((f, i) => {
    // AES-CTR keystream: incompressible, reproducible and written at GB/s.
    const key = createHash('sha256').update(`aacseed-bench-${i}`).digest()
    const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
    const fd = openSync(join(dir, f.path), 'w')
    for (let left = f.length; left > 0;) {
      const n = Math.min(left, zeros.length)
      writeSync(fd, cipher.update(zeros.subarray(0, n)))
      left -= n
    }
    closeSync(fd)
  })
  // Written last: its presence means the folder is complete.
  writeFileSync(manifestPath, JSON.stringify(want))
  return want
}

function warm(dir: string, files: TorrentFile[]): void {
  const buf = Buffer.allocUnsafe(16 << 20)
  for (const f of files) {
    const fd = openSync(join(dir, f.path), 'r')
    while (readSync(fd, buf, 0, buf.length, null) > 0);
    closeSync(fd)
  }
}

/**
 * CPU seconds (user + system) of all waited-for children so far, from /proc/self/stat's cutime
 * and cstime, in USER_HZ ticks (100 on Linux). On a machine shared with other work the wall
 * times swing; the CPU each side spent does much less, so it is printed too. Ours includes
 * Node's start-up and the workers' (about 0.15 s), mktorrent's next to nothing.
 */
function childrenCpu(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[13]) + Number(fields[14])) / 100
}

interface Run {
  seconds: number
  cpu: number
  infoHash: string
}

function timeMktorrent(dir: string, out: string): Run {
  rmSync(out, { force: true })
  const cpu0 = childrenCpu()
  const t0 = process.hrtime.bigint()
  const r = spawnSync(
    'mktorrent',
    ['-l', String(PIECE_LOG2), '-t', '2', '-d', '-a', 'http://127.0.0.1:1/announce', '-o', out, dir],
    { encoding: 'utf8' },
  )
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (r.status !== 0) throw new Error(`mktorrent failed: ${r.stderr}`)
  return { seconds, cpu: childrenCpu() - cpu0, infoHash: parseTorrent(readFileSync(out)).infoHash }
}

interface ChildResult {
  seconds: number
  infoHash: string
  maxRssMb: number
}

type OurRun = Run & { maxRssMb: number }

/** One buildTorrent in a fresh process: worker start-up is paid, and the peak RSS is its own. */
async function child(): Promise<void> {
  const m = JSON.parse(readFileSync(join(CACHE, 'manifest.json'), 'utf8')) as Manifest
  const t0 = process.hrtime.bigint()
  const built = await buildTorrent({
    name: m.folder,
    kind: 'folder',
    root: join(ROOT, m.folder),
    files: m.files,
    pieceLength: 2 ** PIECE_LOG2,
    announce: [['http://127.0.0.1:1/announce']],
    webSeeds: [],
    comment: '',
    createdBy: 'aacseed bench',
    creationDate: null,
    source: '',
    private: false,
  })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  // resourceUsage().maxRSS is in kilobytes, and covers the worker threads: they share the process.
  const result: ChildResult = {
    seconds,
    infoHash: built.infoHash,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }
  process.stdout.write(JSON.stringify(result))
}

/** A config and a catalog of the root, made once per run (not timed). */
function prepareCli(work: string): { config: string; scanned: string } {
  const config = join(work, 'aacseed.toml')
  writeFileSync(
    config,
    [
      '[catalog]',
      `roots = [${JSON.stringify(ROOT)}]`,
      'database = "aacseed.db"',
      '[torrents]',
      'out_dir = "torrents"',
      'list_path = "torrents.json"',
      `piece_length = ${2 ** PIECE_LOG2}`,
      'announce = [["http://127.0.0.1:1/announce"]]',
      '',
    ].join('\n'),
  )
  const r = spawnSync(process.execPath, [CLI, 'scan', '--config', config], { cwd: work, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`aacseed scan failed (${r.status}): ${r.stderr}`)
  const scanned = join(work, 'scanned.db')
  // A checkpointed copy: the WAL is folded in by closing, which scan did.
  copyFileSync(join(work, 'aacseed.db'), scanned)
  return { config, scanned }
}

/** The work folder as `prepareCli` left it: the scanned catalog, nothing made yet. */
function resetWork(work: string, cli: { scanned: string }): void {
  for (const f of ['aacseed.db', 'aacseed.db-wal', 'aacseed.db-shm', 'torrents.json'])
    rmSync(join(work, f), { force: true })
  rmSync(join(work, 'torrents'), { recursive: true, force: true })
  copyFileSync(cli.scanned, join(work, 'aacseed.db'))
}

function cliArgs(cli: { config: string }): string[] {
  return [CLI, 'torrents', 'make', '--config', cli.config]
}

/**
 * `aacseed torrents make` as a process, from the scanned catalog with nothing made yet, timed
 * exactly as mktorrent is (spawnSync, nothing else running in this process meanwhile): the peak
 * RSS is measured in a run of its own (`cliPeakRss`), whose polling of /proc would otherwise
 * take CPU from the timed side only.
 */
function timeCli(work: string, cli: { config: string; scanned: string }, folder: string): Run {
  resetWork(work, cli)
  const cpu0 = childrenCpu()
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, cliArgs(cli), { cwd: work, encoding: 'utf8' })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (r.status !== 0) throw new Error(`aacseed torrents make failed (${r.status}): ${r.stderr}`)
  const torrent = join(work, 'torrents', `${folder}.torrent`)
  return { seconds, cpu: childrenCpu() - cpu0, infoHash: parseTorrent(readFileSync(torrent)).infoHash }
}

/** The peak RSS of one more `torrents make` (VmHWM, polled), not timed. */
async function cliPeakRss(work: string, cli: { config: string; scanned: string }): Promise<number> {
  resetWork(work, cli)
  const r = await measure(process.execPath, cliArgs(cli), { cwd: work })
  if (r.code !== 0) throw new Error(`aacseed torrents make failed (${r.code}): ${r.stderr}`)
  return r.peakRssMb ?? NaN
}

function timeOurs(): OurRun {
  const cpu0 = childrenCpu()
  const r = spawnSync(
    process.execPath,
    [import.meta.filename, '--child', ...(GIB === 2 ? [] : ['--gib', String(GIB)])],
    {
      encoding: 'utf8',
    },
  )
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`)
  return { ...(JSON.parse(r.stdout) as ChildResult), cpu: childrenCpu() - cpu0 }
}

/**
 * Node's own start-up (`node -e 0`, best of 5 runs), with the environment as it is and, when it
 * sets NODE_EXTRA_CA_CERTS, without it: Node then reads and parses that CA file in every process
 * before any code runs (~45 ms of CPU on the 2-core bench machine with Debian's bundle), which
 * `torrents make` pays and mktorrent does not. Printed beside the bar, not taken out of it.
 */
function nodeStartup(): { asIs: number; withoutExtraCa: number | null } {
  const best = (env: NodeJS.ProcessEnv): number => {
    let min = Infinity
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint()
      spawnSync(process.execPath, ['-e', '0'], { env })
      min = Math.min(min, Number(process.hrtime.bigint() - t0) / 1e9)
    }
    return min
  }
  const extra = process.env.NODE_EXTRA_CA_CERTS
  if (!extra) return { asIs: best(process.env), withoutExtraCa: null }
  const { NODE_EXTRA_CA_CERTS: _, ...without } = process.env
  return { asIs: best(process.env), withoutExtraCa: best(without) }
}

async function main(): Promise<number> {
  const roundsArg = process.argv.indexOf('--rounds')
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 2
  const m = ensureData()
  const dir = join(ROOT, m.folder)
  const work = join(CACHE, 'work')
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  const cli = prepareCli(work)
  warm(dir, m.files)
  const out = join(CACHE, 'mktorrent.torrent')
  // Interleaved, so that a burst of load from elsewhere on the machine hits both sides alike.
  const mk: Run[] = []
  const ours: Run[] = []
  const lib: OurRun[] = []
  for (let i = 0; i < rounds; i++) {
    mk.push(timeMktorrent(dir, out))
    ours.push(timeCli(work, cli, m.folder))
    lib.push(timeOurs())
  }
  const rss = await cliPeakRss(work, cli)
  rmSync(out, { force: true })
  rmSync(work, { recursive: true, force: true })
  const startup = nodeStartup()

  const mkBest = Math.min(...mk.map((x) => x.seconds))
  const ourBest = Math.min(...ours.map((x) => x.seconds))
  const libBest = Math.min(...lib.map((x) => x.seconds))
  const cpuRatio = Math.min(...ours.map((x) => x.cpu)) / Math.min(...mk.map((x) => x.cpu))
  const ratio = ourBest / mkBest
  const same = [...mk, ...ours, ...lib].every((x) => x.infoHash === ours[0]!.infoHash)
  const line = (k: string, v: string): void => void process.stdout.write(`${k.padEnd(26)} ${v}\n`)
  line(
    'data',
    `${m.files.length} files, ${(TOTAL / 1024 ** 3).toFixed(2)} GiB, piece length 2^${PIECE_LOG2}, ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(2)}`,
  )
  const runs = (xs: Run[]): string =>
    xs.map((x) => `${x.seconds.toFixed(3)} s (cpu ${x.cpu.toFixed(2)} s)`).join(', ')
  line('mktorrent -l 22 -t 2', `${runs(mk)}; best ${mkBest.toFixed(3)} s`)
  line(
    'aacseed torrents make',
    `${runs(ours)}; best ${ourBest.toFixed(3)} s, ${(TOTAL / ourBest / 1e9).toFixed(2)} GB/s`,
  )
  line('  of it buildTorrent alone', `${runs(lib)}; best ${libBest.toFixed(3)} s (a library call in a child)`)
  line(
    '  of it node -e 0',
    `${startup.asIs.toFixed(3)} s` +
      (startup.withoutExtraCa === null
        ? ''
        : ` (${startup.withoutExtraCa.toFixed(3)} s without NODE_EXTRA_CA_CERTS, which this environment sets)`),
  )
  line(
    'ratio ours/mktorrent',
    `${ratio.toFixed(3)} (bar ${RATIO_BAR}); cpu time ratio ${cpuRatio.toFixed(3)}`,
  )
  line('peak RSS (torrents make)', `${rss.toFixed(1)} MB (bar ${RSS_BAR_MB} MB)`)
  line(
    'infohash',
    same
      ? `${ours[0]!.infoHash} (equal)`
      : `DIFFERENT: ours ${ours.map((x) => x.infoHash).join(' ')}, library ${lib.map((x) => x.infoHash).join(' ')}, mktorrent ${mk.map((x) => x.infoHash).join(' ')}`,
  )
  const ok = same && ratio <= RATIO_BAR && rss <= RSS_BAR_MB
  line('result', ok ? 'PASS' : 'FAIL')
  return same ? (ok ? 0 : 1) : 2
}

if (process.argv.includes('--child')) await child()
else process.exitCode = await main()
