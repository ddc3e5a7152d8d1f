/**
 * `aacseed torrents make` / `torrents list` end to end: from a cataloged release tree to
 * .torrent files that mktorrent agrees with, and the published list.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  appendFileSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { writeSampleRelease } from '../../src/catalog/index.js'
import { openDatabase } from '../../src/db/index.js'
import { parseTorrent, TorrentStore } from '../../src/torrents/index.js'
import { requireTool, runCli, runCliProcess, tempDir } from '../helpers.js'

interface Tree {
  dir: string
  root: string
  db: string
  out: string
  config: string
  env: NodeJS.ProcessEnv
}

function tree(t: TestContext, extraToml = ''): Tree {
  const dir = tempDir(t)
  const root = join(dir, 'releases')
  writeSampleRelease({ root, seed: 3 })
  const config = join(dir, 'aacseed.toml')
  writeFileSync(
    config,
    `[catalog]\nroots = ["releases"]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "torrents"\nlist_path = "public/torrents.json"\nurl_base = "https://example.org/torrents/"\nannounce = [["http://127.0.0.1:6969/announce"], ["udp://127.0.0.1:6969/announce"]]\n${extraToml}`,
  )
  return {
    dir,
    root,
    db: join(dir, 'aacseed.db'),
    out: join(dir, 'torrents'),
    config,
    env: { ...process.env, AACSEED_CONFIG: config },
  }
}

async function scanAndMake(tr: Tree, extra: string[] = []) {
  const s = await runCli(['scan'], { env: tr.env })
  assert.equal(s.code, 0, s.stderr + s.stdout)
  const m = await runCli(['torrents', 'make', '--json', ...extra], { env: tr.env })
  return {
    code: m.code,
    report: JSON.parse(m.stdout) as {
      made: Array<{ name: string; infohash: string; outcome: string }>
      unchanged: number
      problems: Array<{ path: string; code: string }>
      list_path: string
    },
    stderr: m.stderr,
  }
}

test('makes one torrent per metadata file and data folder, named by the standard, equal to mktorrent', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const tr = tree(t, 'piece_length = 32768\n')
  const { code, report } = await scanAndMake(tr, ['--piece-length', '32768'])
  assert.equal(code, 0)
  const releases = readdirSync(tr.root).sort()
  assert.deepEqual(
    readdirSync(tr.out).sort(),
    releases.map((n) => `${n}.torrent`),
  )
  assert.equal(report.made.length, releases.length)
  for (const name of releases) {
    const ours = parseTorrent(readFileSync(join(tr.out, `${name}.torrent`)))
    const ref = join(tempDir(t), 'ref.torrent')
    const r = spawnSync('mktorrent', ['-l', '15', '-d', '-o', ref, join(tr.root, name)], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(ours.infoHash, parseTorrent(readFileSync(ref)).infoHash, `infohash of ${name}`)
    assert.equal(ours.kind, statSync(join(tr.root, name)).isDirectory() ? 'folder' : 'file')
    // Fixed `created by` and a creation date derived from the range's end, never "now".
    assert.equal(ours.createdBy, 'aacseed')
    const to = /--(\d{8}T\d{6}Z)/.exec(name)![1]!
    const end =
      Date.UTC(
        +to.slice(0, 4),
        +to.slice(4, 6) - 1,
        +to.slice(6, 8),
        +to.slice(9, 11),
        +to.slice(11, 13),
        +to.slice(13, 15),
      ) / 1000
    assert.equal(ours.creationDate, end)
    assert.deepEqual(ours.announce, [['http://127.0.0.1:6969/announce'], ['udp://127.0.0.1:6969/announce']])
  }
})

test('a second run makes nothing, and a remade torrent is byte-identical', async (t) => {
  const tr = tree(t)
  await scanAndMake(tr)
  const name = readdirSync(tr.out)[0]!
  const before = readFileSync(join(tr.out, name))
  const again = await scanAndMake(tr)
  assert.equal(again.report.made.length, 0)
  assert.equal(again.report.unchanged, readdirSync(tr.root).length)
  rmSync(join(tr.out, name))
  const remade = await scanAndMake(tr)
  assert.deepEqual(
    remade.report.made.map((m) => `${m.name}.torrent`),
    [name],
  )
  assert.ok(readFileSync(join(tr.out, name)).equals(before), 'remade .torrent is byte-identical')
})

test('an existing .torrent with another infohash is never overwritten: torrent-conflict, exit 1', async (t) => {
  const tr = tree(t)
  const first = await scanAndMake(tr)
  const meta = first.report.made.find((m) => m.name.includes('_meta__'))!
  const path = join(tr.out, `${meta.name}.torrent`)
  // Someone else's torrent of the same name (here: of other bytes) is in the way.
  const other = tree(t)
  await scanAndMake(other)
  const foreign = readdirSync(other.out).find((n) => n.includes('_meta__') && n !== `${meta.name}.torrent`)!
  const foreignBytes = readFileSync(join(other.out, foreign))
  writeFileSync(path, foreignBytes)
  rmSync(tr.db)
  const again = await scanAndMake(tr)
  assert.equal(again.code, 1)
  const p = again.report.problems.find((x) => x.code === 'torrent-conflict')
  assert.ok(p, JSON.stringify(again.report.problems))
  assert.equal(p.path, meta.name)
  assert.ok(readFileSync(path).equals(foreignBytes), 'the existing .torrent was left alone')
})

test('data changed since the scan is not torrented until rescanned (changed-since-scan)', async (t) => {
  const tr = tree(t)
  assert.equal((await runCli(['scan'], { env: tr.env })).code, 0)
  const folder = readdirSync(tr.root).find((n) => n.includes('_data__'))!
  const blob = readdirSync(join(tr.root, folder))[0]!
  appendFileSync(join(tr.root, folder, blob), 'x')
  const m = await runCli(['torrents', 'make', '--json'], { env: tr.env })
  assert.equal(m.code, 1)
  const report = JSON.parse(m.stdout) as {
    made: Array<{ name: string }>
    problems: Array<{ path: string; code: string }>
  }
  assert.deepEqual(
    report.problems.map((p) => [p.path, p.code]),
    [[folder, 'changed-since-scan']],
  )
  assert.ok(!report.made.some((x) => x.name === folder))
  assert.ok(!readdirSync(tr.out).includes(`${folder}.torrent`))
  // A touched metadata file (same bytes, new mtime) is held back the same way.
  const meta = readdirSync(tr.root).find((n) => n.includes('_meta__'))!
  rmSync(join(tr.out, `${meta}.torrent`))
  utimesSync(join(tr.root, meta), new Date(), new Date(Date.now() + 5000))
  const m2 = await runCli(['torrents', 'make', '--json'], { env: tr.env })
  assert.ok(
    (JSON.parse(m2.stdout) as { problems: Array<{ path: string; code: string }> }).problems.some(
      (p) => p.path === meta && p.code === 'changed-since-scan',
    ),
  )
})

test('releases with catalog problems are not torrented', async (t) => {
  const tr = tree(t)
  const folder = readdirSync(tr.root).find((n) => n.includes('_data__'))!
  writeFileSync(join(tr.root, folder, 'not-an-aacid'), 'junk')
  assert.equal((await runCli(['scan'], { env: tr.env })).code, 1)
  const m = await runCli(['torrents', 'make', '--json'], { env: tr.env })
  const report = JSON.parse(m.stdout) as { made: Array<{ name: string }>; with_problems: number }
  assert.equal(report.with_problems, 1)
  assert.ok(!report.made.some((x) => x.name === folder))
})

test('the torrent list: JSON compatible with Anna’s Archive’s, magnets and CSV', async (t) => {
  const tr = tree(t)
  const { report } = await scanAndMake(tr)
  const published = JSON.parse(readFileSync(report.list_path, 'utf8')) as Array<Record<string, unknown>>
  const listed = await runCli(['torrents', 'list'], { env: tr.env })
  assert.equal(listed.code, 0)
  assert.deepEqual(JSON.parse(listed.stdout), published)
  assert.equal(published.length, readdirSync(tr.root).length)
  const fields = [
    'url',
    'top_level_group_name',
    'group_name',
    'display_name',
    'added_to_torrents_list_at',
    'is_metadata',
    'btih',
    'magnet_link',
    'torrent_size',
    'num_files',
    'data_size',
    'aa_currently_seeding',
    'obsolete',
    'embargo',
    'seeders',
    'leechers',
    'completed',
    'stats_scraped_at',
    'partially_broken',
    'random',
  ]
  for (const e of published) {
    for (const f of fields) assert.ok(f in e, `field ${f}`)
    const name = String(e.display_name)
    const bytes = readFileSync(join(tr.out, name))
    const parsed = parseTorrent(bytes)
    assert.equal(e.btih, parsed.infoHash)
    assert.equal(e.torrent_size, bytes.length)
    assert.equal(e.num_files, parsed.files.length)
    assert.equal(e.data_size, parsed.totalSize)
    assert.equal(e.is_metadata, name.includes('_meta__'))
    assert.equal(e.group_name, /__aacid__([A-Za-z0-9_]+?)__\d{8}T/.exec(name)![1])
    assert.equal(e.url, `https://example.org/torrents/${encodeURIComponent(name)}`)
    assert.match(String(e.added_to_torrents_list_at), /^\d{4}-\d{2}-\d{2}$/)
    const magnet = new URL(String(e.magnet_link))
    assert.equal(magnet.searchParams.get('xt'), `urn:btih:${parsed.infoHash}`)
    assert.equal(magnet.searchParams.get('dn'), parsed.name)
    assert.deepEqual(magnet.searchParams.getAll('tr'), [
      'http://127.0.0.1:6969/announce',
      'udp://127.0.0.1:6969/announce',
    ])
    assert.equal(e.seeders, 0)
    assert.equal(e.stats_scraped_at, null)
  }
  const magnets = await runCli(['torrents', 'list', '--format', 'magnets'], { env: tr.env })
  assert.deepEqual(
    magnets.stdout.trim().split('\n'),
    published.map((e) => e.magnet_link),
  )
  const csv = await runCli(['torrents', 'list', '--format', 'csv'], { env: tr.env })
  const rows = csv.stdout.trim().split('\n')
  assert.equal(rows.length, published.length + 1)
  assert.match(rows[0]!, /^display_name,group_name,is_metadata,btih,/)
  const bad = await runCli(['torrents', 'list', '--format', 'xml'], { env: tr.env })
  assert.equal(bad.code, 2)
})

test('--piece-length must be a power of two in range (exit 2)', async (t) => {
  const tr = tree(t)
  const r = await runCli(['torrents', 'make', '--piece-length', '100000'], { env: tr.env })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /power of two/)
})

test('a trial (--out elsewhere, another piece length) leaves the published list and the catalog alone', async (t) => {
  const tr = tree(t)
  const { report } = await scanAndMake(tr)
  const listPath = report.list_path
  const published = readFileSync(listPath)
  const db = openDatabase(tr.db)
  t.after(() => db.close())
  const rows = () => JSON.stringify(new TorrentStore(db).all())
  const problems = () => JSON.stringify(db.prepare("SELECT * FROM problems WHERE scope = 'torrent'").all())
  const [rowsBefore, problemsBefore] = [rows(), problems()]
  const outBefore = readdirSync(tr.out).map((n) => readFileSync(join(tr.out, n)))

  const trialDir = join(tr.dir, 'trial')
  const m = await runCli(['torrents', 'make', '--json', '--out', trialDir, '--piece-length', '65536'], {
    env: tr.env,
  })
  assert.equal(m.code, 0, m.stderr)
  const trial = JSON.parse(m.stdout) as {
    made: Array<{ infohash: string }>
    list_path: string
    trial: boolean
  }
  assert.equal(trial.trial, true)
  assert.equal(trial.list_path, join(trialDir, 'torrents.json'))
  // Every release again, at 64 KiB, with its own list in the trial folder...
  assert.equal(trial.made.length, readdirSync(tr.root).length)
  const trialList = JSON.parse(readFileSync(trial.list_path, 'utf8')) as Array<{
    btih: string
    piece_length: number
  }>
  assert.deepEqual(trialList.map((e) => e.btih).sort(), trial.made.map((x) => x.infohash).sort())
  assert.ok(trialList.every((e) => e.piece_length === 65536))
  assert.equal(readdirSync(trialDir).filter((n) => n.endsWith('.torrent')).length, trial.made.length)
  // ...while the published list, the catalog's torrents and problems, and out_dir are as they were.
  assert.ok(readFileSync(listPath).equals(published), 'published list untouched')
  assert.equal(rows(), rowsBefore)
  assert.equal(problems(), problemsBefore)
  assert.deepEqual(
    readdirSync(tr.out).map((n) => readFileSync(join(tr.out, n))),
    outBefore,
  )
  const publishedHashes = (JSON.parse(published.toString()) as Array<{ btih: string }>).map((e) => e.btih)
  assert.ok(!trial.made.some((x) => publishedHashes.includes(x.infohash)), 'the trial made other torrents')

  // --out elsewhere alone is a trial too (same piece length: same infohashes, own list).
  const same = await runCli(['torrents', 'make', '--json', '--out', join(tr.dir, 'copy')], { env: tr.env })
  assert.equal(same.code, 0, same.stderr)
  const copy = JSON.parse(same.stdout) as { made: Array<{ infohash: string }>; trial: boolean }
  assert.equal(copy.trial, true)
  assert.deepEqual(copy.made.map((x) => x.infohash).sort(), [...publishedHashes].sort())
  assert.equal(rows(), rowsBefore)

  // A trial piece length into out_dir would block the real torrents later: refused.
  const refused = await runCli(['torrents', 'make', '--piece-length', '65536'], { env: tr.env })
  assert.equal(refused.code, 2)
  assert.match(refused.stderr, /a trial needs --out DIR/)
  // A normal run afterwards still finds everything made and unchanged.
  const after = await scanAndMake(tr)
  assert.equal(after.report.made.length, 0)
  assert.ok(readFileSync(listPath).equals(published))
})

test('as a process, with its head start right or wrong: the torrents equal mktorrent’s', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const dir = tempDir(t)
  const root = join(dir, 'releases')
  // Two data folders of ~36 MB each: more than one span (32 MiB) of pieces, so that the head
  // start hashes the first one (data folders come first in the catalog's order) on a worker.
  writeSampleRelease({
    root,
    seed: 5,
    collections: [
      { name: 'zlib3_files', kind: 'files', ranges: 1, recordsPerRange: 80, blobBytes: [800_000, 1_000_000] },
    ],
  })
  const config = join(dir, 'aacseed.toml')
  writeFileSync(
    config,
    '[catalog]\nroots = ["releases"]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "torrents"\npiece_length = 32768\n',
  )
  const env = { ...process.env, AACSEED_CONFIG: config }
  const folders = readdirSync(root)
    .filter((n) => n.includes('_data__'))
    .sort()
  assert.equal(folders.length, 2)
  const mktorrent = (name: string): string => {
    const ref = join(tempDir(t), 'ref.torrent')
    const r = spawnSync('mktorrent', ['-l', '15', '-d', '-o', ref, join(root, name)], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    return parseTorrent(readFileSync(ref)).infoHash
  }
  const made = (name: string): string =>
    parseTorrent(readFileSync(join(dir, 'torrents', `${name}.torrent`))).infoHash
  assert.equal(runCliProcess(['scan'], { env, cwd: dir }).code, 0)

  // Right: the first folder is the first job.
  const first = runCliProcess(['torrents', 'make'], { env, cwd: dir })
  assert.equal(first.code, 0, first.stderr)
  for (const name of folders) assert.equal(made(name), mktorrent(name), name)

  // Wrong: the first folder changed since the scan, so the command hashes the second one first.
  for (const name of folders) rmSync(join(dir, 'torrents', `${name}.torrent`))
  const blob = readdirSync(join(root, folders[0]!))[0]!
  appendFileSync(join(root, folders[0]!, blob), 'x')
  const second = runCliProcess(['torrents', 'make', '--json'], { env, cwd: dir })
  assert.equal(second.code, 1, second.stderr)
  const report = JSON.parse(second.stdout) as { problems: Array<{ path: string; code: string }> }
  assert.deepEqual(
    report.problems.map((p) => [p.path, p.code]),
    [[folders[0], 'changed-since-scan']],
  )
  assert.equal(made(folders[1]!), mktorrent(folders[1]!))
})
