/**
 * The systemd files in systemd/ checked by systemd's own tools (Debian's systemd 252 here):
 * the unit loads cleanly, its hardening rates as exposure <= 2.0, every system call node makes
 * for aacseed's kind of work passes its SystemCallFilter, and the sysusers/tmpfiles files create
 * the user and folders the unit expects.
 */
import assert from 'node:assert/strict'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { CLI, REPO_ROOT, requireTool, tempDir } from '../helpers.js'

const SYSTEMD_DIR = join(REPO_ROOT, 'systemd')
const UNIT = join(SYSTEMD_DIR, 'aacseed.service')
const TRANSMISSION_UNIT = '/lib/systemd/system/transmission-daemon.service'

// Plain, stable output: no colours, no pager, warnings but no debug chatter.
const ENV = {
  ...process.env,
  SYSTEMD_LOG_LEVEL: 'info',
  SYSTEMD_COLORS: '0',
  SYSTEMD_PAGER: '',
  LC_ALL: 'C.UTF-8',
}

function run(cmd: string, args: string[], cwd?: string): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { env: ENV, encoding: 'utf8', timeout: 60_000, ...(cwd ? { cwd } : {}) })
  if (r.error) throw r.error
  return r
}

/**
 * A copy of the unit that `systemd-analyze verify` can load here. verify fails when ExecStart's
 * binary does not exist, and /usr/bin/aacseed exists only once installed; so the copy runs this
 * checkout's bin/aacseed.js with the node running the tests: the unit's documented /opt form.
 * (verify does not look the User= up, so the missing aacseed user does not matter offline.)
 */
function loadableUnit(t: TestContext, extra = ''): { dir: string; path: string } {
  const dir = tempDir(t)
  const text = readFileSync(UNIT, 'utf8')
  assert.match(text, /^ExecStart=\/usr\/bin\/aacseed serve /m)
  const rewritten = text.replace(/^ExecStart=\/usr\/bin\/aacseed /m, `ExecStart=${process.execPath} ${CLI} `)
  const path = join(dir, 'aacseed.service')
  writeFileSync(path, rewritten.replace(/^\[Service\]$/m, `[Service]${extra}`))
  return { dir, path }
}

/** verify exits 0 even for unknown or invalid settings (it only warns), so its warnings are the result. */
function verifyFindings(unit: { dir: string; path: string }): { status: number | null; findings: string[] } {
  const r = run('systemd-analyze', ['verify', '--man=no', unit.path], unit.dir)
  const findings = (r.stdout + r.stderr).split('\n').filter((l) => l.includes('aacseed.service'))
  return { status: r.status, findings }
}

/** The "Overall exposure level" of `systemd-analyze security --offline=true`: 0.0 (best) to 10.0. */
function exposure(unitPath: string, cwd?: string): number {
  const r = run('systemd-analyze', ['security', '--offline=true', '--no-pager', unitPath], cwd)
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)\b/.exec(r.stdout + r.stderr)
  assert.ok(m, `no exposure level in systemd-analyze output (exit ${r.status}):\n${r.stdout}${r.stderr}`)
  return Number(m[1])
}

test('systemd-analyze verify loads the unit without warnings', (t) => {
  if (!requireTool(t, 'systemd-analyze')) return
  const { status, findings } = verifyFindings(loadableUnit(t))
  assert.deepEqual(findings, [])
  assert.equal(status, 0)
})

test('the verify check catches a bad setting (proves the check above can fail)', (t) => {
  if (!requireTool(t, 'systemd-analyze')) return
  const { findings } = verifyFindings(loadableUnit(t, '\nProtectSystm=strict'))
  assert.equal(findings.length, 1, findings.join('\n'))
  assert.match(findings[0]!, /Unknown key/)
})

test('systemd-analyze security rates the unit at exposure 2.0 or better', (t) => {
  if (!requireTool(t, 'systemd-analyze')) return
  const unit = loadableUnit(t)
  const level = exposure(unit.path, unit.dir)
  t.diagnostic(`aacseed.service exposure: ${level}`)
  assert.ok(level <= 2.0, `exposure ${level} > 2.0`)
})

test("Debian's transmission-daemon unit rates far worse (proves the parser reads real numbers)", (t) => {
  if (!requireTool(t, 'systemd-analyze') || !requireTool(t, 'transmission-daemon')) return
  assert.ok(
    existsSync(TRANSMISSION_UNIT),
    `${TRANSMISSION_UNIT} is missing although transmission-daemon is installed`,
  )
  const level = exposure(TRANSMISSION_UNIT)
  t.diagnostic(`transmission-daemon.service exposure: ${level}`)
  assert.ok(level >= 5.0, `exposure ${level} < 5.0`)
})

/** Every system call group `systemd-analyze syscall-filter` knows, expanded to plain call names. */
function syscallGroups(): (group: string) => Set<string> {
  const r = run('systemd-analyze', ['syscall-filter', '--no-pager'])
  assert.equal(r.status, 0, r.stderr)
  const members = new Map<string, string[]>()
  let current: string[] | undefined
  for (const line of r.stdout.split('\n')) {
    const group = /^(@[\w-]+)\s*$/.exec(line)
    if (group) members.set(group[1]!, (current = []))
    else if (current && /^\s+[@\w]/.test(line) && !/^\s+#/.test(line)) current.push(line.trim())
  }
  const expand = (name: string, seen = new Set<string>()): Set<string> => {
    if (!name.startsWith('@')) return new Set([name])
    const list = members.get(name)
    assert.ok(list, `unknown system call group ${name}`)
    const out = new Set<string>()
    for (const m of list) if (!seen.has(m)) for (const s of expand(m, new Set([...seen, m]))) out.add(s)
    return out
  }
  return expand
}

/**
 * The calls the unit's SystemCallFilter= lines allow: the first is an allow list; later lines add, `~` lines
 * take away.
 */
function allowedSyscalls(unitText: string): Set<string> {
  const expand = syscallGroups()
  const allowed = new Set<string>()
  const lines = [...unitText.matchAll(/^SystemCallFilter=(.*)$/gm)].map((m) => m[1]!.trim())
  assert.ok(lines.length > 0 && !lines[0]!.startsWith('~'), 'the unit should start with an allow list')
  for (const line of lines) {
    const deny = line.startsWith('~')
    for (const name of line.replace(/^~/, '').split(/\s+/).filter(Boolean)) {
      for (const s of expand(name)) {
        if (deny) allowed.delete(s)
        else allowed.add(s)
      }
    }
  }
  return allowed
}

// What `aacseed serve` does, in miniature: SQLite in WAL mode, a worker thread hashing, TCP
// and UDP sockets on loopback, interface listing, file copies and renames, gzip, and node's own
// start-up (V8, libuv, the file-descriptor limit).
const WORKLOAD = `
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { copyFileSync, mkdtempSync, readdirSync, renameSync, rmSync, promises as fsp } from 'node:fs'
import dgram from 'node:dgram'
import net from 'node:net'
import os from 'node:os'
import zlib from 'node:zlib'
const require = createRequire(process.argv[2])
const Database = require('better-sqlite3')
const dir = mkdtempSync(process.argv[3] + '/w-')
const db = new Database(dir + '/a.db')
db.pragma('journal_mode = WAL')
db.exec('CREATE TABLE t (x)')
db.prepare('INSERT INTO t VALUES (?)').run(1)
db.close()
await new Promise((res) => {
  const w = new Worker('require("worker_threads").parentPort.postMessage(require("crypto").createHash("sha1").update("x").digest("hex"))', { eval: true })
  w.on('message', () => w.terminate().then(res))
})
const srv = net.createServer((s) => s.end('hi'))
await new Promise((r) => srv.listen(0, '127.0.0.1', r))
await new Promise((r) => net.connect(srv.address().port, '127.0.0.1').on('data', () => {}).on('end', r))
srv.close()
const udp = dgram.createSocket('udp4')
await new Promise((r) => udp.bind(0, '127.0.0.1', r))
udp.close()
if (Object.keys(os.networkInterfaces()).length === 0) throw new Error('no network interfaces')
os.availableParallelism(); os.totalmem(); process.memoryUsage()
copyFileSync(dir + '/a.db', dir + '/c.db')
await fsp.copyFile(dir + '/a.db', dir + '/d.db')
renameSync(dir + '/a.db', dir + '/b.db'); readdirSync(dir); await fsp.readFile(dir + '/b.db')
zlib.gzipSync(Buffer.alloc(100_000))
rmSync(dir, { recursive: true })
console.log('workload ok')
`

test("node does aacseed's kind of work under the unit's SystemCallFilter (emulated with strace)", (t) => {
  if (!requireTool(t, 'systemd-analyze') || !requireTool(t, 'strace')) return
  const unitText = readFileSync(UNIT, 'utf8')
  // The unit makes filtered calls fail with this errno; strace injects the same error into every
  // call the filter would refuse, which is what the seccomp filter systemd installs does.
  const errno = /^SystemCallErrorNumber=(\w+)$/m.exec(unitText)?.[1]
  assert.ok(errno, 'the unit should set SystemCallErrorNumber= (the default action kills node with SIGSYS)')
  const allowed = allowedSyscalls(unitText)
  const dir = tempDir(t)
  writeFileSync(join(dir, 'workload.mjs'), WORKLOAD)
  const summary = join(dir, 'strace.txt')
  // `!` inverts the set; `?` keeps strace quiet about names this architecture lacks (mmap2, ...).
  const inject = `inject=!${[...allowed].map((s) => `?${s}`).join(',')}:error=${errno}`
  const args = [
    '-f',
    '-qq',
    '-c',
    '-o',
    summary,
    '-e',
    inject,
    process.execPath,
    join(dir, 'workload.mjs'),
    join(REPO_ROOT, 'package.json'),
    dir,
  ]
  const r = run('strace', args)
  assert.equal(r.status, 0, `node failed under the filter:\n${r.stderr}`)
  assert.match(r.stdout, /workload ok/)
  // strace -c: "% time  seconds  usecs/call  calls  [errors]  syscall" rows; the name is last.
  const used = readFileSync(summary, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 5 && /^\d/.test(f[0]!) && f.at(-1) !== 'total')
    .map((f) => f.at(-1)!)
  assert.ok(
    used.length > 30 && used.includes('prlimit64'),
    `suspiciously few system calls seen: ${used.join(' ')}`,
  )
  const refused = used.filter((s) => !allowed.has(s))
  t.diagnostic(
    `${used.length} distinct system calls made, ${allowed.size} allowed; refused with ${errno} and survived: ${refused.join(' ') || 'none'}`,
  )
  // Ones we know about and checked; anything new deserves a look (and a comment in the unit).
  assert.deepEqual(
    refused.filter((s) => s !== 'fchown'),
    [],
  )
})

test('the sysusers file creates the user the unit runs as, and tmpfiles its folders', (t) => {
  if (!requireTool(t, 'systemd-sysusers') || !requireTool(t, 'systemd-tmpfiles')) return
  const root = tempDir(t)
  const sysusers = join(SYSTEMD_DIR, 'aacseed.sysusers.conf')
  const tmpfiles = join(SYSTEMD_DIR, 'aacseed.tmpfiles.conf')
  // Config files given with --root are read from the host path when absolute.
  const dry = run('systemd-sysusers', ['--dry-run', `--root=${root}`, sysusers])
  assert.equal(dry.status, 0, dry.stderr)
  assert.match(dry.stderr + dry.stdout, /Creating user '?aacseed'? \(aacseed AAC seeder\)/)
  if (process.getuid?.() !== 0) {
    // tmpfiles has no --dry-run in systemd 252, and creating the folders needs chown.
    t.skip('creating the user and folders in a temporary root needs root')
    return
  }
  mkdirSync(join(root, 'etc'))
  const users = run('systemd-sysusers', [`--root=${root}`, sysusers])
  assert.equal(users.status, 0, users.stderr)
  const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8')
  const entry = /^aacseed:x:(\d+):(\d+):aacseed AAC seeder:\/var\/lib\/aacseed:(\S+)$/m.exec(passwd)
  assert.ok(entry, passwd)
  const uid = Number(entry[1])
  const gid = Number(entry[2])
  assert.ok(uid > 0 && uid < 1000, `a system uid, got ${uid}`)
  // tmpfiles resolves the user and group names in the temporary root's /etc/passwd and /etc/group.
  const dirs = run('systemd-tmpfiles', [`--root=${root}`, '--create', tmpfiles])
  assert.equal(dirs.status, 0, dirs.stderr)
  const expect: [string, 'dir' | 'file', number, number, number][] = [
    ['etc/aacseed', 'dir', 0o750, 0, gid],
    ['etc/aacseed/credentials', 'dir', 0o700, 0, 0],
    // LoadCredential= fails the start when its file is missing: they exist, empty.
    ['etc/aacseed/credentials/transmission-password', 'file', 0o600, 0, 0],
    ['etc/aacseed/credentials/http-token', 'file', 0o600, 0, 0],
    ['srv/aac', 'dir', 0o755, uid, gid],
  ]
  for (const [path, kind, mode, owner, group] of expect) {
    const st = statSync(join(root, path))
    assert.deepEqual(
      [path, st.isDirectory() ? 'dir' : 'file', st.mode & 0o7777, st.uid, st.gid],
      [path, kind, mode, owner, group],
    )
  }
  // A secret written into a credential file survives the next boot's tmpfiles run.
  const secret = join(root, 'etc/aacseed/credentials/http-token')
  writeFileSync(secret, 'tok3n\n')
  assert.equal(run('systemd-tmpfiles', [`--root=${root}`, '--create', tmpfiles]).status, 0)
  assert.equal(readFileSync(secret, 'utf8'), 'tok3n\n')
  // And every LoadCredential= of the unit points at a file tmpfiles creates.
  const sources = [...readFileSync(UNIT, 'utf8').matchAll(/^LoadCredential=[^:]+:(\S+)$/gm)].map((m) => m[1]!)
  assert.equal(sources.length, 2)
  for (const src of sources) assert.ok(existsSync(join(root, src)), `${src} is not created by ${tmpfiles}`)
})
