/**
 * The config lookup as the CLI uses it, `aacseed config`, every command's `--help` naming the
 * file in use, and the read-only commands refusing a database that does not exist (exit 2,
 * the path named, nothing created, nothing written into the current folder).
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { commandEntries } from '../../src/cli/commands/index.js'
import { runCli, tempDir } from '../helpers.js'

/** An empty working folder and private HOME/XDG folders: the real ~/.config and /etc play no part. */
function sandbox(t: TestContext) {
  const dir = tempDir(t)
  const cwd = join(dir, 'cwd')
  mkdirSync(cwd)
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: join(dir, 'home'),
    XDG_CONFIG_HOME: join(dir, 'xdg-config'),
    XDG_DATA_HOME: join(dir, 'xdg-data'),
  }
  return { dir, cwd, env, dataDir: join(dir, 'xdg-data', 'aacseed') }
}

const READ_ONLY: string[][] = [
  ['jobs'],
  ['coverage'],
  ['health'],
  ['get', 'aacid__zlib3_records__20230808T014342Z__22430000__hnyiZz2K44Ur5SBAuAgpg8'],
  ['fleet', 'status'],
  ['torrents', 'list'],
  ['mirror', 'status'],
]

describe('read-only commands on a database that does not exist', () => {
  test('without a config: exit 2 naming the default path in $XDG_DATA_HOME/aacseed; nothing created', async (t) => {
    const { cwd, env, dataDir } = sandbox(t)
    for (const args of READ_ONLY) {
      const r = await runCli(args, { env, cwd })
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
      assert.ok(
        r.stderr.includes(`no database at ${join(dataDir, 'aacseed.db')}`),
        `${args.join(' ')}: ${r.stderr}`,
      )
      assert.equal(r.stdout, '')
    }
    assert.deepEqual(readdirSync(cwd), [])
    assert.equal(existsSync(dataDir), false)
  })

  test('with --db: exit 2 naming that path, and the file is not created', async (t) => {
    const { dir, cwd, env } = sandbox(t)
    const db = join(dir, 'nowhere', 'x.db')
    for (const args of READ_ONLY) {
      const r = await runCli([...args, '--db', db], { env, cwd })
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, new RegExp(`no database at ${db.replace(/[.]/g, '\\.')}`))
    }
    assert.equal(existsSync(join(dir, 'nowhere')), false)
    assert.deepEqual(readdirSync(cwd), [])
  })

  test("a config's catalog.database is the path named", async (t) => {
    const { dir, cwd, env } = sandbox(t)
    const file = join(dir, 'a.toml')
    writeFileSync(file, '[catalog]\ndatabase = "db/catalog.db"\n')
    const r = await runCli(['coverage', '--config', file], { env, cwd })
    assert.equal(r.code, 2)
    assert.match(r.stderr, new RegExp(`no database at ${join(dir, 'db', 'catalog.db')}`))
    assert.equal(existsSync(join(dir, 'db')), false)
  })
})

describe('nothing is written into the current folder unless named', () => {
  test('torrents make --db X without a config writes the torrents and list to $XDG_DATA_HOME/aacseed', async (t) => {
    const { dir, cwd, env, dataDir } = sandbox(t)
    const demo = await runCli(['demo', '--out', join(dir, 'demo')], { env, cwd })
    assert.equal(demo.code, 0, demo.stderr)
    const r = await runCli(['torrents', 'make', '--db', join(dir, 'demo', 'aacseed.db'), '--json'], {
      env,
      cwd,
    })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(readdirSync(cwd), [])
    const out = JSON.parse(r.stdout) as { list_path: string; made: unknown[] }
    assert.equal(out.list_path, join(dataDir, 'torrents.json'))
    assert.ok(out.made.length > 0)
    assert.equal(readdirSync(join(dataDir, 'torrents')).length, out.made.length)
  })
})

describe('which config is in use', () => {
  test('every command --help names the file in use, or says none was found', async (t) => {
    const { cwd, env } = sandbox(t)
    for (const e of commandEntries) {
      const r = await runCli([...e.name.split(' '), '--help'], { env, cwd })
      assert.equal(r.code, 0, `${e.name}: ${r.stderr}`)
      assert.match(r.stdout, /^config: none found \(looked at \$AACSEED_CONFIG, /m, e.name)
    }
    writeFileSync(join(cwd, 'aacseed.toml'), '')
    for (const e of commandEntries) {
      const r = await runCli([...e.name.split(' '), '--help'], { env, cwd })
      assert.ok(r.stdout.includes(`config: ${join(cwd, 'aacseed.toml')} (from ./aacseed.toml)`), e.name)
    }
  })

  test('aacseed config: the file, the resolved settings, and secrets only as set or unset', async (t) => {
    const { dir, cwd, env } = sandbox(t)
    const xdg = join(env.XDG_CONFIG_HOME!, 'aacseed')
    mkdirSync(xdg, { recursive: true })
    const token = join(dir, 'token')
    writeFileSync(token, 'TOKEN-VALUE-123\n')
    writeFileSync(
      join(xdg, 'aacseed.toml'),
      [
        '[catalog]',
        'database = "cat.db"',
        '[engine.transmission]',
        'url = "http://me:URL-PASS-456@127.0.0.1:9091/transmission/rpc"',
        '[http]',
        `token_file = "${token}"`,
        '[[fleet.seedboxes]]',
        'name = "box-1"',
        'url = "http://127.0.0.1:9999/transmission/rpc"',
        'path = "/srv"',
      ].join('\n'),
    )
    const r = await runCli(['config'], {
      env: { ...env, AACSEED_SEEDBOX_BOX_1_PASSWORD: 'BOX-PASS-789', AACSEED_HTTP__PORT: '9123' },
      cwd,
    })
    assert.equal(r.code, 0, r.stderr)
    assert.match(
      r.stdout,
      new RegExp(`^# config: ${join(xdg, 'aacseed.toml')} \\(from \\$XDG_CONFIG_HOME/aacseed\\)`),
    )
    assert.match(r.stdout, /engine\.transmission password: set/)
    assert.match(r.stdout, /http token: set/)
    assert.match(r.stdout, /seedbox box-1 password: set/)
    assert.ok(r.stdout.includes(`database = "${join(xdg, 'cat.db')}"`))
    assert.match(r.stdout, /port = 9123/)
    for (const secret of ['TOKEN-VALUE-123', 'URL-PASS-456', 'BOX-PASS-789'])
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), secret)

    const j = await runCli(['config', '--json'], { env, cwd })
    assert.equal(j.code, 0, j.stderr)
    const parsed = JSON.parse(j.stdout) as {
      file: string
      source: string
      secrets: { secret: string; state: string }[]
    }
    assert.equal(parsed.file, join(xdg, 'aacseed.toml'))
    assert.equal(parsed.source, 'user')
    assert.deepEqual(
      parsed.secrets.map((s) => [s.secret, s.state]),
      [
        ['engine.transmission password', 'set'],
        ['http token', 'set'],
        ['seedbox box-1 password', 'unset'],
      ],
    )
    assert.ok(!j.stdout.includes('URL-PASS-456') && !j.stdout.includes('TOKEN-VALUE-123'))
  })

  test('aacseed config with no file: says so, and where the data would go', async (t) => {
    const { cwd, env, dataDir } = sandbox(t)
    const r = await runCli(['config'], { env, cwd })
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^# config: none found/)
    assert.ok(r.stdout.includes(`database = "${join(dataDir, 'aacseed.db')}"`))
    assert.deepEqual(readdirSync(cwd), [])
  })
})
