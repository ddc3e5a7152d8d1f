/**
 * The packed tarball installs with plain `npm install -g` (the README's command, into a temporary
 * prefix), and the installed `aacseed` works from that prefix's bin: --help, demo, serve. npm
 * ignores an installed package's `overrides`, so this is what proves the bundled webtorrent chain
 * (ip-set 2.2.0, the no-op webrtc-polyfill) reaches users intact.
 *
 * Slow (the install compiles better-sqlite3 and zstd-napi from source here: minutes on a busy
 * machine), and it needs the npm registry for the unbundled dependencies.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { freePort, REPO_ROOT, requireTool, tempDir, waitFor } from '../helpers.js'

interface PackResult {
  filename: string
  size: number
  unpackedSize: number
  entryCount: number
  files: { path: string }[]
  bundled: string[]
}

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version

/** The README's install command for the tarball, exactly as written there. */
function readmeInstallCommand(): string {
  const m = /(?:^|&& )(npm install -g \.\/aacseed-[^\s]+\.tgz)/m.exec(README)
  assert.ok(m, 'the README quick start should show `npm install -g ./aacseed-VERSION.tgz`')
  assert.equal(m[1], `npm install -g ./aacseed-${VERSION}.tgz`, 'the README names the current version')
  return m[1]
}

function npmEnv(prefix: string): NodeJS.ProcessEnv {
  // The prefix through npm's environment, so the README's command runs word for word.
  return {
    ...process.env,
    npm_config_prefix: prefix,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    AACSEED_CONFIG: '',
  }
}

test('the packed tarball ships what runs and nothing else', { timeout: 300_000 }, (t) => {
  const dir = tempDir(t)
  // --ignore-scripts: `npm test` compiled dist/ already; running `prepare` here would rewrite
  // dist/ under the tests running beside this one.
  const r = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  assert.equal(r.status, 0, r.stderr)
  const [pack] = JSON.parse(r.stdout) as PackResult[]
  assert.ok(pack)
  const own = pack.files.map((f) => f.path).filter((p) => !p.startsWith('node_modules/'))
  t.diagnostic(
    `tarball ${pack.filename}: ${(pack.size / 1e6).toFixed(1)} MB, ${pack.entryCount} files (${own.length} of aacseed's own, ${pack.bundled.length} bundled packages), unpacked ${(pack.unpackedSize / 1e6).toFixed(1)} MB`,
  )
  for (const p of own) {
    // The one file that is neither compiled nor configuration: the scan's WebAssembly line
    // check, built from its C source and committed (see src/catalog/record-lines.ts).
    assert.match(
      p,
      /^(bin\/|dist\/src\/.*\.c?js$|src\/catalog\/record-lines\.wasm$|config\/|systemd\/|package\.json$|README\.md$|LICENSE)/,
      p,
    )
  }
  for (const need of [
    'bin/aacseed.js',
    'dist/src/cli/index.js',
    'dist/src/http/dashboard/client.js',
    'src/catalog/record-lines.wasm',
    'config/aacseed.example.toml',
    'systemd/aacseed.service',
  ]) {
    assert.ok(own.includes(need), `${need} is missing from the tarball`)
  }
  assert.ok(pack.bundled.includes('webtorrent'), 'webtorrent should be bundled')
  const bundledFile = (p: string) => pack.files.some((f) => f.path === p)
  // The versions the overrides pick at development time travel inside the tarball.
  assert.ok(bundledFile('node_modules/webrtc-polyfill/index.js'), 'the no-op webrtc-polyfill is bundled')
  assert.ok(bundledFile('node_modules/ip-set/package.json'), 'ip-set is bundled')
  assert.ok(
    !bundledFile('node_modules/node-datachannel/package.json'),
    'node-datachannel must not be bundled',
  )
})

test(
  'npm install -g from the tarball, then aacseed --help, demo and serve from PATH',
  { timeout: 1_800_000 },
  async (t) => {
    if (!requireTool(t, 'npm')) return
    const dir = tempDir(t)
    const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    })
    assert.equal(pack.status, 0, pack.stderr)
    const prefix = join(dir, 'prefix')
    const command = readmeInstallCommand()
    const started = Date.now()
    const install = spawnSync('sh', ['-c', command], {
      cwd: dir,
      env: npmEnv(prefix),
      encoding: 'utf8',
      timeout: 1_500_000,
      maxBuffer: 64 * 1024 * 1024,
    })
    assert.equal(install.status, 0, `${command} failed:\n${install.stdout}\n${install.stderr}`)
    t.diagnostic(`${command}: ${((Date.now() - started) / 1000).toFixed(0)} s`)
    const pkgDir = join(prefix, 'lib', 'node_modules', 'aacseed')
    const ipSet = JSON.parse(
      readFileSync(join(pkgDir, 'node_modules', 'ip-set', 'package.json'), 'utf8'),
    ) as {
      version: string
    }
    assert.equal(ipSet.version, '2.2.0', 'the bundled ip-set, not ip-set 3 with its pnpm-only preinstall')
    assert.ok(!existsSync(join(pkgDir, 'node_modules', 'node-datachannel')))
    assert.ok(!readdirSync(pkgDir).includes('test'))

    const bin = join(prefix, 'bin')
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, AACSEED_CONFIG: '' }
    const run = (args: string[]) =>
      spawnSync('aacseed', args, { env, cwd: dir, encoding: 'utf8', timeout: 120_000 })

    const help = run(['--help'])
    assert.equal(help.status, 0, help.stderr)
    assert.match(help.stdout, /usage: aacseed COMMAND/)

    const version = run(['--version'])
    assert.equal(version.status, 0, version.stderr)
    assert.match(
      version.stdout,
      new RegExp(`^aacseed ${VERSION.replace(/\./g, '\\.')} \\(catalog schema \\d+\\)\n$`),
    )

    const out = join(dir, 'demo')
    const demo = run(['demo', '--out', out])
    assert.equal(demo.status, 0, demo.stderr)
    const config = join(out, 'aacseed.toml')
    // Installed on PATH, so the hint is the bare command (a clone's would start with npx).
    assert.ok(demo.stdout.includes(`next: aacseed serve --config ${config}\n`), demo.stdout)

    const port = await freePort()
    const serve = spawn('aacseed', ['serve', '--config', config], {
      // Not the demo's tracker port 6969: the README test binds that one, and test files run two at a time.
      env: { ...env, AACSEED_HTTP__PORT: String(port), AACSEED_TRACKER__PORT: String(await freePort()) },
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let log = ''
    serve.stdout.on('data', (d: Buffer) => (log += d.toString()))
    serve.stderr.on('data', (d: Buffer) => (log += d.toString()))
    const exited = new Promise<number | null>((res) => serve.on('exit', (code) => res(code)))
    t.after(() => serve.kill('SIGKILL'))
    await waitFor('serve to start', () => log.includes('aacseed serving'), 120_000)
    assert.ok(log.includes(`aacseed jobs --config ${config}`), log)
    assert.ok(!log.includes('npx aacseed'), log)
    const res = await fetch(`http://127.0.0.1:${port}/api/coverage`)
    assert.equal(res.status, 200)
    await waitFor(
      'the start-up jobs to seed the demo',
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/metrics`)
        const text = await r.text()
        return /aacseed_engine_torrents\{state="seeding"\} [1-9]/.test(text)
      },
      120_000,
      500,
    )
    serve.kill('SIGTERM')
    assert.equal(await exited, 0, log)
  },
)
