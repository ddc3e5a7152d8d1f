/**
 * Fault-injection suite, "Exposure and secrets": serve says plainly whether a token is configured
 * (the log said `"token":"[redacted]"` either way), and warns at start-up when it listens beyond
 * loopback without one. The 0.0.0.0 case runs inside a network namespace the test creates, so
 * nothing listens on this machine's real interfaces.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { isLoopback } from '../../src/http/serve.js'
import { CLI, freePort, tempDir, waitFor } from '../helpers.js'

function config(dir: string, host: string, port: number, peerPort: number): string {
  const path = join(dir, 'aacseed.toml')
  writeFileSync(
    path,
    `[catalog]
roots = []
database = "aacseed.db"
[torrents]
out_dir = "torrents"
list_path = ""
[engine.webtorrent]
host = "127.0.0.1"
port = ${peerPort}
dht = false
lsd = false
[http]
host = "${host}"
port = ${port}
`,
  )
  return path
}

function serve(
  t: TestContext,
  argv: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): { child: ChildProcess; output: () => string } {
  const child = spawn(argv[0]!, argv.slice(1), { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  return { child, output: () => out }
}

async function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exit = new Promise((res) => child.once('exit', res))
  child.kill('SIGTERM')
  await exit
}

test('exposure: bound to 0.0.0.0 without a token, serve logs "token: none (read-only)" and warns what anyone can read', async (t) => {
  const unshare = spawnSync('unshare', ['-n', 'true'])
  if (unshare.status !== 0) {
    if (process.env.CI === 'true') throw new Error('unshare -n is needed for the 0.0.0.0 case')
    t.skip('cannot create a network namespace')
    return
  }
  const dir = tempDir(t)
  const cfg = config(dir, '0.0.0.0', 18080, 18081)
  const env = { ...process.env, AACSEED_CONFIG: cfg, AACSEED_HTTP_TOKEN: '' }
  const s = serve(
    t,
    ['unshare', '-n', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" "${CLI}" serve`],
    env,
    dir,
  )
  const line = await waitFor('the listening line', () =>
    s
      .output()
      .split('\n')
      .find((l) => l.includes('dashboard and API at')),
  )
  await waitFor('the warning', () => s.output().includes('no token is configured'))
  await stopped(s.child)
  const out = s.output()
  assert.match(line, /token: none \(read-only\)/)
  assert.ok(!out.includes('[redacted]'), out)
  const warn = out.split('\n').find((l) => l.includes('no token is configured'))!
  assert.match(warn, /"level":40/)
  assert.match(warn, /0\.0\.0\.0 is reachable beyond this machine/)
  assert.match(warn, /dashboard, the API .*\/metrics and \/torrents\.json/)
})

test('exposure: with a token, serve logs "token: configured", never the token, and no warning on loopback', async (t) => {
  const dir = tempDir(t)
  const cfg = config(dir, '127.0.0.1', await freePort(), await freePort())
  const token = 'exposure-test-SECRET-4242'
  const env = { ...process.env, AACSEED_CONFIG: cfg, AACSEED_HTTP_TOKEN: token }
  const s = serve(t, [process.execPath, CLI, 'serve'], env, dir)
  const line = await waitFor('the listening line', () =>
    s
      .output()
      .split('\n')
      .find((l) => l.includes('dashboard and API at')),
  )
  await stopped(s.child)
  assert.match(line, /token: configured/)
  assert.ok(!s.output().includes(token))
  assert.ok(!s.output().includes('[redacted]'), s.output())
  assert.ok(!s.output().includes('no token is configured'))
})

test('exposure: which listen addresses are loopback', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
    assert.equal(isLoopback(h), true, h)
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.org', '::ffff:10.0.0.1'])
    assert.equal(isLoopback(h), false, h)
})
