/**
 * systemd/user/aacseed.service, the unit for `systemctl --user` on a seedbox without root:
 * `systemd-analyze --user verify` loads it cleanly in a throwaway home and runtime folder, its
 * hardening rates as low as user units allow, and its paths are the ones the README installs to.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { CLI, REPO_ROOT, requireTool, tempDir } from '../helpers.js'

const UNIT = join(REPO_ROOT, 'systemd', 'user', 'aacseed.service')
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')

/** A home with aacseed where `npm install -g --prefix ~/.local` puts it, and a private XDG_RUNTIME_DIR. */
function userSession(t: TestContext, extra = ''): { dir: string; unit: string; env: NodeJS.ProcessEnv } {
  const root = tempDir(t)
  const home = join(root, 'home')
  const runtime = join(root, 'run')
  mkdirSync(join(home, '.local', 'bin'), { recursive: true })
  mkdirSync(join(home, '.local', 'share', 'aacseed'), { recursive: true })
  mkdirSync(join(home, '.config', 'aacseed', 'credentials'), { recursive: true })
  mkdirSync(runtime, { mode: 0o700 })
  const bin = join(home, '.local', 'bin', 'aacseed')
  writeFileSync(bin, `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`)
  chmodSync(bin, 0o755)
  const dir = join(root, 'units')
  mkdirSync(dir)
  const unit = join(dir, 'aacseed.service')
  writeFileSync(unit, readFileSync(UNIT, 'utf8').replace(/^\[Service\]$/m, `[Service]${extra}`))
  return {
    dir,
    unit,
    env: {
      ...process.env,
      HOME: home,
      XDG_RUNTIME_DIR: runtime,
      SYSTEMD_LOG_LEVEL: 'info',
      SYSTEMD_COLORS: '0',
      SYSTEMD_PAGER: '',
      LC_ALL: 'C.UTF-8',
    },
  }
}

function analyze(s: { dir: string; env: NodeJS.ProcessEnv }, args: string[]) {
  const r = spawnSync('systemd-analyze', ['--user', ...args], {
    cwd: s.dir,
    env: s.env,
    encoding: 'utf8',
    timeout: 60_000,
  })
  if (r.error) throw r.error
  return r
}

function verifyFindings(s: { dir: string; unit: string; env: NodeJS.ProcessEnv }): string[] {
  const r = analyze(s, ['verify', '--man=no', s.unit])
  return (r.stdout + r.stderr).split('\n').filter((l) => l.includes('aacseed.service'))
}

test('systemd-analyze --user verify loads the user unit without warnings', (t) => {
  if (!requireTool(t, 'systemd-analyze')) return
  assert.deepEqual(verifyFindings(userSession(t)), [])
})

test('the user verify check catches a bad setting (proves the check above can fail)', (t) => {
  if (!requireTool(t, 'systemd-analyze')) return
  const findings = verifyFindings(userSession(t, '\nRestrt=on-failure'))
  assert.equal(findings.length, 1, findings.join('\n'))
  assert.match(findings[0]!, /Unknown key/)
})

test('systemd-analyze --user security rates the user unit at exposure 2.0 or better', (t) => {
  if (!requireTool(t, 'systemd-analyze')) return
  const s = userSession(t)
  const r = analyze(s, ['security', '--offline=true', '--no-pager', s.unit])
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)\b/.exec(r.stdout + r.stderr)
  assert.ok(m, r.stdout + r.stderr)
  const level = Number(m[1])
  t.diagnostic(`systemd/user/aacseed.service exposure: ${level} (a bare user unit: 9.6)`)
  assert.ok(level <= 2.0, `exposure ${level} > 2.0`)
  // Compare: the same unit without its hardening rates as a bare one.
  const bare = join(s.dir, 'bare.service')
  writeFileSync(bare, `[Service]\nExecStart=${join(s.env.HOME!, '.local', 'bin', 'aacseed')} serve\n`)
  const b = analyze(s, ['security', '--offline=true', '--no-pager', bare])
  const bm = /Overall exposure level for \S+: (\d+(?:\.\d+)?)\b/.exec(b.stdout + b.stderr)
  assert.ok(bm && Number(bm[1]) >= 9, b.stdout + b.stderr)
})

test('the user unit uses the paths the README installs to, restarts on failure, and names its secret files', () => {
  const text = readFileSync(UNIT, 'utf8')
  assert.match(
    text,
    /^ExecStart=%h\/\.local\/bin\/aacseed serve --config %h\/\.config\/aacseed\/aacseed\.toml$/m,
  )
  assert.match(text, /^WorkingDirectory=%h\/\.local\/share\/aacseed$/m)
  assert.match(text, /^ReadWritePaths=%h\/\.local\/share\/aacseed$/m)
  assert.match(text, /^Restart=on-failure$/m)
  assert.match(text, /^RestartPreventExitStatus=2$/m)
  assert.match(text, /^WantedBy=default\.target$/m)
  const creds = [...text.matchAll(/^LoadCredential=([\w-]+):(\S+)$/gm)].map((m) => [m[1], m[2]])
  assert.deepEqual(creds, [
    ['http-token', '%h/.config/aacseed/credentials/http-token'],
    ['transmission-password', '%h/.config/aacseed/credentials/transmission-password'],
  ])
  // No setting a user manager cannot apply.
  for (const key of [
    'User',
    'Group',
    'DynamicUser',
    'ProtectProc',
    'ProcSubset',
    'ProtectControlGroups',
    'RemoveIPC',
  ]) {
    assert.doesNotMatch(text, new RegExp(`^${key}=`, 'm'), `${key}= is not available to user units`)
  }
  // The README's rootless section shows the install, lingering, the start and the logs.
  const section = README.slice(README.indexOf('## Rootless seedbox'))
  assert.ok(README.includes('## Rootless seedbox'))
  for (const cmd of [
    'npm install -g --prefix ~/.local',
    'loginctl enable-linger',
    'systemctl --user enable --now aacseed',
    'journalctl --user -u aacseed',
    'systemd/user/aacseed.service',
  ]) {
    assert.ok(section.includes(cmd), `README "Rootless seedbox" lacks ${cmd}`)
  }
})
