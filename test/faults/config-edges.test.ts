/**
 * Fault-injection suite, "Config and list edge cases" (the parts not about mirror lists):
 * seedbox names whose password variable would read as a config override, an unbounded
 * `catalog.max_line_bytes`, and a 100 KB request header answered in the API's JSON error format.
 */
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { seedboxPasswordEnv } from '../../src/fleet/seedbox.js'
import { runCli, tempDir } from '../helpers.js'
import { apiServer, apiTree } from '../http/fixtures.js'

function configFile(dir: string, toml: string): string {
  const path = join(dir, 'aacseed.toml')
  writeFileSync(path, `[catalog]\ndatabase = ${JSON.stringify(join(dir, 'a.db'))}\n${toml}`)
  return path
}

const seedboxToml = (name: string): string =>
  `[[fleet.seedboxes]]\nname = "${name}"\nurl = "http://127.0.0.1:9/transmission/rpc"\npath = "/downloads"\n`

test('config edges: seedbox names with -- or a trailing - are refused, naming the field and the rule', async (t) => {
  for (const name of ['box--1', 'box-', '-box', 'a--b--c']) {
    const dir = tempDir(t)
    const r = await runCli(['config', '--config', configFile(dir, seedboxToml(name))], {
      env: { ...process.env, AACSEED_CONFIG: '' },
      cwd: dir,
    })
    assert.equal(r.code, 2, `${name}: ${r.stdout}${r.stderr}`)
    assert.match(r.stderr, /fleet\.seedboxes\[0\]\.name/, r.stderr)
    assert.match(r.stderr, /no --/, r.stderr)
  }
})

test('config edges: an accepted seedbox name has a password variable without __, and it is read as the password, not an override', async (t) => {
  for (const name of ['box-1', 'a-b-c', 'x9']) {
    assert.ok(!seedboxPasswordEnv(name).slice('AACSEED_'.length).includes('__'), seedboxPasswordEnv(name))
  }
  const dir = tempDir(t)
  const env = { ...process.env, AACSEED_CONFIG: '', [seedboxPasswordEnv('box-1')]: 'pw-secret-1' }
  const r = await runCli(['config', '--config', configFile(dir, seedboxToml('box-1'))], { env, cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(!r.stdout.includes('pw-secret-1'))
  assert.match(r.stdout, /seedbox box-1 password.*set/i)
})

test('config edges: catalog.max_line_bytes is bounded (1e30 and 2 GiB refused, 256 MiB accepted)', async (t) => {
  for (const [value, ok] of [
    ['1e30', false],
    ['2147483648', false],
    ['268435457', false],
    ['268435456', true],
    ['1048576', true],
  ] as const) {
    const dir = tempDir(t)
    const r = await runCli(['config', '--config', configFile(dir, `max_line_bytes = ${value}\n`)], {
      env: { ...process.env, AACSEED_CONFIG: '' },
      cwd: dir,
    })
    assert.equal(r.code, ok ? 0 : 2, `${value}: ${r.stderr}`)
    if (!ok) assert.match(r.stderr, /catalog\.max_line_bytes/, r.stderr)
  }
})

test('config edges: a 100 KB request header is answered 431 in the API JSON error format', async (t) => {
  const tree = await apiTree(t)
  const { app } = apiServer(t, tree)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as { port: number }).port
  const res = await new Promise<{ status: number; type: string; body: string; csp: string }>(
    (resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/api/collections', headers: { 'x-big': 'a'.repeat(100_000) } },
        (r) => {
          let body = ''
          r.on('data', (d: Buffer) => (body += d.toString()))
          r.on('end', () =>
            resolve({
              status: r.statusCode ?? 0,
              type: String(r.headers['content-type']),
              body,
              csp: String(r.headers['content-security-policy']),
            }),
          )
        },
      )
      req.on('error', reject)
      req.end()
    },
  )
  assert.equal(res.status, 431)
  assert.equal(res.type, 'application/json; charset=utf-8')
  assert.deepEqual(JSON.parse(res.body), {
    error: { code: 'headers-too-large', message: 'the request headers are larger than 16 KiB' },
  })
  assert.match(res.csp, /default-src 'none'/)
})
