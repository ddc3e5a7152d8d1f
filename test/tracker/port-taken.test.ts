/**
 * serve with its tracker's port taken (HTTP and UDP both report it): a clear configuration error
 * and exit 2, not an unheard second 'error' event thrown as a stack trace, nor a half-bound
 * tracker keeping the process alive.
 */
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort, runCli, tempDir } from '../helpers.js'

test('serve exits 2 naming the port when its tracker port is taken, TCP and UDP', async (t) => {
  const dir = tempDir(t)
  assert.equal((await runCli(['demo', '--out', dir])).code, 0)
  const tcp = createServer()
  await new Promise<void>((res) => tcp.listen(0, '127.0.0.1', res))
  const port = (tcp.address() as { port: number }).port
  const udp = createSocket('udp4')
  await new Promise<void>((res) => udp.bind(port, '127.0.0.1', res))
  t.after(() => {
    tcp.close()
    udp.close()
  })
  const env = {
    ...process.env,
    AACSEED_CONFIG: '',
    AACSEED_TRACKER__PORT: String(port),
    AACSEED_HTTP__PORT: String(await freePort()),
  }
  const started = Date.now()
  const r = await runCli(['serve', '--config', join(dir, 'aacseed.toml')], { env })
  assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`)
  assert.match(
    r.stderr,
    new RegExp(`tracker: port ${port} on 127\\.0\\.0\\.1 is in use \\(\\[tracker\\] port\\)`),
  )
  assert.doesNotMatch(r.stderr, /Unhandled 'error' event|\n\s+at /)
  assert.ok(Date.now() - started < 60_000)
})
