/**
 * The dashboard's static parts: the HTML shell, its stylesheet and icon, and the compiled
 * client script (client.ts, next to this file). Everything is served by aacseed itself, so the
 * page works offline: no CDN, no external fonts or scripts. The shell holds no data; the script
 * fills it from the JSON API and refreshes it.
 */
import { readFileSync } from 'node:fs'

/**
 * What the dashboard's script fetches on every refresh. The page preloads them, so they are
 * on their way while the script loads (client.ts asks for exactly these URLs).
 */
export const DASHBOARD_REQUESTS = [
  '/api/coverage',
  '/api/timeline',
  '/api/torrents?at_risk=true&sort=risk&limit=25',
  '/api/seedboxes',
  '/api/jobs?limit=15',
  '/api/problems?limit=25',
  '/healthz',
  '/api/mirror',
  '/api/groups',
] as const

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )
}

export function dashboardHtml(opts: { version: string; refreshSeconds: number }): string {
  const version = escapeHtml(opts.version)
  const refresh = String(Math.max(1, Math.floor(opts.refreshSeconds)))
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>aacseed — seed coverage</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard.css">
<script type="module" src="/dashboard.js"></script>
<link rel="modulepreload" href="/units.js">
${DASHBOARD_REQUESTS.map((u) => `<link rel="preload" href="${escapeHtml(u)}" as="fetch" crossorigin="anonymous">`).join('\n')}
</head>
<body data-refresh-seconds="${refresh}">
<header>
<h1>aacseed <span class="version">${version}</span></h1>
<p class="lead">How safely your Anna's Archive Container releases are kept: on this machine, as torrents, seeded here, on your seedboxes, and in the public swarm.</p>
<p id="status" role="status">Loading…</p>
</header>
<main>
<section id="totals" class="cards" aria-label="totals"></section>
<section id="legend"></section>
<section id="collections"></section>
<div class="columns">
<section id="seeders"></section>
<section id="fleet"></section>
</div>
<section id="risk"></section>
<section id="mirror"></section>
<section id="groups"></section>
<div class="columns">
<section id="jobs"></section>
<section id="problems"></section>
</div>
</main>
<footer>Figures come from <a href="/api/coverage">/api/coverage</a> and the rest of the <a href="/api/collections">JSON API</a>; Prometheus metrics at <a href="/metrics">/metrics</a>.</footer>
<noscript><p>This page needs JavaScript to draw its figures; the same data is at /api/coverage.</p></noscript>
</body>
</html>
`
}

export const DASHBOARD_CSS = `
:root {
  --fg: #1d2327; --muted: #5f6b73; --bg: #f6f7f8; --card: #fff; --line: #d8dde1;
  --s-upstream: #c9ced3; --s-problems: #d64541; --s-held: #f0a030; --s-torrented: #f4d35e;
  --s-seeded: #9ccc65; --s-fleet_1: #43a047; --s-fleet_n: #1b5e20; --gap: #f6c6cf;
  --overlap: #7a4fbf; --conflict: #b3261e;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 1200px; margin: 0 auto; padding: 0 16px; }
header { padding-top: 16px; }
h1 { margin: 0; font-size: 22px; }
h1 .version { font-size: 13px; color: var(--muted); font-weight: normal; }
h2 { font-size: 17px; margin: 24px 0 8px; }
h3 { font-size: 15px; margin: 0 0 4px; overflow-wrap: anywhere; }
h4 { font-size: 13px; margin: 12px 0 4px; }
.lead, .note, .empty, footer { color: var(--muted); }
#status { font-size: 13px; }
.up { color: #1b7a2e; font-weight: 600; }
.down { color: #b3261e; font-weight: 600; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; margin-top: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card-value { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card-label { color: var(--muted); font-size: 12px; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 6px 18px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 2px; border: 1px solid rgba(0,0,0,.15); }
.s-upstream { background: var(--s-upstream); fill: var(--s-upstream); }
.s-problems { background: var(--s-problems); fill: var(--s-problems); }
.s-held { background: var(--s-held); fill: var(--s-held); }
.s-torrented { background: var(--s-torrented); fill: var(--s-torrented); }
.s-seeded { background: var(--s-seeded); fill: var(--s-seeded); }
.s-fleet_1 { background: var(--s-fleet_1); fill: var(--s-fleet_1); }
.s-fleet_n { background: var(--s-fleet_n); fill: var(--s-fleet_n); }
.s-gap { background: repeating-linear-gradient(45deg, var(--gap), var(--gap) 3px, #fff 3px, #fff 6px); }
.s-overlap { background: var(--overlap); height: 5px; }
.collection { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px; margin-bottom: 12px; }
.figures { margin: 0 0 8px; color: var(--muted); font-variant-numeric: tabular-nums; }
.timeline-row { display: flex; align-items: flex-start; gap: 8px; }
.lane-labels { display: flex; flex-direction: column; width: 64px; flex: none; font-size: 11px; color: var(--muted); }
.lane-label { display: flex; align-items: center; }
.rows-1 { height: 18px; } .rows-2 { height: 30px; } .rows-3 { height: 42px; } .rows-4 { height: 54px; }
canvas.timeline { flex: 1; min-width: 0; width: 100%; display: block; background: #fafbfc; border: 1px solid var(--line); cursor: crosshair; }
.axis { display: flex; justify-content: space-between; margin-left: 72px; font-size: 11px; color: var(--muted); }
#tooltip { position: fixed; z-index: 10; max-width: 420px; padding: 6px 8px; background: #1d2327; color: #fff; border-radius: 4px; font-size: 12px; white-space: pre-line; overflow-wrap: anywhere; pointer-events: none; }
#tooltip[hidden] { display: none; }
details { margin-top: 6px; }
summary { cursor: pointer; color: var(--muted); }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 0 24px; }
.bars { display: grid; gap: 6px; }
.bar-row { display: grid; grid-template-columns: 200px 1fr 190px; align-items: center; gap: 8px; }
.hbar { width: 100%; height: 14px; background: #eef0f2; }
.b-lt4 { fill: var(--s-problems); } .b-4to10 { fill: var(--s-torrented); } .b-gt10 { fill: var(--s-fleet_1); } .b-unknown { fill: var(--s-upstream); }
.bar-value { font-variant-numeric: tabular-nums; color: var(--muted); }
table { border-collapse: collapse; width: 100%; background: var(--card); font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td { overflow-wrap: anywhere; }
table.jobs td:nth-child(-n+3) { white-space: nowrap; overflow-wrap: normal; }
code { font-size: 12px; }
.health.h-ok, .outcome.o-ok { color: #1b7a2e; }
.health.h-degraded, .outcome.o-skipped, .outcome.o-interrupted { color: #9a6700; }
.health.h-lost, .outcome.o-failed { color: #b3261e; font-weight: 600; }
footer { padding: 24px 16px; font-size: 12px; }
`

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect x="1" y="9" width="4" height="6" fill="#f0a030"/><rect x="6" y="5" width="4" height="10" fill="#43a047"/><rect x="11" y="1" width="4" height="14" fill="#1b5e20"/></svg>`

/** The compiled client.js; its source map comment dropped (the map is not served). */
export function dashboardScript(): string {
  const js = readFileSync(new URL('./client.js', import.meta.url), 'utf8')
  // Its one import, `../../units.js`, resolves against /dashboard.js to /units.js.
  return withoutSourceMap(js)
}

/** src/units.ts compiled: the byte and share formatting the CLI uses, for the page to import. */
export function unitsScript(): string {
  return withoutSourceMap(readFileSync(new URL('../../units.js', import.meta.url), 'utf8'))
}

function withoutSourceMap(js: string): string {
  return js.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n')
}
