/**
 * `aacseed doctor` against a good machine and against one with every fault planted at once:
 * real transmission-daemons for the engine and the seedboxes (one under `faketime`, a clock an
 * hour ahead), a real `aacseed serve` holding its ports, a plain listener squatting one, and a
 * user unit whose paths disagree with the config.
 */
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Finding } from '../../src/doctor/index.js'
import { nodeFinding } from '../../src/doctor/index.js'
import { startTransmission } from '../engines/fixtures.js'
import { CLI, freePort, REPO_ROOT, requireTool, runCli, spawnCli, tempDir, waitFor } from '../helpers.js'

interface Report {
  ok: boolean
  config: string
  findings: Finding[]
}

async function doctor(args: string[]): Promise<{ code: number; report: Report; stderr: string }> {
  const r = await runCli(['doctor', '--json', ...args])
  return { code: r.code, report: JSON.parse(r.stdout) as Report, stderr: r.stderr }
}

/** A home laid out as the README's "Rootless seedbox" installs it, with the shipped user unit. */
function rootlessHome(root: string): { home: string; unit: string; config: string; state: string } {
  const home = join(root, 'home')
  const state = join(home, '.local', 'share', 'aacseed')
  mkdirSync(join(home, '.local', 'bin'), { recursive: true })
  mkdirSync(state, { recursive: true })
  mkdirSync(join(home, '.config', 'aacseed'), { recursive: true })
  mkdirSync(join(home, '.config', 'systemd', 'user'), { recursive: true })
  mkdirSync(join(home, 'releases'), { recursive: true })
  const bin = join(home, '.local', 'bin', 'aacseed')
  writeFileSync(bin, `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`)
  chmodSync(bin, 0o755)
  const unit = join(home, '.config', 'systemd', 'user', 'aacseed.service')
  writeFileSync(unit, readFileSync(join(REPO_ROOT, 'systemd', 'user', 'aacseed.service')))
  return { home, unit, config: join(home, '.config', 'aacseed', 'aacseed.toml'), state }
}

function failures(r: Report): Finding[] {
  return r.findings.filter((f) => f.status === 'fail')
}

test('the Node check fails below Node 20', () => {
  assert.equal(nodeFinding('18.19.1').status, 'fail')
  assert.match(nodeFinding('18.19.1').message, /needs Node 20/)
  assert.equal(nodeFinding('20.0.0').status, 'ok')
  assert.equal(nodeFinding('24.1.0').status, 'ok')
})

test('a good machine: every check passes, with the daemons versions', { timeout: 120_000 }, async (t) => {
  if (!requireTool(t, 'transmission-daemon')) return
  const dir = tempDir(t)
  const daemon = await startTransmission(t, join(dir, 'a'))
  const h = rootlessHome(dir)
  writeFileSync(
    h.config,
    [
      '[catalog]',
      `roots = [${JSON.stringify(join(h.home, 'releases'))}]`,
      `database = ${JSON.stringify(join(h.state, 'aacseed.db'))}`,
      '[torrents]',
      `out_dir = ${JSON.stringify(join(h.state, 'torrents'))}`,
      `list_path = ${JSON.stringify(join(h.state, 'torrents.json'))}`,
      '[engine]',
      'kind = "transmission"',
      '[engine.transmission]',
      `url = ${JSON.stringify(daemon.url)}`,
      '[http]',
      `port = ${await freePort()}`,
      '[[fleet.seedboxes]]',
      'name = "box-a"',
      `url = ${JSON.stringify(daemon.url)}`,
      `path = ${JSON.stringify(daemon.downloadDir)}`,
      'reserve_bytes = 0',
      '',
    ].join('\n'),
  )
  const { code, report, stderr } = await doctor(['--config', h.config, '--unit', h.unit])
  assert.deepEqual(failures(report), [], stderr)
  assert.equal(code, 0)
  assert.equal(report.ok, true)
  assert.equal(report.config, h.config)
  const by = (check: string) => report.findings.filter((f) => f.check === check)
  assert.match(by('engine')[0]!.message, /^transmission 3\.\d+.* \(RPC \d+\) at http:\/\/127\.0\.0\.1:/)
  assert.match(by('seedbox')[0]!.message, /^seedbox box-a: transmission 3\.\d+/)
  assert.equal(by('clock').length, 2)
  for (const c of by('clock')) assert.equal(c.status, 'ok', c.message)
  assert.equal(by('unit')[0]!.status, 'ok', by('unit')[0]!.message)
  assert.equal(by('port')[0]!.status, 'ok')
  for (const p of by('path')) assert.equal(p.status, 'ok', p.message)
})

test('ports held by this aacseed serve are fine; a port held by something else is named', async (t) => {
  const dir = tempDir(t)
  const demo = await runCli(['demo', '--out', dir])
  assert.equal(demo.code, 0, demo.stderr)
  const config = join(dir, 'aacseed.toml')
  const httpPort = await freePort()
  const enginePort = await freePort()
  const env = {
    ...process.env,
    AACSEED_CONFIG: '',
    AACSEED_HTTP__PORT: String(httpPort),
    AACSEED_ENGINE__WEBTORRENT__PORT: String(enginePort),
    // Not the demo's 6969: the README test binds that one, and test files run two at a time.
    AACSEED_TRACKER__PORT: String(await freePort()),
  }
  const serve = spawnCli(['serve', '--config', config], { env })
  let log = ''
  serve.stdout!.on('data', (d: Buffer) => (log += d.toString()))
  const exited = new Promise((res) => serve.on('exit', res))
  t.after(() => serve.kill('SIGKILL'))
  await waitFor('serve to start', () => log.includes('aacseed serving'), 60_000)
  const held = await runCli(['doctor', '--json', '--config', config, '--unit', join(dir, 'no-unit')], { env })
  const report = JSON.parse(held.stdout) as Report
  const ports = report.findings.filter((f) => f.check === 'port')
  assert.equal(ports.length, 2)
  for (const p of ports) assert.match(p.message, new RegExp(`held by aacseed serve \\(pid ${serve.pid}\\)`))
  assert.equal(held.code, 0, held.stdout)
  serve.kill('SIGTERM')
  await exited

  // Now something else takes the HTTP port.
  const squatter = createServer()
  await new Promise<void>((res) => squatter.listen(httpPort, '127.0.0.1', res))
  t.after(() => squatter.close())
  const taken = await runCli(['doctor', '--json', '--config', config, '--unit', join(dir, 'no-unit')], {
    env,
  })
  assert.equal(taken.code, 1)
  const bad = failures(JSON.parse(taken.stdout) as Report)
  assert.equal(bad.length, 1, JSON.stringify(bad))
  assert.equal(bad[0]!.setting, 'http.port')
  assert.match(
    bad[0]!.message,
    new RegExp(`127\\.0\\.0\\.1:${httpPort} is taken by pid ${process.pid} .*not by aacseed serve`),
  )
})

test(
  'every fault planted at once: exit 1, each finding names its setting or path',
  { timeout: 180_000 },
  async (t) => {
    if (!requireTool(t, 'transmission-daemon') || !requireTool(t, 'faketime')) return
    const dir = tempDir(t)
    const full = await startTransmission(t, join(dir, 'full'))
    const skewed = await startTransmission(t, join(dir, 'skewed'), { wrap: ['faketime', '-f', '+1h'] })
    const closed = await freePort()
    const h = rootlessHome(dir)
    const aFile = join(dir, 'a-file')
    writeFileSync(aFile, 'not a folder')
    const outside = join(dir, 'outside-state')
    const mirrorRoot = join(h.home, 'releases')
    const squatter = createServer()
    const httpPort = await freePort()
    await new Promise<void>((res) => squatter.listen(httpPort, '127.0.0.1', res))
    t.after(() => squatter.close())
    // The unit names another config and a program that is not installed.
    writeFileSync(
      h.unit,
      readFileSync(h.unit, 'utf8').replace(
        /^ExecStart=.*$/m,
        'ExecStart=%h/.npm-global/bin/aacseed serve --config %h/.config/aacseed/other.toml',
      ),
    )
    writeFileSync(
      h.config,
      [
        '[catalog]',
        `roots = [${JSON.stringify(mirrorRoot)}, ${JSON.stringify(join(dir, 'missing-root'))}]`,
        // Outside the unit's ReadWritePaths.
        `database = ${JSON.stringify(join(outside, 'aacseed.db'))}`,
        '[torrents]',
        // Under a file: can never be created.
        `out_dir = ${JSON.stringify(join(aFile, 'torrents'))}`,
        `list_path = ${JSON.stringify(join(h.state, 'torrents.json'))}`,
        '[engine]',
        'kind = "transmission"',
        '[engine.transmission]',
        `url = "http://127.0.0.1:${closed}/transmission/rpc"`,
        '[http]',
        `port = ${httpPort}`,
        '[mirror]',
        'reserve_bytes = "8000TB"',
        '[[mirror.sources]]',
        'name = "upstream"',
        `list = ${JSON.stringify(join(dir, 'torrents.json'))}`,
        '[[fleet.seedboxes]]',
        'name = "gone"',
        `url = "http://127.0.0.1:${closed}/transmission/rpc"`,
        'path = "/srv"',
        '[[fleet.seedboxes]]',
        'name = "full"',
        `url = ${JSON.stringify(full.url)}`,
        `path = ${JSON.stringify(full.downloadDir)}`,
        'reserve_bytes = 9000000000000000',
        '[[fleet.seedboxes]]',
        'name = "skewed"',
        `url = ${JSON.stringify(skewed.url)}`,
        `path = ${JSON.stringify(skewed.downloadDir)}`,
        'reserve_bytes = 0',
        '',
      ].join('\n'),
    )
    const { code, report } = await doctor(['--config', h.config, '--unit', h.unit])
    assert.equal(code, 1)
    assert.equal(report.ok, false)
    const bad = failures(report)
    const expected: [string, string | null, RegExp][] = [
      ['path', 'torrents.out_dir', /a-file is a file/],
      ['path', 'catalog.roots[1]', /missing-root: does not exist/],
      ['disk', 'mirror.reserve_bytes', /free, less than the 8000000\.00 GB|less than the .* to keep free/],
      ['port', 'http.port', /is taken by pid \d+/],
      ['engine', 'engine.transmission.url', /does not answer/],
      ['seedbox', 'fleet.seedboxes[0].url', /seedbox gone .* does not answer/],
      ['disk', 'fleet.seedboxes[1].reserve_bytes', /seedbox full has .* free .* less than its reserve/],
      ['clock', 'fleet.seedboxes[2].url', /seedbox skewed's clock is 3[56]\d\d s ahead of this machine/],
      ['unit', null, /\.npm-global\/bin\/aacseed, which does not exist/],
      ['unit', null, /--config .*other\.toml, but this check read .*aacseed\.toml/],
      ['unit', 'catalog.database', /outside-state, which the service cannot write .*ReadWritePaths=/],
      ['unit', 'torrents.out_dir', /which the service cannot write/],
      ['unit', 'mirror.root', /releases, which the service cannot write/],
    ]
    for (const [check, setting, message] of expected) {
      const hit = bad.find((f) => f.check === check && f.setting === setting && message.test(f.message))
      assert.ok(
        hit,
        `no ${check} failure for ${setting} matching ${message}; failures:\n${bad.map((f) => `${f.check} ${f.setting} ${f.message}`).join('\n')}`,
      )
    }
    assert.equal(
      bad.length,
      expected.length,
      bad.map((f) => `${f.check} ${f.setting} ${f.message}`).join('\n'),
    )
    // Every failure says what to fix: a setting or a path.
    for (const f of bad) assert.ok(f.setting ?? f.path, JSON.stringify(f))
    // The text form: one line per finding, the failures marked FIX, and the count.
    const text = await runCli(['doctor', '--config', h.config, '--unit', h.unit])
    assert.equal(text.code, 1)
    assert.equal(text.stdout.split('\n').filter((l) => l.startsWith('  FIX ')).length, expected.length)
    assert.match(text.stdout, new RegExp(`${expected.length} of \\d+ checks need fixing\\n$`))
  },
)
