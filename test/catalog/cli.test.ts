/**
 * The catalog commands as a user runs them: exit codes (0 no problems, 1 problems found with
 * the valid parts cataloged, 2 usage or configuration error), the exact `--json` shape,
 * `validate` leaving no database behind, `demo`, and `get`.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { writeSampleRelease, type SampleSummary } from '../../src/catalog/index.js'
import { openDatabase } from '../../src/db/index.js'
import { runCli, runCliProcess, tempDir, type CliResult } from '../helpers.js'
import { aacid, dataName, metaName, rec, recordsOf, recs, writeDataFolder, writeMeta } from '../fixtures.js'

interface ScanJson {
  meta_files: number
  data_folders: number
  records: number
  data_files: number
  problems: Array<{ path: string; line: number | null; aacid: string | null; code: string; message: string }>
}

/** Parses `--json` output and checks its shape exactly: these keys, these types, nothing else. */
function parseJson(r: CliResult): ScanJson {
  assert.equal(
    r.stdout.trimEnd().split('\n')[0],
    '{',
    `one JSON object on stdout (exit ${r.code}, stderr: ${r.stderr})`,
  )
  const v = JSON.parse(r.stdout) as Record<string, unknown>
  assert.deepEqual(Object.keys(v).sort(), ['data_files', 'data_folders', 'meta_files', 'problems', 'records'])
  for (const k of ['meta_files', 'data_folders', 'records', 'data_files'])
    assert.ok(Number.isSafeInteger(v[k]) && (v[k] as number) >= 0, `${k} is a count`)
  assert.ok(Array.isArray(v.problems))
  for (const p of v.problems as Array<Record<string, unknown>>) {
    assert.deepEqual(Object.keys(p).sort(), ['aacid', 'code', 'line', 'message', 'path'])
    assert.equal(typeof p.path, 'string')
    assert.ok(
      !(p.path as string).startsWith('/') && !(p.path as string).includes('..'),
      `path ${String(p.path)} is relative to its root`,
    )
    assert.ok(
      p.line === null || (Number.isSafeInteger(p.line) && (p.line as number) >= 1),
      'line is null or a 1-based number',
    )
    assert.ok(p.aacid === null || typeof p.aacid === 'string')
    assert.match(p.code as string, /^[a-z0-9]+(-[a-z0-9]+)*$/, 'code is kebab-case')
    assert.equal(typeof p.message, 'string')
    assert.ok((p.message as string).length > 0)
  }
  return v as unknown as ScanJson
}

function totals(j: ScanJson): number[] {
  return [j.meta_files, j.data_folders, j.records, j.data_files]
}

function sampleTotals(s: SampleSummary): number[] {
  return [s.metaFiles.length, s.dataFolders.length, s.records, s.dataFiles]
}

const C = 'cli_files'
const META = metaName(C, 0, 99)
const FOLDER = dataName(C, 0, 99)
const BAD = metaName('cli_records', 0, 99)

/**
 * A sample release plus: a files collection missing one blob, a folder with a README, a file with a bad line.
 */
function treeWithProblems(t: TestContext): { root: string; sample: SampleSummary } {
  const root = tempDir(t, 'aacseed-cli-')
  const sample = writeSampleRelease({ root })
  const ids = [10, 11, 12].map((s) => aacid(C, s))
  writeMeta(
    root,
    META,
    ids.map((a) => rec(a, {}, FOLDER)),
  )
  writeDataFolder(root, FOLDER, [ids[0]!, ids[2]!])
  writeFileSync(join(root, FOLDER, 'README'), 'x')
  const bad = recs('cli_records', 10, 6)
  bad[3] = '{"aacid": 1, "metadata": {}}'
  writeMeta(root, BAD, bad)
  return { root, sample }
}

describe('aacseed scan: exit codes and --json', () => {
  test('a clean tree: exit 0, totals of the whole tree, no problems', async (t) => {
    const root = tempDir(t)
    const sample = writeSampleRelease({ root })
    const r = await runCli(['scan', root, '--db', join(tempDir(t), 'c.db'), '--json'])
    assert.equal(r.code, 0, r.stderr)
    const j = parseJson(r)
    assert.deepEqual(totals(j), sampleTotals(sample))
    assert.deepEqual(j.problems, [])
  })

  test('problems: exit 1, every problem listed, the valid parts cataloged', async (t) => {
    const { root, sample } = treeWithProblems(t)
    const r = await runCli(['scan', root, '--db', join(tempDir(t), 'c.db'), '--json'])
    assert.equal(r.code, 1, r.stderr)
    const j = parseJson(r)
    const s = sampleTotals(sample)
    assert.deepEqual(totals(j), [s[0]! + 2, s[1]! + 1, s[2]! + 3 + 5, s[3]! + 2])
    assert.deepEqual(
      j.problems.map((p) => [p.path, p.line, p.code, p.aacid]),
      [
        [META, 2, 'missing-data-file', aacid(C, 11)],
        [`${FOLDER}/README`, null, 'invalid-data-file-name', null],
        [BAD, 4, 'invalid-field-type', null],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    )
  })

  test('without --json: a summary and one line per problem, path:line: code: message', async (t) => {
    const { root } = treeWithProblems(t)
    const r = await runCli(['scan', root, '--db', join(tempDir(t), 'c.db')])
    assert.equal(r.code, 1)
    assert.match(
      r.stdout,
      /^cataloged \d+ metadata file\(s\) with [\d,]+ records, \d+ data folder\(s\) with [\d,]+ files$/m,
    )
    assert.match(r.stdout, /^3 problem\(s\):$/m)
    assert.ok(r.stdout.includes(`  ${BAD}:4: invalid-field-type: `), r.stdout)
    assert.ok(r.stdout.includes(`  ${FOLDER}/README: invalid-data-file-name: `), r.stdout)
  })

  test('the same through a real process, with the roots and database from a config file', async (t) => {
    const { root } = treeWithProblems(t)
    const dir = tempDir(t)
    const db = join(dir, 'from-config.db')
    const config = join(dir, 'aacseed.toml')
    writeFileSync(config, `[catalog]\nroots = [${JSON.stringify(root)}]\ndatabase = ${JSON.stringify(db)}\n`)
    const r = runCliProcess(['scan', '--json'], { env: { ...process.env, AACSEED_CONFIG: config }, cwd: dir })
    assert.equal(r.code, 1, r.stderr)
    assert.equal(parseJson(r).problems.length, 3)
    assert.ok(existsSync(db))
  })

  test('usage and configuration errors exit 2 and write nothing to stdout', async (t) => {
    const cwd = tempDir(t)
    const root = tempDir(t)
    writeSampleRelease({ root })
    const badToml = join(cwd, 'bad.toml')
    writeFileSync(badToml, '[catalog\nroots = 1\n')
    const badValue = join(cwd, 'bad-value.toml')
    writeFileSync(badValue, '[catalog]\nroots = "not a list"\n')
    const unknownKey = join(cwd, 'unknown.toml')
    writeFileSync(unknownKey, '[catalog]\nrootz = []\n')
    const cases: Array<[string, string[], NodeJS.ProcessEnv | undefined, RegExp]> = [
      [
        'a missing root',
        ['scan', join(root, 'no-such-dir'), '--db', join(cwd, 'x.db')],
        undefined,
        /release root does not exist/,
      ],
      ['no root at all', ['scan', '--db', join(cwd, 'x.db')], undefined, /no release root/],
      ['an unknown option', ['scan', root, '--db', join(cwd, 'x.db'), '--bogus'], undefined, /bogus/],
      ['--db without a value', ['scan', root, '--db'], undefined, /usage: aacseed scan/],
      [
        'invalid TOML',
        ['scan', root, '--db', join(cwd, 'x.db')],
        { ...process.env, AACSEED_CONFIG: badToml },
        /invalid TOML/,
      ],
      [
        'a wrongly typed setting',
        ['scan', root, '--db', join(cwd, 'x.db')],
        { ...process.env, AACSEED_CONFIG: badValue },
        /catalog\.roots/,
      ],
      [
        'an unknown setting',
        ['scan', root, '--db', join(cwd, 'x.db')],
        { ...process.env, AACSEED_CONFIG: unknownKey },
        /rootz/,
      ],
      [
        'a config file that does not exist',
        ['scan', root, '--db', join(cwd, 'x.db'), '--config', join(cwd, 'nope.toml')],
        undefined,
        /cannot read/,
      ],
    ]
    for (const [why, args, env, message] of cases) {
      const r = await runCli(args, { cwd, ...(env ? { env } : {}) })
      assert.equal(r.code, 2, `${why}: ${r.stderr}`)
      assert.equal(r.stdout, '', why)
      assert.match(r.stderr, /^aacseed: /, why)
      assert.match(r.stderr, message, why)
    }
    assert.ok(!existsSync(join(cwd, 'x.db')), 'no database was created by a failed command')
  })
})

describe('aacseed validate', () => {
  /** Runs validate in a real process whose cwd and TMPDIR are empty dirs, and checks they stay empty. */
  function validate(t: TestContext, args: string[]): CliResult {
    const cwd = tempDir(t)
    const tmp = tempDir(t)
    const r = runCliProcess(['validate', ...args], {
      cwd,
      env: { ...process.env, AACSEED_CONFIG: '', TMPDIR: tmp },
    })
    assert.deepEqual(readdirSync(cwd), [], 'nothing written to the cwd')
    assert.deepEqual(readdirSync(tmp), [], 'no database left behind in TMPDIR')
    return r
  }

  test('one metadata file: only it is checked', async (t) => {
    const { root } = treeWithProblems(t)
    const before = readdirSync(root).sort()
    const bad = validate(t, [join(root, BAD), '--json'])
    assert.equal(bad.code, 1, bad.stderr)
    const j = parseJson(bad)
    assert.deepEqual(totals(j), [1, 0, 5, 0])
    assert.deepEqual(
      j.problems.map((p) => [p.path, p.line, p.code]),
      [[BAD, 4, 'invalid-field-type']],
    )
    const sampleMeta = readdirSync(root).find((n) =>
      n.startsWith('annas_archive_meta__aacid__zlib3_records'),
    )!
    const good = validate(t, [join(root, sampleMeta), '--json'])
    assert.equal(good.code, 0, good.stderr)
    assert.deepEqual(totals(parseJson(good)), [1, 0, 400, 0])
    assert.deepEqual(readdirSync(root).sort(), before, 'nothing written next to the validated files')
  })

  test('one data folder: its entries are checked', async (t) => {
    const { root } = treeWithProblems(t)
    const r = validate(t, [join(root, FOLDER), '--json'])
    assert.equal(r.code, 1, r.stderr)
    const j = parseJson(r)
    assert.deepEqual(totals(j), [0, 1, 0, 2])
    assert.deepEqual(
      j.problems.map((p) => [p.path, p.line, p.code]),
      [[`${FOLDER}/README`, null, 'invalid-data-file-name']],
    )
  })

  test('a metadata file and its data folder together: the blobs are checked against the records', async (t) => {
    const { root } = treeWithProblems(t)
    const r = validate(t, [join(root, META), join(root, FOLDER), '--json'])
    assert.equal(r.code, 1, r.stderr)
    assert.deepEqual(
      parseJson(r).problems.map((p) => [p.path, p.line, p.code]),
      [
        [`${FOLDER}/README`, null, 'invalid-data-file-name'],
        [META, 2, 'missing-data-file'],
      ],
    )
  })

  test('a whole root: the same report as scan', async (t) => {
    const { root } = treeWithProblems(t)
    const v = validate(t, [root, '--json'])
    const s = await runCli(['scan', root, '--db', join(tempDir(t), 'c.db'), '--json'])
    assert.equal(v.code, 1)
    assert.deepEqual(parseJson(v), parseJson(s))
  })

  test('a file with a bad name is reported as such; text output', async (t) => {
    const root = tempDir(t)
    const path = join(root, 'records.jsonl.zst')
    writeMeta(root, 'records.jsonl.zst', recs('cli_records', 10, 2))
    const r = validate(t, [path])
    assert.equal(r.code, 1)
    assert.match(r.stdout, /^checked 0 metadata file\(s\)/m)
    assert.ok(r.stdout.includes('  records.jsonl.zst: invalid-meta-file-name: '), r.stdout)
  })

  test('no path, or a path that does not exist, is a usage error', async (t) => {
    const none = validate(t, [])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /usage: aacseed validate PATH/)
    const missing = validate(t, [join(tempDir(t), 'nope.jsonl.zst')])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /does not exist/)
  })
})

describe('aacseed demo and get', () => {
  test('demo --out DIR writes a sample tree, catalogs it, exits 0 and says where everything is', async (t) => {
    const dir = tempDir(t)
    const r = await runCli(['demo', '--out', dir])
    assert.equal(r.code, 0, r.stderr)
    const releases = join(dir, 'releases')
    assert.ok(
      r.stdout.includes(`wrote a sample release tree to ${releases}: 6 metadata files, 4 data folders`),
      r.stdout,
    )
    assert.match(
      r.stdout,
      /^cataloged 6 metadata file\(s\) with 1,548 records, 4 data folder\(s\) with 48 files$/m,
    )
    assert.match(r.stdout, /^no problems$/m)
    assert.ok(r.stdout.includes(`database: ${join(dir, 'aacseed.db')}`))
    assert.equal(readdirSync(releases).length, 10)
    // An AACID the catalog does not hold: exit 1, not-found.
    const miss = await runCli(['get', aacid('zlib3_records', 1), '--db', join(dir, 'aacseed.db')])
    assert.equal(miss.code, 1)
    assert.equal(miss.stdout, '')
    assert.match(miss.stderr, /^aacseed: not-found: /)
  })

  test('demo --json prints the scan object; demo without --out is a usage error', async (t) => {
    const dir = tempDir(t)
    const r = await runCli(['demo', '--out', dir, '--json'])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(totals(parseJson(r)), [6, 4, 1548, 48])
    const u = await runCli(['demo'])
    assert.equal(u.code, 2)
    assert.match(u.stderr, /usage: aacseed demo --out DIR/)
  })

  test('get prints a record of the demo tree exactly; bad arguments exit 2', async (t) => {
    const dir = tempDir(t)
    await runCli(['demo', '--out', dir])
    const db = join(dir, 'aacseed.db')
    const conn = openDatabase(db)
    const name = conn
      .prepare("SELECT name FROM meta_files WHERE collection = 'duxiu_records' ORDER BY name LIMIT 1")
      .pluck()
      .get() as string
    const row = recordsOf(conn, name)[150]!.aacid
    conn.close()
    const g = await runCli(['get', row, '--db', db])
    assert.equal(g.code, 0, g.stderr)
    const line = JSON.parse(g.stdout) as { aacid: string; metadata: unknown }
    assert.equal(line.aacid, row)
    assert.equal(typeof line.metadata, 'string')
    assert.ok(g.stdout.endsWith('}\n') && g.stdout.split('\n').length === 2)
    for (const args of [['get'], ['get', row, row]]) {
      const r = await runCli([...args, '--db', db])
      assert.equal(r.code, 2, args.join(' '))
      assert.match(r.stderr, /usage: aacseed get AACID/)
    }
  })
})
