/**
 * The shape of a daemon's answer, keys and types without the values: what the fleet
 * benchmark's fake daemons are held to. The contract suite records each real daemon's poll
 * answers (info, list, free space) through `RemoteEngineOptions.wireTap` into
 * test/fixtures/wire/<kind>.json; wire-shapes.test.ts checks the fakes' answers against them.
 *
 * Arrays of objects merge their elements' shapes; arrays of mixed primitives (rTorrent's
 * multicall rows) are tuples; objects keyed by infohashes (Deluge's torrent map) are maps.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RemoteKind, WireCall } from '../../src/engines/index.js'
import { REPO_ROOT } from '../helpers.js'

export type Shape =
  string | { tuple: Shape[] } | { array: Shape | null } | { map: Shape } | { [k: string]: Shape }

const HASH_KEY = /^[0-9a-fA-F]{40}$/

export function shapeOf(v: unknown): Shape {
  if (v === null || v === undefined) return 'null'
  if (Array.isArray(v)) {
    if (v.length === 0) return { array: null }
    const shapes = v.map(shapeOf)
    const prims = shapes.every((s) => typeof s === 'string')
    if (prims && new Set(shapes).size > 1) return { tuple: shapes }
    if (shapes.every((s) => typeof s === 'object' && 'tuple' in s)) return { array: shapes[0]! }
    return { array: shapes.reduce(merge) }
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
    if (entries.length > 0 && entries.every(([k]) => HASH_KEY.test(k)))
      return { map: entries.map(([, x]) => shapeOf(x)).reduce(merge) }
    return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, shapeOf(x)]))
  }
  return typeof v === 'bigint' ? 'number' : typeof v
}

function merge(a: Shape, b: Shape): Shape {
  if (typeof a === 'string' || typeof b === 'string')
    return a === b ? a : [...new Set([String(shapeText(a)), String(shapeText(b))])].sort().join('|')
  if ('array' in a && 'array' in b)
    return { array: a.array === null ? b.array : b.array === null ? a.array : merge(a.array, b.array) }
  const out: Record<string, Shape> = { ...(a as Record<string, Shape>) }
  for (const [k, v] of Object.entries(b as Record<string, Shape>)) out[k] = k in out ? merge(out[k]!, v) : v
  return out
}

const shapeText = (s: Shape): string => (typeof s === 'string' ? s : JSON.stringify(s))

/** Where `fake` differs from `real`, one line each; an empty array on either side matches any array. */
export function shapeDiff(real: Shape, fake: Shape, path = '$'): string[] {
  if (typeof real === 'string' || typeof fake === 'string')
    return shapeText(real) === shapeText(fake)
      ? []
      : [`${path}: real ${shapeText(real)}, fake ${shapeText(fake)}`]
  if ('array' in real || 'array' in fake) {
    if (!('array' in real && 'array' in fake))
      return [`${path}: real ${shapeText(real)}, fake ${shapeText(fake)}`]
    if (real.array === null || fake.array === null) return []
    return shapeDiff(real.array, fake.array, `${path}[]`)
  }
  if ('tuple' in real || 'tuple' in fake) {
    const r = (real as { tuple?: Shape[] }).tuple
    const f = (fake as { tuple?: Shape[] }).tuple
    if (!r || !f || r.length !== f.length)
      return [`${path}: real ${shapeText(real)}, fake ${shapeText(fake)}`]
    return r.flatMap((x, i) => shapeDiff(x, f[i]!, `${path}[${i}]`))
  }
  if ('map' in real || 'map' in fake) {
    if (!('map' in real && 'map' in fake))
      return [`${path}: real ${shapeText(real)}, fake ${shapeText(fake)}`]
    return shapeDiff(real.map, fake.map, `${path}{infohash}`)
  }
  const r = real as Record<string, Shape>
  const f = fake as Record<string, Shape>
  const out: string[] = []
  for (const k of Object.keys(r)) {
    if (!(k in f)) out.push(`${path}.${k}: missing from the fake`)
    else out.push(...shapeDiff(r[k]!, f[k]!, `${path}.${k}`))
  }
  for (const k of Object.keys(f)) if (!(k in r)) out.push(`${path}.${k}: only in the fake`)
  return out
}

export interface WireRecord {
  kind: RemoteKind
  /** The daemon's version string when recorded. */
  version: string
  recordedAt: string
  shapes: Record<WireCall, Shape>
  /** One real answer per call (the list cut to one torrent), to read when writing a fake. */
  examples: Record<WireCall, unknown>
}

export const wireFixturePath = (kind: RemoteKind): string =>
  join(REPO_ROOT, 'test', 'fixtures', 'wire', `${kind}.json`)

export function readWireFixture(kind: RemoteKind): WireRecord {
  return JSON.parse(readFileSync(wireFixturePath(kind), 'utf8')) as WireRecord
}

export function writeWireFixture(rec: WireRecord): void {
  writeFileSync(wireFixturePath(rec.kind), `${JSON.stringify(rec, null, 2)}\n`)
}

/** A list answer cut to its first torrent, for the fixture's example. */
export function firstOnly(answer: unknown): unknown {
  if (Array.isArray(answer)) return answer.slice(0, 1)
  if (answer && typeof answer === 'object') {
    const o = answer as Record<string, unknown>
    if (Array.isArray(o.torrents)) return { ...o, torrents: o.torrents.slice(0, 1) }
    const keys = Object.keys(o)
    if (keys.length > 0 && keys.every((k) => HASH_KEY.test(k))) return { [keys[0]!]: o[keys[0]!] }
  }
  return answer
}
