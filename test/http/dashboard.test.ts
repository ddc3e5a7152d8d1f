/**
 * The dashboard in a real headless Chromium, served by a real `aacseed serve` (spawned CLI:
 * sample release tree with hostile names, embedded WebTorrent, HTTP on a free port): the figures
 * shown equal the API's, hostile names show up as text and run nothing, nothing is fetched from
 * anywhere but aacseed itself, the page refreshes itself, and a screenshot lands in test-output/.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { chromium, type Page } from 'playwright-core'
import { formatBytes, formatRatio } from '../../src/coverage/index.js'
import { freePort, REPO_ROOT, requireTool, spawnCli, tempDir, waitFor } from '../helpers.js'
import { DASHBOARD_REQUESTS } from '../../src/http/dashboard/page.js'
import { openDatabase } from '../../src/db/index.js'
import { MirrorStore, parseTorrentList } from '../../src/mirror/index.js'
import { HOSTILE_KEY, HOSTILE_NAMES, writeTree } from './fixtures.js'

const HOSTILE_MIRROR_ERROR = '<img src=x onerror=alert(9)> HTTP 503'
const HOSTILE_MIRROR_NAME = '<svg onload=alert(5)>mirrored.jsonl.zst'
const HOSTILE_GROUP = '<img src=x onerror=alert(7)>scihub'

const int = (n: number): string => n.toLocaleString('en')

interface CoverageJson {
  generation: number
  copies_target: number
  totals: {
    records: number
    bytes: number
    torrents: number
    at_risk: number
    gaps: number
    levels: Record<string, { ratio: number; ranges: number }>
    swarm: Record<string, { bytes: number; torrents: number }>
  }
  collections: Array<{
    collection: string
    from_s: number | null
    to_s: number | null
    records: number
    bytes: number
    releases: number
    torrents: number
    gaps: { count: number }
    levels: Record<string, { ratio: number }>
    release_list: Array<{ state: string; from_s: number; to_s: number }>
  }>
}

async function figure(
  page: Page,
  scope: string,
  key: string,
): Promise<{ value: string | null; text: string }> {
  const el = page.locator(`${scope} [data-figure="${key}"]`).first()
  const value = await el.getAttribute('data-value')
  const text =
    (await el.locator('.card-value').count()) > 0
      ? await el.locator('.card-value').innerText()
      : await el.innerText()
  return { value, text }
}

test(
  'the dashboard shows the API figures, renders hostile names as text, and refreshes itself',
  { timeout: 180_000 },
  async (t) => {
    if (!requireTool(t, 'chromium')) return
    const dir = tempDir(t)
    const port = await freePort()
    const { config } = writeTree(dir, {
      hostile: true,
      extraToml: [
        '[engine.webtorrent]',
        'host = "127.0.0.1"',
        'port = 0',
        'dht = false',
        'lsd = false',
        '[jobs]',
        // Only the start-up runs; the test starts the rest itself.
        ...[
          'scan',
          'make_torrents',
          'seed',
          'engine_status',
          'fleet_poll',
          'fleet_apply',
          'scrape',
          'mirror_sync',
        ].map((j) => `${j} = "0 0 1 1 *"`),
        '[http]',
        `port = ${port}`,
        // Long enough that a loaded machine has the first load done before the next refresh starts.
        'refresh_seconds = 3',
      ].join('\n'),
    })
    const token = 'dashboard-test-token'
    const child = spawnCli(['serve', '--config', config], {
      env: { ...process.env, AACSEED_CONFIG: '', AACSEED_HTTP_TOKEN: token },
    })
    let logs = ''
    child.stdout!.on('data', (d: Buffer) => (logs += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (logs += d.toString()))
    const exited = once(child, 'exit')
    t.after(async () => {
      if (child.exitCode === null) {
        child.kill('SIGKILL')
        await exited
      }
    })
    const base = `http://127.0.0.1:${port}`
    const api = async <T>(path: string): Promise<T> => {
      const r = await fetch(base + path)
      assert.ok(r.ok, `${path}: ${r.status}`)
      return (await r.json()) as T
    }

    // Start-up: seed, engine_status, then the catch-up scan, make_torrents, seed, engine_status, mirror_sync.
    await waitFor(
      'aacseed serve to answer',
      async () => (await fetch(`${base}/healthz`).catch(() => null))?.ok,
      60_000,
    )
    // A mirror with a failing source and a rejected download, their texts hostile (written
    // before the start-up jobs settle, so the page and the test see the same generation).
    const writer = openDatabase(join(dir, 'aacseed.db'))
    const mirror = new MirrorStore(writer)
    const at = new Date().toISOString()
    // Its last good list: one other (non-AAC) torrent in a group with a hostile name.
    const listed = parseTorrentList(
      JSON.stringify([
        {
          display_name: 'sm_00000000-00099999.torrent',
          btih: 'f'.repeat(40),
          top_level_group_name: 'external',
          group_name: HOSTILE_GROUP,
          data_size: 77_000_000_000,
          seeders: 2,
        },
      ]),
      { source: 'upstream', location: 'https://upstream.example/torrents.json', maxEntries: 10 },
    )
    mirror.recordSourceList('upstream', 'https://upstream.example/torrents.json', [], [], at, listed)
    mirror.recordSourceError(
      'upstream',
      'https://upstream.example/torrents.json?key=SECRET-77',
      HOSTILE_MIRROR_ERROR,
      at,
    )
    mirror.queue(
      {
        btih: 'e'.repeat(40),
        name: HOSTILE_MIRROR_NAME,
        kind: 'meta',
        collection: 'c_records',
        dataSize: 1234,
        source: 'upstream',
        wantedBy: 'sync',
        root: '/srv/r',
      },
      at,
    )
    mirror.reject('e'.repeat(40), 'release-invalid', HOSTILE_MIRROR_ERROR, at)
    writer.close()

    await waitFor(
      'the start-up jobs to catch up',
      async () => {
        const j = await api<{ runs: Array<{ job: string; outcome: string }> }>('/api/jobs?limit=50')
        // mirror_sync is the last of the catch-up (it has no source here, so it does nothing).
        return (
          j.runs.filter((r) => r.job === 'engine_status' && r.outcome === 'ok').length >= 2 &&
          j.runs.some((r) => r.job === 'mirror_sync' && r.outcome === 'ok') &&
          j.runs.every((r) => r.outcome !== 'running')
        )
      },
      60_000,
    )
    await waitFor('coverage to show the torrents seeded', async () => {
      const c = await api<CoverageJson>('/api/coverage')
      return c.totals.torrents === 10 && c.totals.levels.seeded!.ranges === 10
    })

    // Not tempDir: its removal would run before the browser's close (node:test runs after-hooks
    // in the order they were registered), and Chromium writes its profile as it closes, which
    // left one /tmp/aacseed-chromium-* directory behind on every run.
    const userDataDir = mkdtempSync(join(tmpdir(), 'aacseed-chromium-'))
    const browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 900 },
    })
    t.after(async () => {
      await browser.close()
      rmSync(userDataDir, { recursive: true, force: true })
    })
    const elsewhere: string[] = []
    await browser.route('**/*', async (route) => {
      const url = new URL(route.request().url())
      if (url.origin === base) return route.continue()
      elsewhere.push(url.href)
      return route.abort()
    })
    const page = await browser.newPage()
    const dialogs: string[] = []
    const errors: string[] = []
    page.on('dialog', (d) => {
      dialogs.push(d.message())
      void d.dismiss()
    })
    page.on('pageerror', (e) => errors.push(e.message))
    const requested: string[] = []
    page.on('request', (r) => requested.push(r.url().slice(base.length)))
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })

    await page.goto(`${base}/`)
    await page.waitForSelector('html[data-ready="1"]', { timeout: 20_000 })
    // Each API answer was fetched once: the page's preloads are the script's requests.
    const firstLoad = [...requested]
    for (const url of DASHBOARD_REQUESTS)
      assert.equal(firstLoad.filter((u) => u === url).length, 1, `${url} in ${firstLoad.join(' ')}`)

    // Any commit from another connection (a lease's heartbeat, a CLI beside serve) makes a new
    // generation; the page catches up on its next refresh, and then shows exactly the API's.
    let cov = await api<CoverageJson>('/api/coverage?detail=true')
    await waitFor(
      'the page shows the generation the API serves',
      async () => {
        cov = await api<CoverageJson>('/api/coverage?detail=true')
        return (await page.getAttribute('html', 'data-generation')) === String(cov.generation)
      },
      20_000,
      250,
    )
    const problems = await api<{ total: number; items: Array<{ path: string; message: string }> }>(
      '/api/problems?limit=25',
    )
    const risk = await api<{ total: number }>('/api/torrents?at_risk=true')
    const t0 = cov.totals
    const expectTotals: Record<string, [number, string]> = {
      records: [t0.records, int(t0.records)],
      bytes: [t0.bytes, formatBytes(t0.bytes)],
      torrents: [t0.torrents, int(t0.torrents)],
      held_ratio: [t0.levels.held!.ratio, formatRatio(t0.levels.held!.ratio)],
      seeded_ratio: [t0.levels.seeded!.ratio, formatRatio(t0.levels.seeded!.ratio)],
      fleet_n_ratio: [t0.levels.fleet_n!.ratio, formatRatio(t0.levels.fleet_n!.ratio)],
      at_risk: [t0.at_risk, int(t0.at_risk)],
      gaps: [t0.gaps, int(t0.gaps)],
      problems: [problems.total, int(problems.total)],
    }
    for (const [key, [v, text]] of Object.entries(expectTotals)) {
      const shown = await figure(page, '#totals', key)
      assert.equal(Number(shown.value), v, `totals ${key}: value`)
      assert.equal(shown.text, text, `totals ${key}: text`)
    }
    assert.equal(t0.records, 1548 + 1, 'the sample plus the valid record of the hostile file')
    assert.equal(problems.total, 3)

    assert.equal(await page.locator('article.collection').count(), cov.collections.length)
    for (const c of cov.collections) {
      const scope = `article[data-collection="${c.collection}"]`
      assert.equal(await page.locator(`${scope} h3`).innerText(), c.collection)
      const plural = (n: number, one: string) => `${int(n)} ${n === 1 ? one : `${one}s`}`
      assert.deepEqual(await figure(page, scope, 'records'), {
        value: String(c.records),
        text: plural(c.records, 'record'),
      })
      assert.deepEqual(await figure(page, scope, 'bytes'), {
        value: String(c.bytes),
        text: formatBytes(c.bytes),
      })
      assert.deepEqual(await figure(page, scope, 'torrents'), {
        value: String(c.torrents),
        text: plural(c.torrents, 'torrent'),
      })
      assert.deepEqual(await figure(page, scope, 'releases'), {
        value: String(c.releases),
        text: plural(c.releases, 'release'),
      })
      assert.equal((await figure(page, scope, 'fleet_n_ratio')).value, String(c.levels.fleet_n!.ratio))
      assert.equal((await figure(page, scope, 'gaps')).value, String(c.gaps.count))
      // Every release is drawn, coloured by its state, and every gap.
      const canvas = page.locator(`${scope} canvas.timeline`)
      assert.equal(await canvas.getAttribute('data-releases'), String(c.release_list.length))
      for (const state of new Set(c.release_list.map((r) => r.state))) {
        assert.equal(
          await canvas.getAttribute(`data-state-${state}`),
          String(c.release_list.filter((r) => r.state === state).length),
          `${c.collection} ${state}`,
        )
      }
      assert.equal(await canvas.getAttribute('data-gaps'), String(c.gaps.count))
    }
    assert.equal(
      await page
        .locator('article[data-collection="hostile_records"] canvas.timeline')
        .getAttribute('data-state-problems'),
      '1',
    )

    // Hovering a bar shows what it is, as text; so does hovering a gap.
    const records = cov.collections.find((c) => c.collection === 'zlib3_records')!
    const recordsCanvas = page.locator('article[data-collection="zlib3_records"] canvas.timeline')
    await recordsCanvas.scrollIntoViewIfNeeded()
    const box = (await recordsCanvas.boundingBox())!
    const xOf = (s: number) =>
      box.x + ((s - records.from_s!) / (records.to_s! + 1 - records.from_s!)) * box.width
    const first = records.release_list[0]!
    await page.mouse.move(xOf((first.from_s + first.to_s) / 2), box.y + 6)
    const tooltip = page.locator('#tooltip')
    await tooltip.waitFor({ state: 'visible' })
    assert.match(
      await tooltip.innerText(),
      /^annas_archive_meta__aacid__zlib3_records__\d{8}T\d{6}Z--\d{8}T\d{6}Z\.jsonl\.zst\n2023-08-08 .* UTC – 2023-08-08 .* UTC\nSeeded here; [\d.]+ KB, 400 records\ncopies: 1 of 2 wanted; swarm seeders: not scraped$/,
    )
    await page.mouse.move(xOf(first.to_s + 600), box.y + 6)
    assert.match(
      await tooltip.innerText(),
      /^Gap: no release covers 2023-08-08 .* \(\d+m \d+s\)\.\nA missing release\?$/,
    )
    await page.locator('h1').hover()
    await tooltip.waitFor({ state: 'hidden' })
    for (const bucket of ['lt4', '4to10', 'gt10', 'unknown']) {
      assert.equal(
        await page.locator(`#seeders [data-bucket="${bucket}"]`).getAttribute('data-value'),
        String(t0.swarm[bucket]!.bytes),
        bucket,
      )
    }
    assert.equal((await figure(page, '#risk', 'risk_total')).value, String(risk.total))
    assert.equal(await page.locator('#risk tbody tr').count(), Math.min(25, risk.total))
    assert.match(await page.locator('#fleet').innerText(), /No seedboxes reported yet/)
    assert.equal(await page.locator('#problems tbody tr').count(), problems.total)
    assert.ok((await page.locator('#jobs tbody tr').count()) >= 6)
    assert.match(
      await page.locator('#status').innerText(),
      /Database: ok\. Torrent engine \(webtorrent\): ok\./,
    )
    const mirrorText = await page.locator('#mirror').innerText()
    assert.match(
      mirrorText,
      /Downloads: 0 queued, 0 downloading, 0 verifying, 0 placed, 0 done, 1 rejected\./,
    )
    assert.ok(mirrorText.includes(`failing: ${HOSTILE_MIRROR_ERROR}`), mirrorText)
    assert.ok(
      mirrorText.includes('https://upstream.example/torrents.json?key=***') &&
        !mirrorText.includes('SECRET-77'),
    )
    assert.equal(await page.locator('#mirror tbody tr').count(), 2)
    assert.ok(await page.locator('#mirror').getByText(HOSTILE_MIRROR_NAME, { exact: true }).isVisible())
    // Upstream groups: the other torrent's group, as text, with its figures.
    assert.ok(
      await page.locator('#groups').getByText(`external/${HOSTILE_GROUP}`, { exact: true }).isVisible(),
    )
    const groupRow = await page.locator('#groups tbody tr').first().innerText()
    assert.match(
      groupRow,
      /1 \(77(\.0)? GB\)\s+0 \(0 B\)\s+0 \(0 B\)\s+0 \(0 B\)\s+0 \(0 B\)\s+1\s+0\s+0/,
      groupRow,
    )

    // Hostile names and messages are there, as text; none ran, none became an element.
    for (const name of HOSTILE_NAMES) assert.ok(await page.getByText(name, { exact: true }).isVisible(), name)
    assert.ok(await page.getByText(JSON.stringify(HOSTILE_KEY), { exact: false }).isVisible())
    assert.deepEqual(dialogs, [])
    assert.equal(await page.evaluate('document.scripts.length'), 1)
    assert.equal(await page.locator('img, iframe, object, embed').count(), 0)
    assert.equal(await page.locator('main svg[onload], main [onerror]').count(), 0)
    assert.deepEqual(elsewhere, [], 'nothing fetched from anywhere else')
    assert.deepEqual(errors, [])

    mkdirSync(join(REPO_ROOT, 'test-output'), { recursive: true })
    await page.screenshot({ path: join(REPO_ROOT, 'test-output', 'dashboard.png'), fullPage: true })
    await page.locator('#groups').screenshot({ path: join(REPO_ROOT, 'test-output', 'dashboard-groups.png') })

    // A job run changes the database: the open page picks up the new generation by itself.
    const run = await fetch(`${base}/api/jobs/engine_status/run?wait=true`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(run.status, 200)
    const before = cov.generation
    // (Polled from here: the page's CSP refuses the string evaluation waitForFunction would use.)
    await waitFor(
      'the page to show a newer generation',
      async () => Number(await page.getAttribute('html', 'data-generation')) > before,
      20_000,
    )
    assert.ok((await page.locator('#jobs tbody tr').count()) >= 7)

    // SIGTERM: the HTTP server stops first, then the service; exit 0.
    child.kill('SIGTERM')
    const [code] = (await exited) as [number | null]
    assert.equal(code, 0, logs.slice(-3000))
    assert.match(logs, /dashboard and API at http:\/\/127\.0\.0\.1:\d+\//)
    assert.match(logs, /"msg":"stopped"/)
    assert.equal(await fetch(`${base}/healthz`).catch(() => 'refused'), 'refused')
  },
)
