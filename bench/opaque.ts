/**
 * npm run bench:opaque — `aacseed mirror sources` and `aacseed plan --budget 10TB` over a
 * generated 20,000-entry list in the shape and proportions of Anna's Archive's real list
 * (test/support/aa-list.ts), read from a file. Each is run as the operator runs it (a fresh
 * process), timed, with its peak RSS. Bar (issue #16): at most 3 s and 300 MB each.
 * `mirror sources` runs twice: the first fills an empty database, the second updates it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { generateAaList } from '../test/support/aa-list.js'
import { measure, type Measured } from './measure.js'

const repo = resolve(import.meta.dirname, '..', '..')
const cli = join(repo, 'bin', 'aacseed.js')
const count = Number(process.env.BENCH_ENTRIES ?? 20_000)

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
    const m = await measure(process.execPath, [cli, ...args], { env, cwd: dir })
    if (m.code !== 0) throw new Error(`aacseed ${args.join(' ')} exited ${m.code}: ${m.stderr}`)
    const ok = m.seconds <= 3 && (m.peakRssMb ?? Infinity) <= 300
    console.log(
      `${label.padEnd(34)} ${m.seconds.toFixed(2)} s  ${m.peakRssMb?.toFixed(0) ?? '?'} MB  ${ok ? 'within' : 'OVER'} the bar (3 s, 300 MB)`,
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
