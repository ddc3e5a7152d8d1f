/**
 * npm run bench:startup [-- RUNS] — how long the commands that need no engine take to start
 * and exit, as an operator runs them (a fresh `node bin/aacseed.js` process each time), next to
 * `node -e 0` on the same machine in the same run. Wall time, median of RUNS runs (default 11),
 * the commands interleaved round by round so a burst of load hits them alike; also the module
 * count each loads (our files and npm packages: what lazy imports keep down).
 * Bar (issue #11 §8): each ≤ 0.3 s on a quiet 2-core machine.
 *
 * The data is the demo's (`aacseed demo`), made once and with its torrents made, so
 * `torrents make` has nothing to do. `BENCH_CLI=/other/checkout/bin/aacseed.js` times another
 * build the same way (its module counts come from this checkout's tracer).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const repo = resolve(import.meta.dirname, '..', '..')
// BENCH_CLI: another build's bin/aacseed.js (e.g. main before a change), for a before/after table.
const cli = process.env.BENCH_CLI ?? join(repo, 'bin', 'aacseed.js')
const tracer = join(repo, 'dist', 'test', 'support', 'module-trace.js')
const runs = Number(process.argv[2] ?? process.env.BENCH_RUNS ?? 11)
if (!Number.isInteger(runs) || runs < 1)
  throw new Error(`RUNS must be a whole number ≥ 1, not ${process.argv[2]}`)
const BAR_S = 0.3

const dir = mkdtempSync(join(tmpdir(), 'aacseed-bench-startup-'))
try {
  const env = { ...process.env, AACSEED_CONFIG: '' }
  const setup = (args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`aacseed ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  }
  setup(['demo', '--out', dir])
  const config = join(dir, 'aacseed.toml')
  setup(['torrents', 'make', '--config', config])
  setup(['run', 'scan', '--config', config])

  const cases: Array<{ label: string; args: string[] }> = [
    { label: 'node -e 0', args: ['-e', '0'] },
    { label: 'aacseed --help', args: [cli, '--help'] },
    { label: 'aacseed torrents make (nothing to do)', args: [cli, 'torrents', 'make', '--config', config] },
    { label: 'aacseed coverage', args: [cli, 'coverage', '--config', config] },
    { label: 'aacseed jobs', args: [cli, 'jobs', '--config', config] },
    {
      label: 'aacseed aacid parse',
      args: [
        cli,
        'aacid',
        'parse',
        'aacid__zlib3_records__20230808T014342Z__22433983__URsJNGy5CjokTsNT6hUmmj',
      ],
    },
  ]
  const times = new Map<string, number[]>(cases.map((c) => [c.label, []]))
  for (let round = 0; round < runs; round++) {
    for (const c of cases) {
      const started = process.hrtime.bigint()
      const r = spawnSync(process.execPath, c.args, { env, cwd: dir, stdio: 'ignore' })
      const s = Number(process.hrtime.bigint() - started) / 1e9
      if (r.status !== 0) throw new Error(`${c.label} exited ${r.status}`)
      times.get(c.label)!.push(s)
    }
  }

  const modules = (args: string[]): string => {
    if (args[0] === '-e' || !existsSync(tracer)) return ''
    const trace = join(dir, 'modules.txt')
    rmSync(trace, { force: true })
    spawnSync(process.execPath, ['--import', tracer, ...args], {
      env: { ...env, AACSEED_MODULE_TRACE: trace },
      cwd: dir,
      stdio: 'ignore',
    })
    if (!existsSync(trace)) return ''
    const all = [...new Set(readFileSync(trace, 'utf8').split('\n').filter(Boolean))]
    const ours = all.filter((m) => m.includes('/dist/src/')).length
    const pkgs = new Set(
      all.map((m) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m)?.[1]).filter((p) => p !== undefined),
    )
    return `${ours} ES modules of ours, ${pkgs.size} packages`
  }

  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b)
    const mid = Math.floor(s.length / 2)
    return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
  }
  const base = median(times.get('node -e 0')!)
  console.log(
    `start-up, wall time, median of ${runs} runs (min–max); bar ${BAR_S} s each on a quiet 2-core machine`,
  )
  for (const c of cases) {
    const xs = times.get(c.label)!
    const m = median(xs)
    const over = c.label === 'node -e 0' ? '' : `  +${(m - base).toFixed(3)} s over node -e 0`
    const bar =
      c.label === 'node -e 0' || c.label === 'aacseed aacid parse' ? '' : m <= BAR_S ? '  within' : '  OVER'
    console.log(
      `${c.label.padEnd(40)} ${m.toFixed(3)} s (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})${over}${bar}  ${modules(c.args)}`,
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
