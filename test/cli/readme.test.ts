/**
 * The README's quick start, run as written (issue #11 §7, §9): the `npx aacseed` form from the
 * clone (apt-get and npm ci are the test's own set-up), then every follow-up command the README's
 * quick start and serve's start-up hints name, then the README's aria2c line word for word,
 * with its bytes compared to the demo's file.
 *
 * The commands are read from README.md, so this test breaks when the README changes. They use
 * fixed paths (/tmp/aacseed-demo, /tmp/aacseed-download) and ports (6969, 8737) because the
 * README does: one run at a time holds a lock directory (another worktree's test run may be
 * running it too), both folders are removed before and after, and a taken port fails the test
 * with what holds it.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { REPO_ROOT, requireTool, waitFor } from '../helpers.js'

const zstd = createRequire(import.meta.url)('zstd-napi') as { decompress(b: Uint8Array): Buffer }
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
const DEMO = '/tmp/aacseed-demo'
const DOWNLOAD = '/tmp/aacseed-download'
const LOCK = '/tmp/aacseed-readme-test.lock'
const TRACKER_PORT = 6969
const HTTP_PORT = 8737

/** The text of one `## ` section of the README. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}`)
  assert.ok(start >= 0, `README has no "${title}" section`)
  const end = README.indexOf('\n## ', start + 1)
  return README.slice(start, end < 0 ? undefined : end)
}

const QUICK_START = section('Quick start')

/** The ```sh blocks of the quick start, one command line each. */
function shBlocks(): string[] {
  return [...QUICK_START.matchAll(/```sh\n([\s\S]*?)\n```/g)].map((m) => m[1]!.trim())
}

/** The `npx aacseed` quick start, without its set-up steps (apt-get, npm ci), in order. */
function npxQuickStart(): string[] {
  const line = shBlocks().find((b) => b.includes('npx aacseed demo'))
  assert.ok(line, 'the README quick start shows the npx form')
  const steps = line.split(' && ')
  const own = steps.filter((s) => !/^(apt-get |npm ci$)/.test(s))
  assert.deepEqual(
    own.map((s) => s.split(' ').slice(0, 3).join(' ')),
    [`npx aacseed demo`, `npx aacseed serve`],
    `unexpected quick start: ${line}`,
  )
  return own
}

/** The aria2c line, exactly as the README shows it. */
function aria2cLine(): string {
  const line = shBlocks().find((b) => b.startsWith('aria2c '))
  assert.ok(line, 'the README quick start shows an aria2c download')
  return line
}

/** The inline commands of the paragraph about checking a running serve ("`serve` logs what it does"). */
function followUps(): string[] {
  const start = QUICK_START.indexOf('`serve` logs what it does')
  assert.ok(start >= 0, 'the README says how to check a running serve')
  const paragraph = QUICK_START.slice(start, QUICK_START.indexOf('\n\n', start))
  const commands = [...paragraph.matchAll(/`([^`]+)`/g)]
    .map((m) => m[1]!)
    .filter((c) => /^(aacseed |ls |\/)/.test(c))
  const urls = [...paragraph.matchAll(/(?<!`)\bhttps?:\/\/[^\s`]+/g)].map((m) => m[0].replace(/[.,;]$/, ''))
  return [...commands, ...urls]
}

/** One run at a time on this machine: a lock directory naming its pid, taken over when that pid is gone. */
async function takeLock(t: TestContext): Promise<void> {
  await waitFor(
    `the README test lock ${LOCK} (held by another run of this test)`,
    () => {
      try {
        mkdirSync(LOCK)
        writeFileSync(join(LOCK, 'pid'), String(process.pid))
        return true
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
        let pid = NaN
        try {
          pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'))
        } catch {
          // Being written this instant; look again.
          return false
        }
        if (Number.isInteger(pid) && !alive(pid)) rmSync(LOCK, { recursive: true, force: true })
        return false
      }
    },
    600_000,
    500,
  )
  t.after(() => rmSync(LOCK, { recursive: true, force: true }))
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Fails with what holds the port when the README's fixed port is taken. */
async function assertFree(port: number, kind: 'tcp' | 'udp'): Promise<void> {
  const taken = await new Promise<string | null>((resolve) => {
    if (kind === 'tcp') {
      const srv = createServer()
      srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(null)))
    } else {
      const sock = createSocket('udp4')
      sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
      sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(null)))
    }
  })
  if (taken === null) return
  const who = spawnSync('ss', ['-lnp', `sport = :${port}`], { encoding: 'utf8' }).stdout ?? ''
  assert.fail(
    `the README's quick start needs ${kind} port ${port} on 127.0.0.1, which is taken (${taken}); stop what holds it and run again:\n${who}`,
  )
}

function clean(): void {
  rmSync(DEMO, { recursive: true, force: true })
  rmSync(DOWNLOAD, { recursive: true, force: true })
}

/** A README command through sh, from the clone (where `npx aacseed` runs the clone's aacseed). */
function sh(command: string, timeout = 180_000): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('sh', ['-c', command], {
    cwd: REPO_ROOT,
    env: { ...process.env, AACSEED_CONFIG: '' },
    encoding: 'utf8',
    timeout,
    maxBuffer: 64 * 1024 * 1024,
  })
  return {
    code: r.status ?? -1,
    stdout: r.stdout,
    stderr: `${r.stderr}${r.error ? `\n${r.error.message}` : ''}`,
  }
}

/** The README names `aacseed …`; from the clone that is `npx aacseed …`, as the README says. */
function asRun(command: string): string {
  return command.startsWith('aacseed ') ? `npx ${command}` : command
}

interface ListEntry {
  display_name: string
  btih: string
  aa_currently_seeding: boolean
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  // npx runs aacseed in a child of its own: Ctrl-C reaches the whole process group.
  process.kill(-child.pid!, 'SIGINT')
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }, 20_000)
  await exited
  clearTimeout(timer)
}

test(
  'the README quick start (npx form), its follow-up commands and its aria2c download, as written',
  { timeout: 900_000 },
  async (t) => {
    if (!requireTool(t, 'aria2c')) return
    if (!requireTool(t, 'npx')) return
    const [demoCommand, serveCommand] = npxQuickStart()
    const aria2c = aria2cLine()
    const checks = followUps()
    // What the README promises, so the loop below cannot silently run nothing.
    for (const c of [
      `aacseed jobs --config ${DEMO}/aacseed.toml`,
      `ls ${DEMO}/torrents`,
      `${DEMO}/torrents.json`,
      `http://127.0.0.1:${HTTP_PORT}/`,
      `aacseed validate ${DEMO}/releases`,
      `aacseed get AACID --config ${DEMO}/aacseed.toml`,
    ]) {
      assert.ok(checks.includes(c), `the README quick start no longer names \`${c}\`: ${checks.join(' | ')}`)
    }
    assert.ok(aria2c.includes(`--dir=${DOWNLOAD}`) && aria2c.includes(`${DEMO}/torrents/`), aria2c)

    await takeLock(t)
    await assertFree(TRACKER_PORT, 'tcp')
    await assertFree(TRACKER_PORT, 'udp')
    await assertFree(HTTP_PORT, 'tcp')
    clean()
    t.after(clean)

    // 1. demo, as written.
    const demo = sh(demoCommand!)
    assert.equal(demo.code, 0, `${demoCommand}: ${demo.stderr}`)
    assert.ok(demo.stdout.includes(`next: npx aacseed serve --config ${DEMO}/aacseed.toml\n`), demo.stdout)
    assert.ok(existsSync(join(DEMO, 'aacseed.toml')))
    assert.ok(!existsSync(join(REPO_ROOT, 'aacseed.db')), 'demo wrote nothing into the working folder')

    // 2. serve, as written, until Ctrl-C.
    const serve = spawn('sh', ['-c', `exec ${serveCommand!}`], {
      cwd: REPO_ROOT,
      env: { ...process.env, AACSEED_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let log = ''
    serve.stdout.on('data', (d: Buffer) => (log += d.toString()))
    serve.stderr.on('data', (d: Buffer) => (log += d.toString()))
    let stopped = false
    t.after(async () => {
      if (!stopped) await stopGroup(serve)
    })

    // serve's start-up hints: "check it with: npx aacseed jobs --config …  or  http://…/".
    const hints = await waitFor(
      'serve to print its start-up hints',
      () => {
        if (serve.exitCode !== null) throw new Error(`serve exited ${serve.exitCode}:\n${log}`)
        for (const line of log.split('\n')) {
          if (!line.includes('check it with')) continue
          return (JSON.parse(line) as { check: string[] }).check
        }
        return undefined
      },
      180_000,
    ).catch((e: unknown) => {
      // A serve that never gets there says where it is stuck.
      throw new Error(`${(e as Error).message}; serve's log so far:\n${log}`)
    })
    assert.deepEqual(hints, [
      `npx aacseed jobs --config ${DEMO}/aacseed.toml`,
      `http://127.0.0.1:${HTTP_PORT}/`,
    ])

    // Everything made and seeded: the published list says so, and serve's tracker knows a seeder.
    const files = readdirSync(join(DEMO, 'releases'))
    const list = await waitFor(
      'every demo release to be torrented and seeded',
      async () => {
        if (serve.exitCode !== null) throw new Error(`serve exited ${serve.exitCode}:\n${log}`)
        const res = await fetch(`http://127.0.0.1:${HTTP_PORT}/torrents.json`).catch(() => null)
        if (!res?.ok) return undefined
        const entries = (await res.json()) as ListEntry[]
        return entries.length === files.length && entries.every((e) => e.aa_currently_seeding)
          ? entries
          : undefined
      },
      300_000,
      500,
    )

    // 3. Each follow-up command the README and serve's hints name.
    const seen = new Set<string>()
    for (const check of [...checks, ...hints]) {
      const command = asRun(check)
      if (seen.has(command)) continue
      seen.add(command)
      if (/^https?:\/\//.test(check)) {
        const res = await fetch(check)
        assert.equal(res.status, 200, check)
        const html = await res.text()
        assert.match(html, /<title>[^<]*aacseed/i, `${check} is not the dashboard`)
      } else if (check.endsWith('.json')) {
        const published = JSON.parse(readFileSync(check, 'utf8')) as ListEntry[]
        assert.deepEqual(
          published.map((e) => e.btih).sort(),
          list.map((e) => e.btih).sort(),
          'the published list names the torrents serve serves',
        )
      } else if (command.includes(' get AACID ')) {
        // An AACID the demo wrote: the first record of its first metadata file, read from the file.
        const meta = files.filter((f) => f.includes('_meta__') && f.endsWith('.jsonl.zst')).sort()[0]
        assert.ok(meta, `no .jsonl.zst metadata file among ${files.join(', ')}`)
        const first = zstd
          .decompress(readFileSync(join(DEMO, 'releases', meta)))
          .toString('utf8')
          .split('\n')[0]!
        const { aacid } = JSON.parse(first) as { aacid: string }
        const r = sh(command.replace('AACID', aacid))
        assert.equal(r.code, 0, `${command}: ${r.stderr}`)
        assert.equal((JSON.parse(r.stdout) as { aacid: string }).aacid, aacid, r.stdout)
      } else {
        const r = sh(command)
        assert.equal(r.code, 0, `${command}: ${r.stderr}`)
        if (command.includes(' jobs ')) {
          for (const job of ['scan', 'make_torrents', 'seed', 'engine_status'])
            assert.match(
              r.stdout,
              new RegExp(`\\b${job}\\b.*\\bok\\b`),
              `${command} lacks an ok ${job} run:\n${r.stdout}`,
            )
        } else if (command.startsWith('ls ')) {
          assert.deepEqual(
            r.stdout.split('\n').filter(Boolean).sort(),
            files.map((f) => `${f}.torrent`).sort(),
            'one .torrent per release',
          )
        } else if (command.includes(' validate ')) {
          const m = /checked (\d+) metadata file\(s\) with [\d,]+ records, (\d+) data folder\(s\)/.exec(
            r.stdout,
          )
          assert.ok(m, r.stdout)
          assert.equal(Number(m[1]) + Number(m[2]), files.length, r.stdout)
          assert.match(r.stdout, /^no problems$/m)
        } else {
          assert.fail(`the README names a command this test does not check: ${check}`)
        }
      }
    }

    // 4. The README's aria2c line, word for word: the first metadata file, from serve's seeder.
    const torrent = sh(`ls ${DEMO}/torrents/*_meta__*.torrent | head -n 1`).stdout.trim()
    const name = torrent.slice(`${DEMO}/torrents/`.length, -'.torrent'.length)
    const entry = list.find((e) => e.display_name === `${name}.torrent`)
    assert.ok(entry, `${name} is in the published list`)
    await waitFor(
      "serve's tracker to know the seeder",
      async () => {
        const infoHash = entry.btih.replace(/../g, '%$&')
        const res = await fetch(`http://127.0.0.1:${TRACKER_PORT}/scrape?info_hash=${infoHash}`).catch(
          () => null,
        )
        if (!res?.ok) return undefined
        const body = Buffer.from(await res.arrayBuffer()).toString('latin1')
        return /completei([1-9]\d*)e/.test(body) || undefined
      },
      120_000,
      500,
    )
    const started = Date.now()
    const download = sh(aria2c, 300_000)
    assert.equal(download.code, 0, `${aria2c}:\n${download.stdout}\n${download.stderr}`)
    t.diagnostic(`aria2c downloaded ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    assert.ok(
      readFileSync(join(DOWNLOAD, name)).equals(readFileSync(join(DEMO, 'releases', name))),
      'the downloaded bytes equal the demo file',
    )

    // Ctrl-C stops it cleanly.
    // (npm itself ends by the signal; aacseed logs its clean stop.)
    stopped = true
    await stopGroup(serve)
    assert.match(log, /"msg":"stopped"/, log.slice(-4000))
  },
)
