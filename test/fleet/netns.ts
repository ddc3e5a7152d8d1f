/**
 * Shared by the mixed-fleet tests that run inside a network namespace of their own (mixed-fleet
 * and mixed-netns, and their children): the parent's tool and namespace checks and the child's
 * run; the child's namespace (only `lo`, the tracker on 10.200.0.1, each daemon on its own
 * address from 10.200.0.2), its daemons and its clean-up.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { RemoteKind } from '../../src/engines/index.js'
import { startDaemon, type Daemon } from '../engines/daemons.js'
import { REPO_ROOT, requireTool } from '../helpers.js'

/** What a namespace test needs: the namespace tools and every kind's daemon. */
const NAMESPACE_TOOLS = [
  'unshare',
  'ip',
  'transmission-daemon',
  'qbittorrent-nox',
  'deluged',
  'deluge-web',
  'rtorrent',
]

/**
 * Whether the test can run: every tool is installed and a namespace can be made. Otherwise the
 * test is skipped saying why; under CI=true that is a failure.
 */
export function namespaceReady(t: TestContext): boolean {
  for (const tool of NAMESPACE_TOOLS) if (!requireTool(t, tool)) return false
  const probe = spawnSync('unshare', ['-n', 'true'], { encoding: 'utf8' })
  if (probe.status !== 0) {
    const why = `cannot make a network namespace (unshare -n): ${probe.stderr.trim() || `exit ${probe.status}`}`
    if (process.env.CI === 'true') assert.fail(why)
    t.skip(why)
    return false
  }
  return true
}

/**
 * Runs the compiled child `dist/test/fleet/<script>` in a new network namespace (`unshare -n`),
 * passing its stderr through as it comes; SIGKILLed after `timeoutMs`. Its exit status must be 0;
 * its last stdout line (one JSON object) is the answer.
 */
export async function runInNamespace<T>(script: string, args: string[], timeoutMs: number): Promise<T> {
  const child = join(REPO_ROOT, 'dist', 'test', 'fleet', script)
  const proc = spawn('unshare', ['-n', process.execPath, child, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
  proc.stderr.on('data', (b: Buffer) => {
    stderr += b.toString()
    process.stderr.write(b)
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((res) => proc.once('close', res))
  clearTimeout(timer)
  assert.equal(code, 0, `${stderr}\n${stdout}`)
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T
}

/** The child's clean-ups, run last first when it ends; `ctx` stands in for a TestContext. */
const cleanups: Array<() => unknown> = []
export const ctx = { after: (fn: () => unknown) => cleanups.push(fn) }

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}

/** The address of the tracker in the namespace. */
export const TRACKER_HOST = '10.200.0.1'

/** Brings the namespace's `lo` up with the tracker's address and one per daemon (10.200.0.1 to .n+1). */
export function namespaceAddresses(daemons: number): void {
  ip('link', 'set', 'lo', 'up')
  for (let i = 1; i <= daemons + 1; i++) ip('addr', 'add', `10.200.0.${i}/32`, 'dev', 'lo')
}

/** One daemon of each kind, all at once, the i-th on 10.200.0.(i+2), each under `dir/<kind>`. */
export async function startKinds(
  dir: string,
  kinds: readonly RemoteKind[],
  started: (kind: RemoteKind, daemon: Daemon) => Promise<void> | void = () => {},
): Promise<void> {
  await Promise.all(
    kinds.map(async (kind, i) => {
      const d = await startDaemon(ctx as never, kind, join(dir, kind), { host: `10.200.0.${i + 2}` })
      await started(kind, d)
    }),
  )
}

/** The child's entry: runs `main`, prints a failure's stack to stderr (exit 1), cleans up, exits. */
export function runChild(main: () => Promise<void>): void {
  void (async () => {
    try {
      await main()
    } catch (e) {
      console.error(e instanceof Error ? (e.stack ?? e.message) : String(e))
      process.exitCode = 1
    } finally {
      for (const fn of cleanups.reverse()) await fn()
    }
    process.exit()
  })()
}
