/**
 * The dashboard's script, served as /dashboard.js (a module script: the page's
 * Content-Security-Policy allows scripts from the server itself only, never inline ones).
 *
 * It runs in the browser, not in Node: it is compiled with the rest of the code, and the few
 * browser APIs it uses are declared below instead of pulling the DOM types into the whole
 * program. Names of releases, problem messages and file names come from untrusted release trees:
 * every one of them reaches the page through `textContent` or a text node, never as markup.
 */

import type {
  CoverageResponse,
  GroupsResponse,
  HealthzResponse,
  MirrorResponse,
  ProblemsResponse,
  RunItem,
  SeedboxItem,
  TimelineResponse,
  TorrentsResponse,
} from '../shapes.js'
// Served to the browser as /units.js (src/units.ts): the CLI's formatting, not a copy of it.
import { formatBytes, formatRatio } from '../../units.js'

// ---- the browser APIs used, declared for this module only ---------------------------------

interface DomNode {
  readonly nodeType: number
}
interface PointerEvent {
  readonly clientX: number
  readonly clientY: number
}
interface DomElement extends DomNode {
  textContent: string | null
  hidden: boolean
  readonly style: { left: string; top: string; height: string }
  addEventListener(type: 'mousemove' | 'mouseleave', fn: (ev: PointerEvent) => void): void
  getBoundingClientRect(): { left: number; top: number; width: number; height: number }
  setAttribute(name: string, value: string): void
  getAttribute(name: string): string | null
  append(...nodes: Array<DomNode | string>): void
  replaceChildren(...nodes: Array<DomNode | string>): void
}
interface Canvas2D {
  fillStyle: string
  strokeStyle: string
  lineWidth: number
  setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void
  clearRect(x: number, y: number, w: number, h: number): void
  fillRect(x: number, y: number, w: number, h: number): void
  beginPath(): void
  rect(x: number, y: number, w: number, h: number): void
  stroke(): void
}
interface DomCanvas extends DomElement {
  width: number
  height: number
  readonly clientWidth: number
  getContext(kind: '2d'): Canvas2D | null
}
interface DomDocument {
  createElement(tag: string): DomElement
  createElementNS(ns: string, tag: string): DomElement
  createTextNode(text: string): DomNode
  getElementById(id: string): DomElement | null
  readonly documentElement: DomElement
  readonly body: DomElement
}
interface FetchResponse {
  readonly ok: boolean
  readonly status: number
  json(): Promise<unknown>
}
declare const document: DomDocument
declare function fetch(
  url: string,
  init?: { cache?: 'no-cache' | 'no-store'; headers?: Record<string, string> },
): Promise<FetchResponse>
declare function setTimeout(fn: () => void, ms: number): number
declare const performance: { now(): number }
declare const window: {
  readonly innerWidth: number
  readonly devicePixelRatio: number
  addEventListener(type: 'resize', fn: () => void): void
}
declare function requestAnimationFrame(fn: () => void): number
declare function getComputedStyle(e: DomElement): { getPropertyValue(name: string): string }

// ---- the API's shapes: typed once, in src/http/shapes.ts (type-only imports vanish from the JS) --

type CoverageJson = CoverageResponse
type TimelineJson = TimelineResponse
type Buckets = CoverageResponse['totals']['swarm']
/** A release of the timeline, as an object (`timelineRows` builds it from a row). */
interface ReleaseJson {
  /** The name, or its reference into the timeline's prefixes and extensions (see `nameOf`). */
  ref: string | [number, number]
  kind: 'meta' | 'data'
  from_s: number
  to_s: number
  records: number
  files: number
  bytes: number
  problems: number
  state: string
  copies: number
  target: number
  seeders: number | null
}
/** One collection's timeline, releases as objects. */
interface CollectionTimeline {
  collection: string
  from_s: number | null
  to_s: number | null
  gap_list: TimelineJson['collections'][number]['gap_list']
  /** All gaps; `gap_list` has the first 250. */
  gap_count: number
  /** Releases known upstream only beyond the first 250 drawn. */
  unlisted_releases: number
  overlap_list: TimelineJson['collections'][number]['overlap_list']
  release_list: ReleaseJson[]
  /** A release's name, rebuilt when asked (only a tooltip needs it). */
  nameOf(r: ReleaseJson): string
}

/** `20230808T014342Z` from Unix seconds. */
export function aacTimestamp(s: number): string {
  return new Date(s * 1000)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '')
}

/** Rows to objects, by the column names the server sent; names rebuilt from their references. */
export function timelineRows(t: TimelineJson): Map<string, CollectionTimeline> {
  const col = (name: string): number => (t.columns as readonly string[]).indexOf(name)
  const [iName, iKind, iFrom, iTo, iState, iBytes, iRecords, iFiles, iProblems, iCopies, iTarget, iSeeders] =
    [
      'name',
      'kind',
      'from_s',
      'to_s',
      'state',
      'bytes',
      'records',
      'files',
      'problems',
      'copies',
      'target',
      'seeders',
    ].map(col) as number[]
  return new Map(
    t.collections.map((c) => [
      c.collection,
      {
        collection: c.collection,
        from_s: c.from_s,
        to_s: c.to_s,
        gap_list: c.gap_list,
        gap_count: c.gap_count,
        unlisted_releases: c.unlisted_releases,
        overlap_list: c.overlap_list,
        nameOf: (r: ReleaseJson): string =>
          typeof r.ref === 'string'
            ? r.ref
            : `${t.prefixes[r.ref[0]]}_${r.kind}__aacid__${c.collection}__${aacTimestamp(r.from_s)}--${aacTimestamp(r.to_s)}${t.extensions[r.ref[1]]}`,
        release_list: c.releases.map((r) => ({
          ref: r[iName!] as string | [number, number],
          kind: r[iKind!] as 'meta' | 'data',
          from_s: r[iFrom!] as number,
          to_s: r[iTo!] as number,
          state: r[iState!] as string,
          bytes: r[iBytes!] as number,
          records: r[iRecords!] as number,
          files: r[iFiles!] as number,
          problems: r[iProblems!] as number,
          copies: r[iCopies!] as number,
          target: r[iTarget!] as number,
          seeders: r[iSeeders!] as number | null,
        })),
      },
    ]),
  )
}
// ---- formatting (bytes and shares: src/units.ts, the code `aacseed coverage` uses) ----------

// One formatter: toLocaleString builds a new one per call, which costs a page of numbers 100+ ms.
const INT = new Intl.NumberFormat('en')

export function formatInt(n: number): string {
  return INT.format(n)
}

/** `1 record`, `1,200 records`. */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${formatInt(n)} ${n === 1 ? one : many}`
}

export function formatDuration(seconds: number): string {
  const units: Array<[string, number]> = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ]
  const parts: string[] = []
  let rest = Math.round(seconds)
  for (const [u, n] of units) {
    if (rest >= n || (parts.length === 0 && u === 's')) {
      parts.push(`${Math.floor(rest / n)}${u}`)
      rest %= n
    }
    if (parts.length === 2) break
  }
  return parts.join(' ')
}

/** Unix seconds → `2023-08-08 01:43 UTC`. */
export function formatSeconds(s: number, withSeconds = false): string {
  const iso = new Date(s * 1000).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, withSeconds ? 19 : 16)} UTC`
}

function formatIso(iso: string | null): string {
  return iso === null ? '—' : `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`
}

// ---- building the page: elements from text only ----------------------------------------------

type Child = DomNode | string | number | null | undefined | false

function el(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): DomElement {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
  for (const c of children)
    if (c !== null && c !== undefined && c !== false) e.append(typeof c === 'number' ? String(c) : c)
  return e
}

const SVG_NS = 'http://www.w3.org/2000/svg'

function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: Child[]): DomElement {
  const e = document.createElementNS(SVG_NS, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  for (const c of children)
    if (c !== null && c !== undefined && c !== false) e.append(typeof c === 'number' ? String(c) : c)
  return e
}

function table(headers: string[], rows: Child[][], empty: string, cls = ''): DomElement {
  if (rows.length === 0) return el('p', { class: 'empty' }, empty)
  return el(
    'table',
    cls ? { class: cls } : {},
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))),
  )
}

function section(id: string): DomElement {
  const s = document.getElementById(id)
  if (!s) throw new Error(`the page has no #${id}`)
  return s
}

function figure(key: string, label: string, value: number, shown: string, note: string): DomElement {
  return el(
    'div',
    { class: 'card', 'data-figure': key, 'data-value': String(value) },
    el('div', { class: 'card-value', title: note }, shown),
    el('div', { class: 'card-label' }, label),
  )
}

// ---- levels and colours -------------------------------------------------------------------

/** Timeline states, weakest first; the CSS gives each its colour. */
const STATES: Array<{ key: string; label: string; note: string }> = [
  {
    key: 'upstream',
    label: 'Known upstream, not here',
    note: 'listed by an upstream torrent list, but not on this machine',
  },
  {
    key: 'problems',
    label: 'Here, with problems',
    note: 'on this machine, but the catalog found problems: no torrent is made',
  },
  { key: 'held', label: 'Held here only', note: 'on this machine and problem-free, no torrent yet' },
  { key: 'torrented', label: 'Torrent made', note: 'a .torrent exists, but nothing seeds it yet' },
  { key: 'seeded', label: 'Seeded here', note: 'the torrent engine on this machine seeds it' },
  { key: 'fleet_1', label: 'On a seedbox', note: 'at least one seedbox of the fleet has a complete copy' },
  { key: 'fleet_n', label: 'On enough seedboxes', note: 'at least the target number of seedboxes have it' },
]

// ---- sections -----------------------------------------------------------------------------

function renderTotals(c: CoverageJson, problems: number): void {
  const t = c.totals
  const n = c.copies_target
  section('totals').replaceChildren(
    figure(
      'records',
      'records cataloged',
      t.records,
      formatInt(t.records),
      'metadata records in the local catalog',
    ),
    figure('bytes', 'of releases known', t.bytes, formatBytes(t.bytes), `${formatInt(t.bytes)} bytes`),
    figure(
      'torrents',
      'torrents made',
      t.torrents,
      formatInt(t.torrents),
      'one per metadata file and one per data folder',
    ),
    figure(
      'held_ratio',
      'held here, problem-free',
      t.levels.held?.ratio ?? 0,
      formatRatio(t.levels.held?.ratio ?? 0),
      'share of all known bytes',
    ),
    figure(
      'seeded_ratio',
      'seeded here',
      t.levels.seeded?.ratio ?? 0,
      formatRatio(t.levels.seeded?.ratio ?? 0),
      'share of all known bytes seeded by the local engine',
    ),
    figure(
      'fleet_n_ratio',
      `on ≥ ${n} seedboxes`,
      t.levels.fleet_n?.ratio ?? 0,
      formatRatio(t.levels.fleet_n?.ratio ?? 0),
      `share of all known bytes with at least ${n} complete copies in the fleet`,
    ),
    figure(
      'at_risk',
      'torrents at risk',
      t.at_risk,
      formatInt(t.at_risk),
      `fewer than ${n} copies, or fewer than 4 seeders in the public swarm`,
    ),
    figure(
      'gaps',
      'gaps in the timeline',
      t.gaps,
      formatInt(t.gaps),
      'stretches of time no release covers: possibly missing releases',
    ),
    figure('problems', 'open problems', problems, formatInt(problems), 'defects found in the release files'),
  )
}

function renderLegend(): void {
  section('legend').replaceChildren(
    el('h2', {}, 'How to read the timelines'),
    el(
      'p',
      {},
      'Each bar is one release — a metadata file (top row) or a data folder (bottom row) — drawn along the stretch of time its AACIDs cover. ' +
        'Its colour says the best thing true of it. Hover a bar for details.',
    ),
    el(
      'ul',
      { class: 'legend' },
      ...STATES.map((s) => el('li', { title: s.note }, el('span', { class: `swatch s-${s.key}` }), s.label)),
      el(
        'li',
        { title: 'no release covers this stretch of time: often a release that is missing here' },
        el('span', { class: 'swatch s-gap' }),
        'Gap: no release covers this time',
      ),
      el(
        'li',
        { title: 'two releases cover the same time; red when their records differ' },
        el('span', { class: 'swatch s-overlap' }),
        'Overlap (red: records differ)',
      ),
    ),
  )
}

/** Places ranges in as few rows as possible so that overlapping ones sit one above the other. */
function lanes(releases: ReleaseJson[]): ReleaseJson[][] {
  const rows: ReleaseJson[][] = []
  const ends: number[] = []
  for (const r of [...releases].sort((a, b) => a.from_s - b.from_s || a.to_s - b.to_s)) {
    let i = ends.findIndex((end) => end < r.from_s)
    if (i < 0 && rows.length >= 4) i = rows.length - 1
    if (i < 0) {
      rows.push([])
      ends.push(-Infinity)
      i = rows.length - 1
    }
    rows[i]!.push(r)
    ends[i] = Math.max(ends[i]!, r.to_s)
  }
  return rows
}

function stateLabel(key: string): string {
  return STATES.find((s) => s.key === key)?.label ?? key
}

/** What a bar stands for, for the tooltip. */
function describeRelease(r: ReleaseJson, name: string): string {
  return [
    name,
    `${formatSeconds(r.from_s, true)} – ${formatSeconds(r.to_s, true)}`,
    `${stateLabel(r.state)}; ${formatBytes(r.bytes)}${r.kind === 'meta' ? `, ${count(r.records, 'record')}` : `, ${count(r.files, 'file')}`}`,
    `copies: ${r.copies} of ${r.target} wanted; swarm seeders: ${r.seeders === null ? 'not scraped' : r.seeders}`,
    r.problems > 0 ? `${count(r.problems, 'problem')}: see Open problems below` : '',
  ]
    .filter(Boolean)
    .join('\n')
}

function describeGap(g: CollectionTimeline['gap_list'][number]): string {
  return `Gap: no release covers ${formatSeconds(g.from_s, true)} to ${formatSeconds(g.to_s, true)} (${formatDuration(g.seconds)}).\nA missing release?`
}

/** The one tooltip of the page, filled as text. */
function tooltip(): DomElement {
  let t = document.getElementById('tooltip')
  if (!t) {
    t = el('div', { id: 'tooltip', role: 'tooltip' })
    t.hidden = true
    document.body.append(t)
  }
  return t
}

/**
 * Colours of the timeline states and marks, read from the stylesheet so it stays the one place they are
 * defined.
 */
function palette(): (name: string) => string {
  const style = getComputedStyle(document.documentElement)
  const cache = new Map<string, string>()
  return (name) => {
    let c = cache.get(name)
    if (c === undefined) {
      c = style.getPropertyValue(`--${name}`).trim() || '#888'
      cache.set(name, c)
    }
    return c
  }
}

interface TimelineModel {
  c: CollectionTimeline
  canvas: DomCanvas
  t0: number
  span: number
  height: number
  rows: Array<{ y: number; releases: ReleaseJson[] }>
}

const ROW = 12
const LANE_GAP = 6
const OVERLAP_MARK = 3

/**
 * Draws (or redraws, at the canvas's current width) one timeline. Thousands of releases are thousands of
 * fillRects: a few milliseconds.
 */
function drawTimeline(m: TimelineModel, color: (name: string) => string): void {
  const width = m.canvas.clientWidth || 1000
  const dpr = window.devicePixelRatio || 1
  m.canvas.width = Math.round(width * dpr)
  m.canvas.height = Math.round(m.height * dpr)
  const ctx = m.canvas.getContext('2d')
  if (!ctx) return
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
  ctx.clearRect(0, 0, width, m.height)
  const x = (s: number): number => ((s - m.t0) / m.span) * width
  ctx.fillStyle = color('gap')
  for (const g of m.c.gap_list)
    ctx.fillRect(x(g.from_s), 0, Math.max(x(g.to_s + 1) - x(g.from_s), 1.5), m.height)
  // One colour at a time (setting fillStyle parses a colour), and all outlines as one path.
  const byState = new Map<string, Array<[number, number, number]>>()
  const outlines: Array<[number, number, number]> = []
  for (const row of m.rows) {
    for (const r of row.releases) {
      const x0 = x(r.from_s)
      const w = Math.max(x(r.to_s + 1) - x0, 1)
      let list = byState.get(r.state)
      if (!list) byState.set(r.state, (list = []))
      list.push([x0, row.y, w])
      // Wide bars get an outline, so neighbours of one colour stay apart.
      if (w >= 4) outlines.push([x0, row.y, w])
    }
  }
  for (const [state, list] of byState) {
    ctx.fillStyle = color(`s-${state}`)
    for (const [x0, y, w] of list) ctx.fillRect(x0, y + 1, w, ROW - 2)
  }
  ctx.strokeStyle = 'rgba(0,0,0,0.25)'
  ctx.lineWidth = 1
  ctx.beginPath()
  for (const [x0, y, w] of outlines) ctx.rect(x0 + 0.5, y + 1.5, w - 1, ROW - 3)
  ctx.stroke()
  for (const o of m.c.overlap_list) {
    ctx.fillStyle = o.check === 'conflict' ? color('conflict') : color('overlap')
    ctx.fillRect(x(o.from_s), 0, Math.max(x(o.to_s + 1) - x(o.from_s), 1.5), OVERLAP_MARK)
  }
}

/** The release, gap or overlap under the pointer: by row, then by time, within two pixels. */
function describeAt(m: TimelineModel, clientX: number, clientY: number): string | null {
  const box = m.canvas.getBoundingClientRect()
  const t = m.t0 + ((clientX - box.left) / box.width) * m.span
  const py = clientY - box.top
  const slack = (2 / box.width) * m.span
  const near = (from: number, to: number): boolean => t >= from - slack && t <= to + 1 + slack
  if (py <= OVERLAP_MARK + 1) {
    const o = m.c.overlap_list.find((x) => near(x.from_s, x.to_s))
    if (o)
      return `Overlap ${formatSeconds(o.from_s, true)} – ${formatSeconds(o.to_s, true)}:\n${o.a}\n${o.b}\n${o.check === 'ok' ? 'the same records (checked)' : o.check === 'conflict' ? `records differ (${o.problems.join(', ')})` : 'not checked (data folders)'}`
  }
  const row = m.rows.find((r) => py >= r.y && py < r.y + ROW)
  if (row) {
    const list = row.releases
    let lo = 0
    let hi = list.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (list[mid]!.from_s <= t) lo = mid
      else hi = mid - 1
    }
    let best: ReleaseJson | null = null
    let bestDistance = Infinity
    for (const r of [list[lo - 1], list[lo], list[lo + 1]]) {
      if (!r) continue
      const d = t < r.from_s ? r.from_s - t : t > r.to_s + 1 ? t - r.to_s - 1 : 0
      if (d < bestDistance) [best, bestDistance] = [r, d]
    }
    if (best && bestDistance <= slack) return describeRelease(best, m.c.nameOf(best))
  }
  const gap = m.c.gap_list.find((g) => near(g.from_s, g.to_s))
  return gap ? describeGap(gap) : null
}

const timelines: TimelineModel[] = []

/**
 * The timeline of one collection, drawn on a canvas: one row per kind (more where ranges
 * overlap), a bar per release coloured by its state, gaps as pink bands, overlaps as a mark
 * on top. The canvas carries the counts it drew as data attributes; the tooltip finds the
 * release under the pointer by time, so every release stays inspectable however narrow.
 */
function timeline(c: CollectionTimeline): DomElement {
  const releases = c.release_list
  if (c.from_s === null || c.to_s === null || releases.length === 0)
    return el('p', { class: 'empty' }, 'No releases known.')
  const kinds = (['meta', 'data'] as const)
    .map((k) => ({ kind: k, rows: lanes(releases.filter((r) => r.kind === k)) }))
    .filter((k) => k.rows.length > 0)
  const rows: TimelineModel['rows'] = []
  let y = 0
  for (const k of kinds) {
    for (const row of k.rows) {
      rows.push({ y, releases: row })
      y += ROW
    }
    y += LANE_GAP
  }
  const states = new Map<string, number>()
  for (const r of releases) states.set(r.state, (states.get(r.state) ?? 0) + 1)
  const attrs: Record<string, string> = {
    class: 'timeline',
    role: 'img',
    'aria-label': `timeline of ${c.collection}: ${count(releases.length, 'release')}${c.unlisted_releases > 0 ? ` (and ${formatInt(c.unlisted_releases)} more known upstream only, not drawn)` : ''}, ${count(c.gap_count, 'gap')}`,
    'data-releases': String(releases.length),
    'data-gaps': String(c.gap_count),
    'data-overlaps': String(c.overlap_list.length),
  }
  for (const [state, n] of states) attrs[`data-state-${state}`] = String(n)
  const canvas = el('canvas', attrs) as DomCanvas
  canvas.style.height = `${y}px`
  const model: TimelineModel = { c, canvas, t0: c.from_s, span: c.to_s + 1 - c.from_s, height: y, rows }
  timelines.push(model)
  canvas.addEventListener('mousemove', (ev) => {
    const text = describeAt(model, ev.clientX, ev.clientY)
    const t = tooltip()
    if (text === null) {
      t.hidden = true
      return
    }
    t.textContent = text
    t.style.left = `${Math.min(ev.clientX + 14, window.innerWidth - 420)}px`
    t.style.top = `${ev.clientY + 16}px`
    t.hidden = false
  })
  canvas.addEventListener('mouseleave', () => {
    tooltip().hidden = true
  })
  const labels = el(
    'div',
    { class: 'lane-labels' },
    ...kinds.map((k) =>
      el(
        'span',
        { class: `lane-label rows-${Math.min(k.rows.length, 4)}` },
        k.kind === 'meta' ? 'metadata' : 'data',
      ),
    ),
  )
  return el(
    'div',
    { class: 'timeline-wrap' },
    el('div', { class: 'timeline-row' }, labels, canvas),
    el(
      'div',
      { class: 'axis' },
      el('span', {}, formatSeconds(c.from_s)),
      el('span', {}, `${formatDuration(model.span)} of AACID time`),
      el('span', {}, formatSeconds(c.to_s)),
    ),
  )
}

/** Draws every timeline built since the last call, once they are in the page (their width is known). */
function drawTimelines(): void {
  const color = palette()
  for (const m of timelines) drawTimeline(m, color)
}

function renderCollections(c: CoverageJson, tl: Map<string, CollectionTimeline>): void {
  const target = c.copies_target
  timelines.length = 0
  const blocks = c.collections.map((col) => {
    const line: CollectionTimeline = tl.get(col.collection) ?? {
      collection: col.collection,
      from_s: null,
      to_s: null,
      gap_list: [],
      gap_count: 0,
      unlisted_releases: 0,
      overlap_list: [],
      release_list: [],
      nameOf: () => '',
    }
    const fleetN = col.levels.fleet_n?.ratio ?? 0
    const gapText =
      col.gaps.count === 0
        ? 'no gaps'
        : `${count(col.gaps.count, 'gap')} (${formatDuration(col.gaps.seconds)})`
    const overlapText =
      col.overlaps.count === 0
        ? 'no overlaps'
        : `${count(col.overlaps.count, 'overlap')}${col.overlaps.conflicts > 0 ? `, ${col.overlaps.conflicts} with differing records` : ''}`
    const gapsTable = table(
      ['from', 'to', 'length', 'after release'],
      line.gap_list
        .slice(0, 100)
        .map((g) => [
          formatSeconds(g.from_s, true),
          formatSeconds(g.to_s, true),
          formatDuration(g.seconds),
          el('code', {}, g.after),
        ]),
      'No gaps.',
    )
    const overlapsTable = table(
      ['from', 'to', 'releases', 'check'],
      line.overlap_list
        .slice(0, 100)
        .map((o) => [
          formatSeconds(o.from_s, true),
          formatSeconds(o.to_s, true),
          el('span', {}, el('code', {}, o.a), ' and ', el('code', {}, o.b)),
          o.check === 'conflict'
            ? `differ: ${o.problems.join(', ')}`
            : o.check === 'ok'
              ? 'same records'
              : 'not checked',
        ]),
      'No overlaps.',
    )
    return el(
      'article',
      { class: 'collection', 'data-collection': col.collection },
      el('h3', {}, col.collection),
      el(
        'p',
        { class: 'figures' },
        el(
          'span',
          { 'data-figure': 'records', 'data-value': String(col.records) },
          count(col.records, 'record'),
        ),
        ' · ',
        el('span', { 'data-figure': 'bytes', 'data-value': String(col.bytes) }, formatBytes(col.bytes)),
        ' · ',
        el(
          'span',
          { 'data-figure': 'releases', 'data-value': String(col.releases) },
          count(col.releases, 'release'),
        ),
        ' · ',
        el(
          'span',
          { 'data-figure': 'torrents', 'data-value': String(col.torrents) },
          count(col.torrents, 'torrent'),
        ),
        ' · ',
        el(
          'span',
          { 'data-figure': 'fleet_n_ratio', 'data-value': String(fleetN) },
          `${formatRatio(fleetN)} on ≥ ${target} seedboxes`,
        ),
        ' · ',
        el('span', { 'data-figure': 'gaps', 'data-value': String(col.gaps.count) }, gapText),
        ' · ',
        overlapText,
      ),
      timeline(line),
      el(
        'details',
        {},
        el('summary', {}, 'Gaps and overlaps'),
        el('h4', {}, 'Gaps'),
        gapsTable,
        el('h4', {}, 'Overlaps'),
        overlapsTable,
      ),
    )
  })
  section('collections').replaceChildren(
    el('h2', {}, 'Collections'),
    ...(blocks.length > 0
      ? blocks
      : [
          el(
            'p',
            { class: 'empty' },
            'Nothing cataloged yet. aacseed scans the configured release roots on schedule.',
          ),
        ]),
  )
  drawTimelines()
}

function renderSeeders(c: CoverageJson): void {
  const s = c.totals.swarm
  const rows: Array<{ key: keyof Buckets; label: string }> = [
    { key: 'lt4', label: 'fewer than 4 seeders (at risk)' },
    { key: '4to10', label: '4 to 10 seeders' },
    { key: 'gt10', label: 'more than 10 seeders' },
    { key: 'unknown', label: 'not scraped yet' },
  ]
  const max = Math.max(1, ...rows.map((r) => s[r.key].bytes))
  section('seeders').replaceChildren(
    el('h2', {}, 'Public swarm: data by number of seeders'),
    el(
      'p',
      { class: 'note' },
      'How much data has few or many seeders in the public BitTorrent swarm (everyone, not only your machines), as trackers report it.',
    ),
    el(
      'div',
      { class: 'bars' },
      ...rows.map((r) =>
        el(
          'div',
          { class: 'bar-row', 'data-bucket': r.key, 'data-value': String(s[r.key].bytes) },
          el('span', { class: 'bar-label' }, r.label),
          svg(
            'svg',
            {
              class: 'hbar',
              viewBox: '0 0 100 10',
              preserveAspectRatio: 'none',
              role: 'img',
              'aria-label': r.label,
            },
            svg('rect', {
              class: `b-${r.key}`,
              x: 0,
              y: 0,
              height: 10,
              width: ((s[r.key].bytes / max) * 100).toFixed(2),
            }),
          ),
          el(
            'span',
            { class: 'bar-value' },
            `${formatBytes(s[r.key].bytes)} in ${count(s[r.key].torrents, 'torrent')}`,
          ),
        ),
      ),
    ),
  )
}

function renderFleet(boxes: SeedboxItem[], target: number): void {
  section('fleet').replaceChildren(
    el('h2', {}, 'Seedboxes'),
    table(
      ['seedbox', 'status', 'free space', 'torrents', 'errors', 'last seen'],
      boxes.map((b) => [
        b.name,
        el('span', { class: b.up ? 'up' : 'down' }, b.up ? 'up' : `down${b.error ? `: ${b.error}` : ''}`),
        b.free_bytes === null ? '—' : formatBytes(b.free_bytes),
        formatInt(b.torrents),
        formatInt(b.errors),
        formatIso(b.last_seen_at),
      ]),
      `No seedboxes reported yet. Until a fleet is set up, this machine is the only copy aacseed knows of (the target is ${target} copies).`,
    ),
  )
}

function renderMirror(m: MirrorResponse): void {
  const d = m.downloads
  const counts = (['queued', 'downloading', 'verifying', 'placed', 'done', 'rejected'] as const)
    .map((k) => `${formatInt(d[k] ?? 0)} ${k}`)
    .join(', ')
  section('mirror').replaceChildren(
    el('h2', {}, 'Mirror'),
    m.sources.length === 0
      ? el(
          'p',
          { class: 'empty' },
          'No mirror source yet: add [[mirror.sources]] to follow an upstream torrent list.',
        )
      : el(
          'p',
          { class: 'note' },
          'Upstream torrent lists this machine follows, and the ranges it is fetching. ',
          el(
            'span',
            { 'data-figure': 'mirror_done', 'data-value': String(d.done ?? 0) },
            `Downloads: ${counts}.`,
          ),
        ),
    table(
      ['source', 'list', 'status', 'torrents', 'rejected entries', 'fetched'],
      m.sources.map((s) => [
        s.name,
        el('code', {}, s.location),
        el('span', { class: s.ok ? 'up' : 'down' }, s.ok ? 'ok' : `failing${s.error ? `: ${s.error}` : ''}`),
        formatInt(s.offered),
        formatInt(s.rejected),
        formatIso(s.fetched_at),
      ]),
      '',
    ),
    m.pending.length === 0
      ? el('span', {})
      : table(
          ['release', 'state', 'size', 'attempts', 'last error'],
          m.pending
            .slice(0, 25)
            .map((p) => [
              el('code', {}, p.name),
              el('span', { class: p.state === 'rejected' ? 'down' : '' }, p.state),
              p.total_size === null ? '—' : formatBytes(p.total_size),
              formatInt(p.attempts),
              p.error ? `${p.error_code ?? ''}: ${p.error}` : '—',
            ]),
          '',
        ),
  )
}

/** Per group of the upstream lists, AAC or not, as Anna's Archive's torrents page groups them. */
function renderGroups(g: GroupsResponse): void {
  const fig = (f: { torrents: number; bytes: number }) => `${formatInt(f.torrents)} (${formatBytes(f.bytes)})`
  section('groups').replaceChildren(
    el('h2', {}, 'Upstream groups'),
    g.groups.length === 0
      ? el(
          'p',
          { class: 'empty' },
          'No upstream list known yet: add [[mirror.sources]] and run aacseed mirror sources.',
        )
      : el(
          'p',
          { class: 'note' },
          'Every torrent of the upstream lists, AAC release or not, by group: how many are held here, seeded here, on at least one and at least N seedboxes, and how the public swarm keeps them. ',
          el(
            'span',
            { 'data-figure': 'groups_total', 'data-value': String(g.groups.length) },
            `${formatInt(g.groups.length)} group${g.groups.length === 1 ? '' : 's'}.`,
          ),
        ),
    g.groups.length === 0
      ? el('span', {})
      : table(
          [
            'group',
            'upstream',
            'held here',
            'seeded here',
            'on ≥ 1 seedbox',
            'on ≥ N seedboxes',
            '< 4 seeders',
            '4–10',
            '> 10',
          ],
          g.groups.map((x) => [
            el('code', {}, x.top_level_group ? `${x.top_level_group}/${x.group}` : x.group),
            fig(x.upstream),
            fig(x.held),
            fig(x.seeded),
            fig(x.on_seedbox),
            fig(x.on_target),
            formatInt(x.swarm.lt4.torrents),
            formatInt(x.swarm['4_to_10'].torrents),
            formatInt(x.swarm.gt10.torrents),
          ]),
          '',
        ),
  )
}

function renderRisk(page: TorrentsResponse, target: number): void {
  section('risk').replaceChildren(
    el('h2', {}, 'Torrents at risk'),
    el(
      'p',
      { class: 'note' },
      `Torrents with fewer than ${target} copies, or fewer than 4 seeders in the public swarm; the riskiest first. `,
      el(
        'span',
        { 'data-figure': 'risk_total', 'data-value': String(page.total) },
        `${formatInt(page.total)} in all.`,
      ),
    ),
    table(
      ['torrent', 'collection', 'size', 'copies', 'swarm seeders', 'status'],
      page.items.map((t) => [
        el('code', {}, t.name),
        t.collection,
        formatBytes(t.bytes),
        `${t.copies} of ${t.target}`,
        t.seeders === null ? 'not scraped' : formatInt(t.seeders),
        el('span', { class: `health h-${t.health}` }, t.health),
      ]),
      'None: every torrent has enough copies.',
    ),
  )
}

function renderJobs(runs: RunItem[]): void {
  section('jobs').replaceChildren(
    el('h2', {}, 'Recent job runs'),
    table(
      ['job', 'started', 'took', 'outcome', 'what it did'],
      runs.map((r) => [
        r.job,
        formatIso(r.started_at),
        r.duration_ms === null ? 'running' : formatDuration(r.duration_ms / 1000),
        el('span', { class: `outcome o-${r.outcome}` }, r.outcome),
        r.error ??
          Object.entries(r.counts ?? {})
            .map(([k, v]) => `${k.replace(/_/g, ' ')} ${formatInt(v)}`)
            .join(', '),
      ]),
      'No job has run yet.',
      'jobs',
    ),
  )
}

function renderProblems(page: ProblemsResponse): void {
  section('problems').replaceChildren(
    el('h2', {}, 'Open problems'),
    el(
      'p',
      { class: 'note' },
      `Defects the catalog found in the release files (bad names, broken files, records that contradict each other). ${formatInt(page.total)} in all; the newest ${Math.min(page.items.length, page.total)} shown.`,
    ),
    table(
      ['problem', 'where', 'what'],
      page.items.map((p) => [
        el('code', {}, p.code),
        el('code', {}, `${p.path}${p.line !== null ? `:${p.line}` : ''}`),
        p.message,
      ]),
      'No problems found.',
    ),
  )
}

function renderStatus(health: HealthzResponse | null, error: string | null, refreshSeconds: number): void {
  const now = new Date().toISOString()
  const parts: Child[] = []
  if (error !== null)
    parts.push(
      el('span', { class: 'down' }, `Cannot reach aacseed: ${error}. Retrying every ${refreshSeconds} s.`),
    )
  else parts.push(`Updated ${now.slice(11, 19)} UTC; refreshes every ${refreshSeconds} s.`)
  if (health) {
    parts.push(
      ' Database: ',
      el(
        'span',
        { class: health.database.ok ? 'up' : 'down' },
        health.database.ok ? 'ok' : `failing (${health.database.error ?? 'unknown'})`,
      ),
    )
    if (health.engine)
      parts.push(
        `. Torrent engine (${health.engine.kind}): `,
        el(
          'span',
          { class: health.engine.ok ? 'up' : 'down' },
          health.engine.ok ? 'ok' : `unreachable (${health.engine.error ?? 'unknown'})`,
        ),
      )
    parts.push('.')
  }
  section('status').replaceChildren(
    ...parts.filter(
      (p): p is DomNode | string => p !== null && p !== undefined && p !== false && typeof p !== 'number',
    ),
  )
}

// ---- the refresh loop ----------------------------------------------------------------------

async function getJson<T>(path: string): Promise<T> {
  // no-cache: always ask, but let the server answer 304 from its ETag.
  const res = await fetch(path, { cache: 'no-cache', headers: { accept: 'application/json' } })
  if (!res.ok && res.status !== 503) throw new Error(`${path}: HTTP ${res.status}`)
  return (await res.json()) as T
}

let shownGeneration = -1

async function refresh(refreshSeconds: number): Promise<void> {
  try {
    // The page preloads exactly these URLs (DASHBOARD_REQUESTS in page.ts).
    const [coverage, timeline, risk, seedboxes, jobs, problems, health, mirror, groups] = await Promise.all([
      getJson<CoverageJson>('/api/coverage'),
      getJson<TimelineJson>('/api/timeline'),
      getJson<TorrentsResponse>('/api/torrents?at_risk=true&sort=risk&limit=25'),
      getJson<{ seedboxes: SeedboxItem[] }>('/api/seedboxes'),
      getJson<{ runs: RunItem[] }>('/api/jobs?limit=15'),
      getJson<ProblemsResponse>('/api/problems?limit=25'),
      getJson<HealthzResponse>('/healthz'),
      getJson<MirrorResponse>('/api/mirror'),
      getJson<GroupsResponse>('/api/groups'),
    ])
    const fetched = performance.now()
    renderTotals(coverage, problems.total)
    // The timelines are the costly part: redrawn only when coverage changed.
    if (coverage.generation !== shownGeneration || timeline.generation !== coverage.generation) {
      renderCollections(coverage, timelineRows(timeline))
      renderSeeders(coverage)
      shownGeneration = coverage.generation
    }
    renderFleet(seedboxes.seedboxes, coverage.copies_target)
    renderRisk(risk, coverage.copies_target)
    renderMirror(mirror)
    renderGroups(groups)
    renderJobs(jobs.runs)
    renderProblems(problems)
    renderStatus(health, null, refreshSeconds)
    const root = document.documentElement
    const built = performance.now()
    if (root.getAttribute('data-ready') !== '1') {
      // Milliseconds from navigation start to the first frame painted with every figure (the
      // timeout runs once the frame requested here has been painted); and the data's arrival.
      await new Promise<void>((res) => requestAnimationFrame(() => setTimeout(res, 0)))
      root.setAttribute('data-first-render-ms', String(Math.round(performance.now())))
      root.setAttribute('data-first-data-ms', String(Math.round(fetched)))
      root.setAttribute('data-first-build-ms', String(Math.round(built - fetched)))
      root.setAttribute('data-ready', '1')
    }
    root.setAttribute('data-generation', String(coverage.generation))
  } catch (e) {
    renderStatus(null, e instanceof Error ? e.message : String(e), refreshSeconds)
  } finally {
    setTimeout(() => void refresh(refreshSeconds), refreshSeconds * 1000)
  }
}

function start(): void {
  const refreshSeconds = Number(document.body.getAttribute('data-refresh-seconds')) || 10
  renderLegend()
  let pending = false
  window.addEventListener('resize', () => {
    if (pending) return
    pending = true
    requestAnimationFrame(() => {
      pending = false
      drawTimelines()
    })
  })
  void refresh(refreshSeconds)
}

// Imported by Node's tests for the formatters: only a page has a document.
if (typeof document !== 'undefined') start()
