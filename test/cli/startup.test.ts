/**
 * Commands load only what they use: the module graph of the commands that need no engine holds
 * no torrent engine, tracker or HTTP server library (issue #11 §8). Traced with a resolve hook
 * (test/support/module-trace.ts) in a real `aacseed` process, as a user runs it.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { CLI, REPO_ROOT, runCliProcess, tempDir } from '../helpers.js'

const TRACER = join(REPO_ROOT, 'dist', 'test', 'support', 'module-trace.js')
/** Libraries only a running engine or server needs. */
const ENGINE_LIBRARIES = [
  'webtorrent',
  'bittorrent-tracker',
  'bittorrent-dht',
  'fastify',
  'prom-client',
  'node-cron',
]

/** The npm packages a process resolved, by name. */
function packagesLoaded(
  args: string[],
  cwd: string,
  traceDir = cwd,
): { code: number; packages: Set<string>; modules: string[] } {
  const trace = join(traceDir, 'modules.txt')
  rmSync(trace, { force: true })
  const r = spawnSync(process.execPath, ['--import', TRACER, ...args], {
    cwd,
    env: { ...process.env, AACSEED_CONFIG: '', AACSEED_MODULE_TRACE: trace },
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.ok(existsSync(trace), `no module trace for ${args.join(' ')}: ${r.stderr}`)
  const modules = readFileSync(trace, 'utf8').split('\n').filter(Boolean)
  const packages = new Set<string>()
  for (const m of modules) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(m)
    if (match) packages.add(match[1]!)
  }
  return { code: r.status ?? -1, packages, modules }
}

describe('start-up: commands that need no engine', () => {
  test('the tracer sees webtorrent when it is loaded (the check below can fail)', (t) => {
    const dir = tempDir(t)
    const r = packagesLoaded(['--input-type=module', '-e', "await import('webtorrent')"], REPO_ROOT, dir)
    assert.equal(r.code, 0)
    assert.ok(r.packages.has('webtorrent'))
  })

  test('scan, torrents make/list, coverage, jobs and health load no engine, tracker or HTTP library', (t) => {
    const dir = tempDir(t)
    const demo = runCliProcess(['demo', '--out', dir])
    assert.equal(demo.code, 0, demo.stderr)
    const config = join(dir, 'aacseed.toml')
    const commands: Array<{ args: string[]; module: string }> = [
      { args: ['scan', '--config', config], module: 'commands/catalog.js' },
      { args: ['torrents', 'make', '--config', config], module: 'commands/torrents.js' },
      { args: ['torrents', 'list', '--config', config], module: 'commands/torrents.js' },
      { args: ['coverage', '--config', config], module: 'commands/coverage.js' },
      { args: ['jobs', '--config', config], module: 'commands/jobs.js' },
      { args: ['health', '--config', config], module: 'commands/fleet.js' },
      { args: ['--help'], module: 'commands/index.js' },
    ]
    for (const c of commands) {
      const r = packagesLoaded([CLI, ...c.args], dir)
      const what = c.args.filter((a) => a !== config && a !== '--config').join(' ')
      // health exits 1 when it lists a problem (nothing is seeded here); anything else is a crash.
      assert.ok(r.code === 0 || (what === 'health' && r.code === 1), `${what} exited ${r.code}`)
      assert.ok(
        r.modules.some((m) => m.endsWith(c.module)),
        `${what}: the trace lacks ${c.module}, so it did not reach the command`,
      )
      assert.ok(
        r.packages.has('better-sqlite3') || what === '--help',
        `${what}: the trace lacks better-sqlite3`,
      )
      for (const lib of ENGINE_LIBRARIES) assert.ok(!r.packages.has(lib), `${what} loaded ${lib}`)
      if (what === '--help') {
        // The overview lists the commands from their entries: it loads none of them, nor the config schema.
        const loaded = r.modules.filter((m) => /\/cli\/commands\/(?!index\.js)/.test(m))
        assert.deepEqual(loaded, [], `--help loaded ${loaded.join(', ')}`)
        assert.ok(!r.packages.has('zod'), '--help loaded zod')
      }
    }
  })
})
