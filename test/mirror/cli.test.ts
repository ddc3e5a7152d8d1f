/**
 * The mirror commands as an operator types them: `mirror sources`, `mirror sync --dry-run`,
 * `plan` in every format and with `--apply`, `mirror status`, and their usage errors.
 * The upstream is a list file with .torrent files beside it (no network needed).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { openDatabase } from '../../src/db/index.js'
import { magnetInfoHash } from '../../src/mirror/index.js'
import { magnetLink } from '../../src/torrents/index.js'
import { startTracker } from '../engines/fixtures.js'
import { runCli, tempDir } from '../helpers.js'
import { FakeTransmission } from '../support/fake-transmission.js'
import { buildUpstream, SMALL } from './fixtures.js'

function mirrorConfig(dir: string, listPath: string, extra = ''): NodeJS.ProcessEnv {
  mkdirSync(join(dir, 'releases'), { recursive: true })
  writeFileSync(
    join(dir, 'aacseed.toml'),
    `[catalog]
roots = ["releases"]
database = "aacseed.db"
[mirror]
reserve_bytes = 0
${extra}
[[mirror.sources]]
name = "up"
list = "${listPath}"
`,
  )
  return { ...process.env, AACSEED_CONFIG: join(dir, 'aacseed.toml') }
}

test('mirror sources, a dry-run sync, plan in every format, --apply and mirror status', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'))
  const list = up.list()
  const names = list.map((e) => e.display_name.replace(/\.torrent$/, '')).sort()
  const m = join(dir, 'mirror')
  const env = mirrorConfig(m, up.listPath)

  const human = await runCli(['mirror', 'sources'], { env, cwd: m })
  assert.equal(human.code, 0, human.stderr)
  assert.match(
    human.stdout,
    new RegExp(`${list.length} AAC releases, 0 other torrents in 0 groups, 0 rejected`),
  )
  assert.match(human.stdout, /zlib3_files: 1 metadata, \d+ data, .+; 0 held here/)

  // A dry run says what it would do and changes nothing.
  const dry = await runCli(['mirror', 'sync', '--dry-run', '--json'], { env, cwd: m })
  assert.equal(dry.code, 0, dry.stderr)
  const dryReport = JSON.parse(dry.stdout) as { dryRun: boolean; queued: string[]; started: string[] }
  assert.equal(dryReport.dryRun, true)
  assert.deepEqual([...dryReport.queued].sort(), names)
  assert.deepEqual([...dryReport.started].sort(), names)
  assert.ok(!existsSync(join(m, 'releases', '.aacseed-mirror')))
  const status0 = await runCli(['mirror', 'status', '--json'], { env, cwd: m })
  assert.deepEqual(JSON.parse(status0.stdout), { downloads: [] })
  // With a budget below the smallest release, the dry run shows everything waiting for room.
  const smallest = Math.min(...list.map((e) => e.data_size))
  const tight = await runCli(['mirror', 'sync', '--dry-run', '--json'], {
    env: { ...env, AACSEED_MIRROR__BUDGET_BYTES: String(smallest - 1) },
    cwd: m,
  })
  const tightReport = JSON.parse(tight.stdout) as {
    started: string[]
    deferred: Array<{ name: string; reason: string }>
  }
  assert.deepEqual(tightReport.started, [])
  assert.deepEqual(
    tightReport.deferred.map((d) => d.reason),
    names.map(() => 'budget'),
  )

  // The plan: everything fits in 1 GB; json, magnets and torrents agree.
  const planJson = await runCli(['plan', '--budget', '1GB', '--format', 'json'], { env, cwd: m })
  assert.equal(planJson.code, 0, planJson.stderr)
  const plan = JSON.parse(planJson.stdout) as {
    bytes: number
    chosen: Array<{ btih: string; name: string; bytes: number; url: string; kind: string }>
  }
  assert.deepEqual(plan.chosen.map((c) => c.name).sort(), names)
  assert.equal(
    plan.bytes,
    list.reduce((s, e) => s + e.data_size, 0),
  )
  const magnets = (await runCli(['plan', '--budget', '1GB', '--format', 'magnets'], { env, cwd: m })).stdout
    .trim()
    .split('\n')
  assert.deepEqual(
    magnets.map((l) => magnetInfoHash(l)),
    plan.chosen.map((c) => c.btih),
  )
  const urls = (await runCli(['plan', '--budget', '1GB', '--format', 'torrents'], { env, cwd: m })).stdout
    .trim()
    .split('\n')
  assert.deepEqual(
    urls,
    plan.chosen.map((c) => join(up.site, `${c.name}.torrent`)),
  )
  // A budget for the smallest torrent only: metadata comes first at equal seeders, and the rest is over
  // budget.
  const one = JSON.parse(
    (await runCli(['plan', '--budget', String(smallest), '--format', 'json'], { env, cwd: m })).stdout,
  ) as typeof plan & { skipped: Record<string, number> }
  assert.equal(one.chosen.length, 1)
  assert.equal(one.chosen[0]!.bytes, smallest)
  assert.equal(one.skipped['over-budget'], list.length - 1)

  const table = await runCli(['plan', '--budget', '1GB', '--apply', 'local'], { env, cwd: m })
  assert.equal(table.code, 0, table.stderr)
  assert.match(table.stdout, new RegExp(`${list.length} torrent\\(s\\), .+ of the 1\\.0 GB budget`))
  assert.match(table.stdout, new RegExp(`queued ${list.length} for download \\(0 already queued\\)`))
  const status = JSON.parse((await runCli(['mirror', 'status', '--json'], { env, cwd: m })).stdout) as {
    downloads: Array<{ name: string; state: string; wanted_by: string }>
  }
  assert.deepEqual(status.downloads.map((d) => d.name).sort(), names)
  assert.ok(status.downloads.every((d) => d.state === 'queued' && d.wanted_by === 'plan'))
  // Queued counts as held: a new plan has nothing left to choose.
  const again = JSON.parse(
    (await runCli(['plan', '--budget', '1GB', '--format', 'json'], { env, cwd: m })).stdout,
  ) as { chosen: unknown[]; skipped: { held: number } }
  assert.deepEqual([again.chosen.length, again.skipped.held], [0, list.length])
  const db = openDatabase(join(m, 'aacseed.db'), { readonly: true })
  t.after(() => db.close())
  assert.equal(
    db.prepare("SELECT count(*) FROM upstream_torrents WHERE source = 'up' AND listed = 1").pluck().get(),
    list.length,
  )
})

test('mirror and plan usage errors exit 2 with a message naming what is wrong', async (t) => {
  const dir = tempDir(t)
  const m = join(dir, 'mirror')
  const env = mirrorConfig(m, join(dir, 'nowhere.json'))
  const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
    [['plan'], env, /--budget SIZE/],
    [['plan', '--budget', '10XB'], env, /--budget 10XB: not a size/],
    [['plan', '--budget', '1TB', '--format', 'xml'], env, /--format must be/],
    [['plan', '--budget', '1TB'], env, /no upstream torrents known/],
    [['plan', '--budget', '1TB', '--apply', 'cloud'], env, /--apply must be local or fleet/],
    [['plan', '--budget', '1TB', '--apply', 'fleet'], env, /--apply fleet: no seedbox is configured/],
    [
      ['mirror', 'sync'],
      { ...env, AACSEED_MIRROR__ROOT: JSON.stringify(dir) },
      /mirror\.root: .* is not one of catalog\.roots/,
    ],
    [['mirror', 'sync'], { ...env, AACSEED_MIRROR__SOURCES: '[]' }, /no mirror source/],
    [
      ['mirror', 'sources'],
      { ...env, AACSEED_MIRROR__BUDGET_BYTES: '"lots"' },
      /mirror\.budget_bytes: "lots" is not a size/,
    ],
  ]
  for (const [args, e, message] of cases) {
    const r = await runCli(args, { env: e, cwd: m })
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}\n${r.stdout}${r.stderr}`)
    assert.match(r.stderr, message, args.join(' '))
  }
  // A source that cannot be read is a problem (exit 1), not a crash.
  const r = await runCli(['mirror', 'sources'], { env, cwd: m })
  assert.equal(r.code, 1)
  assert.match(r.stdout, /last fetch failed: .*nowhere\.json: ENOENT/)
})

test('plan --apply fleet gives the plan to the fleet: fleet apply pushes each torrent to N seedboxes, which fetch it from the swarm', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'))
  const list = up.list()
  const boxes: FakeTransmission[] = []
  for (let i = 0; i < 3; i++) {
    const f = new FakeTransmission()
    await f.listen()
    t.after(() => f.close())
    boxes.push(f)
  }
  const m = join(dir, 'mirror')
  const seedboxes = boxes
    .map(
      (b, i) =>
        `[[fleet.seedboxes]]\nname = "box-${i}"\nurl = "${b.url}"\npath = "/downloads"\nreserve_bytes = 0\n`,
    )
    .join('')
  const env = mirrorConfig(
    m,
    up.listPath,
    `[torrents]\nout_dir = "torrents"\n[fleet]\nreplicas = 2\n${seedboxes}`,
  )
  assert.equal((await runCli(['mirror', 'sources'], { env, cwd: m })).code, 0)
  const r = await runCli(['plan', '--budget', '1GB', '--apply', 'fleet', '--format', 'json'], { env, cwd: m })
  assert.equal(r.code, 0, r.stdout + r.stderr)
  const applied = (JSON.parse(r.stdout) as { applied: { to: string; added: string[]; failed: unknown[] } })
    .applied
  assert.equal(applied.to, 'fleet')
  assert.equal(applied.added.length, list.length)
  // Nothing is downloaded here; the .torrent files are kept for the pushes.
  assert.deepEqual(readdirSync(join(m, 'releases')), [])
  assert.equal(readdirSync(join(m, 'torrents', 'upstream')).length, list.length)

  const pushed = await runCli(['fleet', 'apply', '--json'], { env, cwd: m })
  assert.equal(pushed.code, 0, pushed.stdout + pushed.stderr)
  assert.equal((JSON.parse(pushed.stdout) as { added: number }).added, list.length * 2)
  for (const e of list) {
    const holders = boxes.filter((b) => b.torrents.has(e.btih))
    assert.equal(holders.length, 2, `${e.display_name} on ${holders.length} seedboxes`)
  }
  // Taken care of: the next plan leaves them out.
  const next = JSON.parse(
    (await runCli(['plan', '--budget', '1GB', '--format', 'json'], { env, cwd: m })).stdout,
  ) as { chosen: unknown[]; skipped: { held: number } }
  assert.deepEqual([next.chosen.length, next.skipped.held], [0, list.length])
})

test('plan --scrape asks the trackers of the magnet links for fresh seeders, and plans by them', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'), [SMALL[0]!])
  const tracker = await startTracker(t)
  // The list claims nobody seeds either torrent; the tracker knows better for the first.
  const entries = up.list().map((e) => ({
    ...e,
    seeders: 0,
    stats_scraped_at: '2026-01-01T00:00:00',
    magnet_link: magnetLink({
      infoHash: e.btih,
      name: e.display_name.replace(/\.torrent$/, ''),
      trackers: [tracker.announce],
    }),
  }))
  writeFileSync(up.listPath, JSON.stringify(entries))
  const [busy, lonely] = entries
  await announceSeeders(tracker.announce, busy!.btih, 5)
  const m = join(dir, 'mirror')
  const env = mirrorConfig(m, up.listPath)
  assert.equal((await runCli(['mirror', 'sources'], { env, cwd: m })).code, 0)
  const stale = JSON.parse(
    (await runCli(['plan', '--budget', '1GB', '--max-seeders', '3', '--format', 'json'], { env, cwd: m }))
      .stdout,
  ) as { chosen: Array<{ btih: string; seeders: number }> }
  assert.deepEqual(stale.chosen.map((c) => c.btih).sort(), [busy!.btih, lonely!.btih].sort())
  const r = await runCli(['plan', '--budget', '1GB', '--max-seeders', '3', '--format', 'json', '--scrape'], {
    env,
    cwd: m,
  })
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /scraped 2 torrent\(s\) at 1 tracker\(s\): 2 figure\(s\)/)
  const fresh = JSON.parse(r.stdout) as {
    chosen: Array<{ btih: string; seeders: number }>
    skipped: Record<string, number>
  }
  assert.deepEqual(
    fresh.chosen.map((c) => [c.btih, c.seeders]),
    [[lonely!.btih, 0]],
  )
  assert.equal(fresh.skipped['well-seeded'], 1)
  // The figures are kept: the next plan uses them without scraping again.
  const later = JSON.parse(
    (await runCli(['plan', '--budget', '1GB', '--max-seeders', '3', '--format', 'json'], { env, cwd: m }))
      .stdout,
  ) as { chosen: Array<{ btih: string }> }
  assert.deepEqual(
    later.chosen.map((c) => c.btih),
    [lonely!.btih],
  )
})

/** Announces `n` distinct seeders of `btih` to an HTTP tracker, as clients would. */
async function announceSeeders(announce: string, btih: string, n: number): Promise<void> {
  const enc = (hex: string): string =>
    [...Buffer.from(hex, 'hex')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')
  for (let i = 0; i < n; i++) {
    const peer = createHash('sha1').update(`peer ${i}`).digest('hex')
    const r = await fetch(
      `${announce}?info_hash=${enc(btih)}&peer_id=${enc(peer)}&port=${20000 + i}&uploaded=0&downloaded=0&left=0&event=started&compact=1`,
    )
    await r.arrayBuffer()
  }
}
