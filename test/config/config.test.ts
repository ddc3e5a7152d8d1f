/**
 * Configuration: defaults, TOML, unknown keys, every bad setting at once, release roots,
 * relative paths, environment overrides, AACSEED_CONFIG, TOML syntax errors and secrets.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import {
  checkRoots,
  configSchema,
  describeConfigLocation,
  loadConfig,
  locateConfig,
  readSecret,
  userConfigPath,
  type Config,
} from '../../src/config/index.js'
import { ConfigError } from '../../src/errors.js'
import { tempDir } from '../helpers.js'

/** Runs fn, expects a ConfigError, returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`)
    assert.equal(e.code, 'config')
    return e
  }
  assert.fail('expected a ConfigError')
}

function write(path: string, text: string): string {
  writeFileSync(path, text)
  return path
}

/**
 * Asserts that every key of `expected` has this value in `actual` (keys added to the schema later are
 * ignored).
 */
function assertSubset(actual: unknown, expected: unknown, path = 'config'): void {
  if (typeof expected === 'object' && expected !== null && !Array.isArray(expected)) {
    assert.ok(
      typeof actual === 'object' && actual !== null && !Array.isArray(actual),
      `${path}: expected an object, got ${JSON.stringify(actual)}`,
    )
    for (const [k, v] of Object.entries(expected))
      assertSubset((actual as Record<string, unknown>)[k], v, `${path}.${k}`)
  } else {
    assert.deepEqual(actual, expected, path)
  }
}

/** The defaults as documented when these tests were written, with paths resolved against `base`. */
function documentedDefaults(base: string) {
  return {
    catalog: { roots: [], database: join(base, 'aacseed.db'), chunk_bytes: 2_097_152, parse_workers: 0 },
    torrents: {
      out_dir: join(base, 'torrents'),
      list_path: join(base, 'torrents.json'),
      piece_length: 0,
      creation_date: 'range-end',
      announce: [],
      web_seeds: [],
      comment: '',
      source: '',
      private: false,
      url_base: 'torrents/',
      top_level_group_name: 'aac',
      hash_workers: 0,
    },
    engine: {
      kind: 'webtorrent',
      labels: ['aacseed'],
      webtorrent: { port: 6881, host: '0.0.0.0', dht: true, lsd: true, trackers: [], max_connections: 55 },
      transmission: {
        url: 'http://127.0.0.1:9091/transmission/rpc',
        username: '',
        password_file: '',
        path_map: {},
        timeout_ms: 30_000,
      },
      qbittorrent: {
        url: 'http://127.0.0.1:8080/',
        username: '',
        password_file: '',
        path_map: {},
        timeout_ms: 30_000,
      },
      deluge: {
        url: 'http://127.0.0.1:8112/json',
        username: '',
        password_file: '',
        path_map: {},
        timeout_ms: 30_000,
        daemon: '',
      },
      rtorrent: {
        url: 'scgi://127.0.0.1:5000',
        username: '',
        password_file: '',
        path_map: {},
        timeout_ms: 30_000,
      },
    },
    jobs: {
      scan: '*/30 * * * *',
      make_torrents: '*/30 * * * *',
      seed: '*/10 * * * *',
      engine_status: '* * * * *',
      keep_runs: 1000,
    },
    http: { enabled: true, host: '127.0.0.1', port: 8737, token_file: '' },
    log: { level: 'info' },
  }
}

/**
 * Everything loadConfig gives with no file and no overrides: the schema's defaults, paths resolved against
 * `base`.
 */
function assertDefaults(c: Config, base: string): void {
  assertSubset(c, documentedDefaults(base))
  const schemaDefaults = configSchema.parse({})
  // Apart from the path settings, nothing differs from the schema's own defaults.
  const strip = (x: Config) => ({
    ...x,
    catalog: { ...x.catalog, database: '' },
    torrents: { ...x.torrents, out_dir: '', list_path: '' },
  })
  assert.deepEqual(strip(c), strip(schemaDefaults))
}

describe('loadConfig', () => {
  test('no file: every default, paths in $XDG_DATA_HOME/aacseed, never the working directory', (t) => {
    const dir = tempDir(t)
    const env = { HOME: join(dir, 'home'), XDG_DATA_HOME: join(dir, 'data') }
    assertDefaults(loadConfig({ env, cwd: dir }), join(dir, 'data', 'aacseed'))
    // An empty AACSEED_CONFIG means no file, too.
    assertDefaults(
      loadConfig({ env: { ...env, AACSEED_CONFIG: '' }, cwd: dir }),
      join(dir, 'data', 'aacseed'),
    )
    // Without XDG_DATA_HOME (or with a relative one, which the XDG spec says to ignore): ~/.local/share.
    const home = join(dir, 'home', '.local', 'share', 'aacseed')
    assertDefaults(loadConfig({ env: { HOME: join(dir, 'home') }, cwd: dir }), home)
    assertDefaults(loadConfig({ env: { HOME: join(dir, 'home'), XDG_DATA_HOME: 'rel' }, cwd: dir }), home)
  })

  test('lookup without --config: $AACSEED_CONFIG, ./aacseed.toml, $XDG_CONFIG_HOME/aacseed, /etc/aacseed', (t) => {
    const dir = tempDir(t)
    const cwd = join(dir, 'work')
    const xdg = join(dir, 'xdg')
    mkdirSync(cwd)
    mkdirSync(join(xdg, 'aacseed'), { recursive: true })
    const env = { HOME: join(dir, 'home'), XDG_CONFIG_HOME: xdg }
    const none = locateConfig({ env, cwd })
    assert.equal(none.path, null)
    assert.deepEqual(none.searched, [
      '$AACSEED_CONFIG',
      join(cwd, 'aacseed.toml'),
      join(xdg, 'aacseed', 'aacseed.toml'),
      '/etc/aacseed/aacseed.toml',
    ])
    const user = write(join(xdg, 'aacseed', 'aacseed.toml'), '[http]\nport = 1001\n')
    assert.deepEqual(locateConfig({ env, cwd }), { path: user, source: 'user', searched: none.searched })
    assert.equal(loadConfig({ env, cwd }).http.port, 1001)
    // Relative paths in a found file resolve against its folder, as for --config.
    assert.equal(loadConfig({ env, cwd }).catalog.database, join(xdg, 'aacseed', 'aacseed.db'))
    const local = write(join(cwd, 'aacseed.toml'), '[http]\nport = 1002\n')
    assert.equal(locateConfig({ env, cwd }).path, local)
    assert.equal(loadConfig({ env, cwd }).http.port, 1002)
    const named = write(join(dir, 'named.toml'), '[http]\nport = 1003\n')
    assert.equal(loadConfig({ env: { ...env, AACSEED_CONFIG: named }, cwd }).http.port, 1003)
    assert.equal(locateConfig({ env: { ...env, AACSEED_CONFIG: named }, cwd }).source, 'env')
    // --config wins over everything, and a named file that is missing is an error, not a fallback.
    assert.equal(loadConfig({ path: user, env: { ...env, AACSEED_CONFIG: named }, cwd }).http.port, 1001)
    const e = configError(() => loadConfig({ env: { ...env, AACSEED_CONFIG: join(dir, 'nope.toml') }, cwd }))
    assert.match(e.message, /cannot read .*nope\.toml: ENOENT/)
    // $XDG_CONFIG_HOME unset: ~/.config.
    assert.equal(userConfigPath({ HOME: '/h' }), '/h/.config/aacseed/aacseed.toml')
    assert.match(
      describeConfigLocation(locateConfig({ env, cwd }), env),
      /^config: .*work\/aacseed\.toml \(from \.\/aacseed\.toml\)$/,
    )
    assert.match(
      describeConfigLocation(none, env),
      /^config: none found \(looked at \$AACSEED_CONFIG, .*\); built-in defaults/,
    )
  })

  test("an empty file gives the defaults, relative to the file's folder", (t) => {
    const dir = tempDir(t)
    mkdirSync(join(dir, 'etc'))
    const file = write(join(dir, 'etc', 'empty.toml'), '')
    assertDefaults(loadConfig({ path: file, env: {}, cwd: dir }), join(dir, 'etc'))
  })

  test('a full TOML file sets every key', (t) => {
    const dir = tempDir(t)
    const file = write(
      join(dir, 'aacseed.toml'),
      `
[catalog]
roots = ["/srv/releases", "more"]
database = "/var/lib/aacseed/catalog.db"
chunk_bytes = 1048576
parse_workers = 4

[torrents]
out_dir = "/srv/torrents"
list_path = ""
piece_length = 4194304
creation_date = "omit"
announce = [["http://tracker.example:6969/announce"], ["udp://a.example:1337/announce", "udp://b.example:1337/announce"]]
web_seeds = ["https://seed.example/releases/"]
comment = "made by aacseed"
source = "AAC"
private = true
url_base = "https://example.org/torrents/"
top_level_group_name = "my_aac"
hash_workers = 2

[engine]
kind = "transmission"

[engine.webtorrent]
port = 51413
host = "::"
dht = false
lsd = false
trackers = ["udp://c.example:1337/announce"]
max_connections = 200

[engine.transmission]
url = "http://10.0.0.2:9091/transmission/rpc"
username = "seeder"
password_file = "/run/credentials/aacseed/tpw"
path_map = { "/srv/releases" = "/downloads/releases" }
labels = ["aac", "zlib"]
timeout_ms = 5000

[jobs]
scan = "0 * * * *"
make_torrents = "5 * * * *"
seed = "*/5 * * * *"
engine_status = "*/2 * * * *"
keep_runs = 50

[http]
enabled = false
host = "0.0.0.0"
port = 9000
token_file = "/run/credentials/aacseed/token"

[log]
level = "debug"
`,
    )
    const c = loadConfig({ path: file, env: {}, cwd: '/' })
    assertSubset(c, {
      catalog: {
        roots: ['/srv/releases', join(dir, 'more')],
        database: '/var/lib/aacseed/catalog.db',
        chunk_bytes: 1_048_576,
        parse_workers: 4,
      },
      torrents: {
        out_dir: '/srv/torrents',
        list_path: '',
        piece_length: 4194304,
        creation_date: 'omit',
        announce: [
          ['http://tracker.example:6969/announce'],
          ['udp://a.example:1337/announce', 'udp://b.example:1337/announce'],
        ],
        web_seeds: ['https://seed.example/releases/'],
        comment: 'made by aacseed',
        source: 'AAC',
        private: true,
        url_base: 'https://example.org/torrents/',
        top_level_group_name: 'my_aac',
        hash_workers: 2,
      },
      engine: {
        kind: 'transmission',
        webtorrent: {
          port: 51413,
          host: '::',
          dht: false,
          lsd: false,
          trackers: ['udp://c.example:1337/announce'],
          max_connections: 200,
        },
        transmission: {
          url: 'http://10.0.0.2:9091/transmission/rpc',
          username: 'seeder',
          password_file: '/run/credentials/aacseed/tpw',
          path_map: { '/srv/releases': '/downloads/releases' },
          labels: ['aac', 'zlib'],
          timeout_ms: 5000,
        },
      },
      jobs: {
        scan: '0 * * * *',
        make_torrents: '5 * * * *',
        seed: '*/5 * * * *',
        engine_status: '*/2 * * * *',
        keep_runs: 50,
      },
      http: { enabled: false, host: '0.0.0.0', port: 9000, token_file: '/run/credentials/aacseed/token' },
      log: { level: 'debug' },
    })
  })

  test('a partial section keeps the defaults of its other keys', (t) => {
    const dir = tempDir(t)
    const file = write(join(dir, 'a.toml'), '[http]\nport = 1234\n')
    const c = loadConfig({ path: file, env: {}, cwd: dir })
    assert.deepEqual(c.http, {
      enabled: true,
      host: '127.0.0.1',
      port: 1234,
      token_file: '',
      per_torrent_metrics: false,
      refresh_seconds: 10,
    })
    assert.deepEqual(
      c.catalog,
      loadConfig({ path: write(join(dir, 'empty.toml'), ''), env: {}, cwd: dir }).catalog,
    )
  })

  test('an unknown key is an error that names it, at any depth', (t) => {
    const dir = tempDir(t)
    const cases: [string, string][] = [
      ['databse = "x"\n', 'config: (top level): unknown setting(s) "databse"'],
      ['[foo]\nbar = 1\n', 'config: (top level): unknown setting(s) "foo"'],
      ['[catalog]\ndatabse = "x"\n', 'config: catalog: unknown setting(s) "databse"'],
      ['[engine.webtorrent]\nprot = 1\n', 'config: engine.webtorrent: unknown setting(s) "prot"'],
      ['[http]\nport = 1\ntoken = "t"\n', 'config: http: unknown setting(s) "token"'],
    ]
    for (const [toml, message] of cases) {
      const file = write(join(dir, 'c.toml'), toml)
      const e = configError(() => loadConfig({ path: file, env: {}, cwd: dir }))
      assert.equal(e.message, message, toml)
      assert.equal(e.location.path, file)
    }
  })

  test('bad types: every bad setting is listed at once, each with its path', (t) => {
    const dir = tempDir(t)
    const file = write(
      join(dir, 'bad.toml'),
      `
[catalog]
roots = "/srv/releases"
chunk_bytes = 5
extra = true

[torrents]
piece_length = 1000
announce = [["not a url"]]
private = "yes"

[engine]
kind = "utorrent"

[http]
port = "x"

[log]
level = "loud"
`,
    )
    const e = configError(() => loadConfig({ path: file, env: {}, cwd: dir }))
    const lines = e.message.split('\n')
    const expect = [
      /^config: catalog\.roots: Expected array, received string$/,
      /^config: catalog\.chunk_bytes: .*65536/,
      /^config: catalog: unknown setting\(s\) "extra"$/,
      /^config: torrents\.piece_length: must be 0 \(auto\) or a power of two from 32768 to 16777216$/,
      /^config: torrents\.announce\[0\]\[0\]: Invalid url$/,
      /^config: torrents\.private: Expected boolean, received string$/,
      /^config: engine\.kind: .*'webtorrent' \| 'transmission'/,
      /^config: http\.port: Expected number, received string$/,
      /^config: log\.level: .*'fatal'/,
    ]
    for (const re of expect)
      assert.ok(
        lines.some((l) => re.test(l)),
        `${re} not in:\n${e.message}`,
      )
    assert.equal(lines.length, expect.length, e.message)
    for (const l of lines) assert.match(l, /^config: /)
  })

  test('piece_length: 0 or a power of two from 32 KiB to 16 MiB', (t) => {
    const dir = tempDir(t)
    for (const ok of [0, 32768, 65536, 1048576, 16777216]) {
      const file = write(join(dir, 'p.toml'), `[torrents]\npiece_length = ${ok}\n`)
      assert.equal(loadConfig({ path: file, env: {}, cwd: dir }).torrents.piece_length, ok)
    }
    for (const bad of [16384, 32769, 100000, 33554432, -1, 1.5]) {
      const file = write(join(dir, 'p.toml'), `[torrents]\npiece_length = ${bad}\n`)
      const e = configError(() => loadConfig({ path: file, env: {}, cwd: dir }))
      assert.match(e.message, /^config: torrents\.piece_length: /, String(bad))
    }
  })

  test("relative paths resolve against the config file's folder, not the working directory", (t) => {
    const dir = tempDir(t)
    mkdirSync(join(dir, 'etc', 'aacseed'), { recursive: true })
    mkdirSync(join(dir, 'elsewhere'))
    const file = write(
      join(dir, 'etc', 'aacseed', 'aacseed.toml'),
      `
[catalog]
roots = ["../../releases", "/abs/releases", "./here"]
database = "db/catalog.db"
[torrents]
out_dir = "out"
list_path = "pub/torrents.json"
[engine.transmission]
password_file = "secrets/tpw"
path_map = { "../../releases" = "/downloads/releases", "/abs/releases" = "/downloads/abs" }
[http]
token_file = "secrets/token"
`,
    )
    const base = join(dir, 'etc', 'aacseed')
    for (const cwd of [join(dir, 'elsewhere'), '/']) {
      const c = loadConfig({ path: file, env: {}, cwd })
      assert.deepEqual(c.catalog.roots, [join(dir, 'releases'), '/abs/releases', join(base, 'here')])
      assert.equal(c.catalog.database, join(base, 'db', 'catalog.db'))
      assert.equal(c.torrents.out_dir, join(base, 'out'))
      assert.equal(c.torrents.list_path, join(base, 'pub', 'torrents.json'))
      assert.equal(c.engine.transmission.password_file, join(base, 'secrets', 'tpw'))
      assert.equal(c.http.token_file, join(base, 'secrets', 'token'))
      // path_map keys are release roots as aacseed sees them: they resolve like catalog.roots and
      // still match them; the values are the daemon's own paths and stay as written.
      assert.deepEqual(c.engine.transmission.path_map, {
        [join(dir, 'releases')]: '/downloads/releases',
        '/abs/releases': '/downloads/abs',
      })
      assert.equal(c.catalog.roots[0]! in c.engine.transmission.path_map, true)
    }
    // A relative --config path is itself relative to the working directory.
    const c = loadConfig({ path: join('etc', 'aacseed', 'aacseed.toml'), env: {}, cwd: dir })
    assert.equal(c.catalog.database, join(base, 'db', 'catalog.db'))
  })

  test('empty optional paths stay empty', (t) => {
    const dir = tempDir(t)
    const file = write(join(dir, 'e.toml'), '[torrents]\nlist_path = ""\n')
    const c = loadConfig({ path: file, env: {}, cwd: dir })
    assert.equal(c.torrents.list_path, '')
    assert.equal(c.http.token_file, '')
    assert.equal(c.engine.transmission.password_file, '')
  })
})

describe('release roots', () => {
  test('checkRoots: a missing root is named by its index', (t) => {
    const dir = tempDir(t)
    mkdirSync(join(dir, 'r0'))
    const file = write(join(dir, 'roots.toml'), '[catalog]\nroots = ["r0", "missing"]\n')
    // Not checked unless asked for.
    assert.deepEqual(loadConfig({ path: file, env: {}, cwd: '/' }).catalog.roots, [
      join(dir, 'r0'),
      join(dir, 'missing'),
    ])
    const e = configError(() => loadConfig({ path: file, env: {}, cwd: '/', checkRoots: true }))
    assert.equal(e.message, `config: catalog.roots[1]: path does not exist: ${join(dir, 'missing')}`)
    assert.match(e.message, /^config: catalog\.roots\[1\]: path does not exist/)
    assert.equal(e.location.field, 'catalog.roots')
  })

  test('checkRoots lists every missing root and passes when all exist', (t) => {
    const dir = tempDir(t)
    mkdirSync(join(dir, 'ok'))
    checkRoots([join(dir, 'ok'), dir])
    checkRoots([])
    const e = configError(() => checkRoots([join(dir, 'a'), join(dir, 'ok'), join(dir, 'b')]))
    assert.deepEqual(e.message.split('\n'), [
      `config: catalog.roots[0]: path does not exist: ${join(dir, 'a')}`,
      `config: catalog.roots[2]: path does not exist: ${join(dir, 'b')}`,
    ])
    const l = configError(() => checkRoots(['/nonexistent/x'], 'validate.paths'))
    assert.equal(l.message, 'config: validate.paths[0]: path does not exist: /nonexistent/x')
  })
})

describe('environment overrides', () => {
  test('AACSEED_SECTION__KEY sets a setting; JSON values keep their type', (t) => {
    const dir = tempDir(t)
    const c = loadConfig({
      cwd: dir,
      env: {
        XDG_DATA_HOME: join(dir, 'data'),
        AACSEED_CATALOG__DATABASE: '/var/lib/aacseed/x.db',
        AACSEED_HTTP__PORT: '9000',
        AACSEED_HTTP__ENABLED: 'false',
        AACSEED_CATALOG__ROOTS: '["/srv/a", "b"]',
        AACSEED_ENGINE__WEBTORRENT__PORT: '7000',
        AACSEED_ENGINE__TRANSMISSION__PATH_MAP: '{"/srv/a": "/downloads/a"}',
        AACSEED_LOG__LEVEL: 'debug',
      },
    })
    assert.equal(c.catalog.database, '/var/lib/aacseed/x.db')
    assert.equal(c.http.port, 9000)
    assert.equal(typeof c.http.port, 'number')
    assert.equal(c.http.enabled, false)
    // Without a config file, relative paths resolve against the data folder, as the defaults do.
    assert.deepEqual(c.catalog.roots, ['/srv/a', join(dir, 'data', 'aacseed', 'b')])
    assert.equal(c.engine.webtorrent.port, 7000)
    assert.deepEqual(c.engine.transmission.path_map, { '/srv/a': '/downloads/a' })
    assert.equal(c.log.level, 'debug')
  })

  test('overrides win over the file and keep its other keys', (t) => {
    const dir = tempDir(t)
    const file = write(
      join(dir, 'c.toml'),
      '[http]\nport = 1234\nhost = "0.0.0.0"\n[catalog]\ndatabase = "from-file.db"\n',
    )
    const c = loadConfig({ path: file, cwd: '/', env: { AACSEED_HTTP__PORT: '4321' } })
    assert.equal(c.http.port, 4321)
    assert.equal(c.http.host, '0.0.0.0')
    assert.equal(c.catalog.database, join(dir, 'from-file.db'))
  })

  test('a string setting keeps a value that happens to look like JSON', (t) => {
    const dir = tempDir(t)
    const c = loadConfig({
      cwd: dir,
      env: {
        AACSEED_TORRENTS__COMMENT: '123',
        AACSEED_TORRENTS__SOURCE: 'true',
        AACSEED_ENGINE__TRANSMISSION__USERNAME: '1000',
        AACSEED_TORRENTS__URL_BASE: 'null',
      },
    })
    assert.equal(c.torrents.comment, '123')
    assert.equal(c.torrents.source, 'true')
    assert.equal(c.engine.transmission.username, '1000')
    assert.equal(c.torrents.url_base, 'null')
    // A quoted JSON string is still a JSON string.
    assert.equal(
      loadConfig({ cwd: dir, env: { AACSEED_TORRENTS__COMMENT: '"quoted"' } }).torrents.comment,
      'quoted',
    )
  })

  test("a bad override value is reported with the setting's path, with the other errors", (t) => {
    const dir = tempDir(t)
    const e = configError(() =>
      loadConfig({ cwd: dir, env: { AACSEED_HTTP__PORT: 'abc', AACSEED_TORRENTS__PIECE_LENGTH: '1000' } }),
    )
    const lines = e.message.split('\n').sort()
    assert.equal(lines.length, 2, e.message)
    assert.match(lines[0]!, /^config: http\.port: Expected number, received string$/)
    assert.match(lines[1]!, /^config: torrents\.piece_length: must be 0 \(auto\)/)
    configError(() => loadConfig({ cwd: dir, env: { AACSEED_HTTP__PORT: '70000' } }))
  })

  test('an override of an unknown setting is an error that names it', (t) => {
    const dir = tempDir(t)
    assert.equal(
      configError(() => loadConfig({ cwd: dir, env: { AACSEED_CATALOG__DATABSE: 'x' } })).message,
      'config: catalog: unknown setting(s) "databse"',
    )
    assert.equal(
      configError(() => loadConfig({ cwd: dir, env: { AACSEED_NOPE__X: '1' } })).message,
      'config: (top level): unknown setting(s) "nope"',
    )
  })

  test('variables that are not overrides are ignored', (t) => {
    const dir = tempDir(t)
    const c = loadConfig({
      cwd: dir,
      env: {
        AACSEED_CONFIG: '',
        AACSEED_TRANSMISSION_PASSWORD: 'secret',
        AACSEED_HTTP_TOKEN: 'token',
        AACSEED_KEEP_TEST_DIRS: '1',
        AACSEED_HTTP_PORT: '1', // one underscore: not SECTION__KEY
        HTTP__PORT: '2',
        aacseed_http__port: '3',
        AACSEED___PORT: '4',
        AACSEED_HTTP__: '5',
        PATH: '/usr/bin',
        XDG_DATA_HOME: dir,
      },
    })
    assertDefaults(c, join(dir, 'aacseed'))
    // Secrets never end up in the config object.
    assert.ok(!JSON.stringify(c).includes('secret'))
    assert.ok(!JSON.stringify(c).includes('token"'))
  })
})

describe('choosing the file', () => {
  test('AACSEED_CONFIG picks the file; an explicit path wins over it', (t) => {
    const dir = tempDir(t)
    const a = write(join(dir, 'a.toml'), '[http]\nport = 1111\n')
    const b = write(join(dir, 'b.toml'), '[http]\nport = 2222\n')
    assert.equal(loadConfig({ cwd: '/', env: { AACSEED_CONFIG: a } }).http.port, 1111)
    assert.equal(loadConfig({ cwd: dir, env: { AACSEED_CONFIG: 'a.toml' } }).http.port, 1111)
    assert.equal(loadConfig({ path: b, cwd: '/', env: { AACSEED_CONFIG: a } }).http.port, 2222)
    assert.equal(loadConfig({ cwd: dir, env: {} }).http.port, 8737)
  })

  test('a missing file is an error naming it', (t) => {
    const dir = tempDir(t)
    const missing = join(dir, 'nope.toml')
    const e = configError(() => loadConfig({ path: missing, env: {}, cwd: dir }))
    assert.equal(e.message, `config: cannot read ${missing}: ENOENT`)
    assert.equal(e.location.path, missing)
    const viaEnv = configError(() => loadConfig({ env: { AACSEED_CONFIG: 'nope.toml' }, cwd: dir }))
    assert.equal(viaEnv.message, `config: cannot read ${missing}: ENOENT`)
  })

  test('invalid TOML names the file and the line', (t) => {
    const dir = tempDir(t)
    const file = write(
      join(dir, 'broken.toml'),
      '[catalog]\ndatabase = "x.db"\n\nroots = [ "a", \nchunk_bytes = = 3\n',
    )
    const e = configError(() => loadConfig({ path: 'broken.toml', env: {}, cwd: dir }))
    assert.match(
      e.message,
      new RegExp(`^config: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5: invalid TOML: `),
    )
    assert.ok(!e.message.includes('\n'), 'one line, without the code excerpt')
    assert.equal(e.location.path, file)
    assert.equal(e.location.line, 5)

    const first = write(join(dir, 'first.toml'), 'this is not toml\n')
    const f = configError(() => loadConfig({ path: first, env: {}, cwd: dir }))
    assert.match(f.message, /first\.toml:1: invalid TOML/)
    assert.equal(f.location.line, 1)

    const dup = write(join(dir, 'dup.toml'), '[http]\nport = 1\n\n[http]\nport = 2\n')
    const d = configError(() => loadConfig({ path: dup, env: {}, cwd: dir }))
    assert.match(d.message, /dup\.toml:4: invalid TOML/)
  })

  test('schema errors carry the file they came from', (t) => {
    const dir = tempDir(t)
    const file = write(join(dir, 'bad.toml'), '[http]\nport = "x"\n')
    assert.equal(configError(() => loadConfig({ path: 'bad.toml', env: {}, cwd: dir })).location.path, file)
    assert.deepEqual(
      configError(() => loadConfig({ env: { AACSEED_HTTP__PORT: '"x"' }, cwd: dir })).location,
      {},
    )
  })
})

describe('readSecret', () => {
  test('from the environment, else from the file (trimmed), else undefined', (t) => {
    const dir = tempDir(t)
    const file = write(join(dir, 'secret'), '  s3cret\n')
    assert.equal(readSecret('AACSEED_HTTP_TOKEN', '', { AACSEED_HTTP_TOKEN: 'from-env' }), 'from-env')
    assert.equal(readSecret('AACSEED_HTTP_TOKEN', file, { AACSEED_HTTP_TOKEN: 'from-env' }), 'from-env')
    assert.equal(readSecret('AACSEED_HTTP_TOKEN', file, {}), 's3cret')
    assert.equal(readSecret('AACSEED_HTTP_TOKEN', file, { AACSEED_HTTP_TOKEN: '' }), 's3cret')
    assert.equal(readSecret('AACSEED_HTTP_TOKEN', '', {}), undefined)
  })

  test('an unreadable secret file is a config error naming the file, not its content', (t) => {
    const dir = tempDir(t)
    const missing = join(dir, 'missing')
    const e = configError(() => readSecret('AACSEED_TRANSMISSION_PASSWORD', missing, {}))
    assert.equal(e.message, `config: cannot read secret file ${missing}: ENOENT`)
    assert.equal(e.location.path, missing)
  })

  test('works with the paths loadConfig resolved', (t) => {
    const dir = tempDir(t)
    write(join(dir, 'tpw'), 'pw\n')
    const file = write(join(dir, 'c.toml'), '[engine.transmission]\npassword_file = "tpw"\n')
    const c = loadConfig({ path: file, env: {}, cwd: '/' })
    assert.equal(readSecret('AACSEED_TRANSMISSION_PASSWORD', c.engine.transmission.password_file, {}), 'pw')
  })
})

test('the schema alone: strict at the top level and in every section', () => {
  assert.equal(configSchema.safeParse({}).success, true)
  assert.equal(configSchema.safeParse({ x: 1 }).success, false)
  for (const section of ['catalog', 'torrents', 'engine', 'jobs', 'http', 'log']) {
    assert.equal(configSchema.safeParse({ [section]: { not_a_key: 1 } }).success, false, section)
  }
  assert.equal(configSchema.safeParse({ engine: { webtorrent: { not_a_key: 1 } } }).success, false)
  assert.equal(configSchema.safeParse({ engine: { transmission: { not_a_key: 1 } } }).success, false)
})
