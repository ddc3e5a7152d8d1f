import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { parse } from 'smol-toml'
import { configSchema, loadConfig } from '../../src/config/index.js'
import { REPO_ROOT } from '../helpers.js'

const EXAMPLE = join(REPO_ROOT, 'config', 'aacseed.example.toml')

function leafKeys(o: unknown, prefix = ''): string[] {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return [prefix]
  const entries = Object.entries(o)
  // An empty table (e.g. path_map = {}) is a leaf setting, not a section.
  if (entries.length === 0) return [prefix]
  return entries.flatMap(([k, v]) => leafKeys(v, prefix ? `${prefix}.${k}` : k))
}

test('the example config loads and documents every setting the schema has', () => {
  const config = loadConfig({ path: EXAMPLE, env: {} })
  assert.equal(config.engine.kind, 'webtorrent')
  const documented = new Set(leafKeys(parse(readFileSync(EXAMPLE, 'utf8'))))
  const schemaKeys = leafKeys(configSchema.parse({}))
  const missing = schemaKeys.filter((k) => !documented.has(k))
  assert.deepEqual(missing, [], `settings missing from config/aacseed.example.toml: ${missing.join(', ')}`)
})

test('the example config states the defaults (file and built-in defaults agree)', () => {
  const fromFile = configSchema.parse(parse(readFileSync(EXAMPLE, 'utf8')))
  assert.deepEqual(fromFile, configSchema.parse({}))
})
