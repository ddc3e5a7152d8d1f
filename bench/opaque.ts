/**
 * npm run bench:opaque — `aacseed mirror sources` and `aacseed plan --budget 10TB` over a
 * generated 20,000-entry list in the shape and proportions of Anna's Archive's real list
 * (test/support/aa-list.ts), read from a file. Each is run as the operator runs it (a fresh
 * process), timed, with its peak RSS. Bar (issue #16): at most 3 s and 300 MB each.
 * `mirror sources` runs twice: the first fills an empty database, the second updates it.
 * Beside the wall time it prints the CPU time the process used (user + system, all threads):
 * on a loaded machine the wall time says more about the load than about aacseed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { generateAaList } from '../test/support/aa-list.js'
import { measure, type Measured } from './measure.js'

const repo = resolve(import.meta.dirname, '..', '..')
const cli = join(repo, 'bin', 'aacseed.js')
const count = Number(process.env.BENCH_ENTRIES ?? 20_000)

/**
 * CPU seconds used by this process's reaped children (`cutime` + `cstime` of /proc/self/stat):
 * read before and after one run, the difference is that run's CPU time.
 */
function childCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 16 and 17 of stat(5), counted from 1 at the pid; `fields` starts at field 3.
  return (Number(fields[13]) + Number(fields[14])) / 100
}

const dir = mkdtempSync(join(tmpdir(), 'aacseed-bench-opaque-'))
try {
  const list = generateAaList({ count })
  writeFileSync(join(dir, 'torrents.json'), JSON.stringify(list.entries))
  writeFileSync(
    join(dir, 'aacseed.toml'),
    `[catalog]\nroots = []\ndatabase = "aacseed.db"\n[[mirror.sources]]\nname = "aa"\nlist = "${join(dir, 'torrents.json')}"\n`,
  )
  const env = { ...process.env, AACSEED_CONFIG: join(dir, 'aacseed.toml') }
  const run = async (label: string, args: string[]): Promise<Measured> => {
    const cpuBefore = childCpuSeconds()
    const m = await measure(process.execPath, [cli, ...args], { env, cwd: dir })
    const cpu = childCpuSeconds() - cpuBefore
    if (m.code !== 0) throw new Error(`aacseed ${args.join(' ')} exited ${m.code}: ${m.stderr}`)
    const ok = m.seconds <= 3 && (m.peakRssMb ?? Infinity) <= 300
    console.log(
      `${label.padEnd(34)} ${m.seconds.toFixed(2)} s  (CPU ${cpu.toFixed(2)} s)  ${m.peakRssMb?.toFixed(0) ?? '?'} MB  ${ok ? 'within' : 'OVER'} the bar (3 s, 300 MB)`,
    )
    return m
  }
  console.log(`list: ${list.entries.length} entries (${list.expected.aac} AAC, ${list.expected.other} other)`)
  const first = await run('mirror sources (empty database)', ['mirror', 'sources'])
  await run('mirror sources (again)', ['mirror', 'sources'])
  const plan = await run('plan --budget 10TB', ['plan', '--budget', '10TB'])
  console.log(first.stdout.split('\n').slice(0, 3).join('\n'))
  console.log(plan.stdout.trimEnd().split('\n').slice(-2).join('\n'))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
