/**
 * The mirror as the HTTP API and /metrics show it: sources without the query string of a
 * private list URL (it may carry a token), downloads by state, and the downloads not done.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { displayLocation, fetchBytes, MirrorStore } from '../../src/mirror/index.js'
import { tempDir } from '../helpers.js'
import { apiServer, apiTree } from '../http/fixtures.js'
import { startStaticServer } from './fixtures.js'

test('GET /api/mirror and the mirror series of /metrics', async (t) => {
  const tree = await apiTree(t)
  const store = new MirrorStore(tree.writer)
  const at = '2026-11-25T10:00:00.000Z'
  store.recordSourceList('public', 'https://example.org/dyn/torrents.json', [], [], at)
  store.recordSourceError(
    'private',
    'https://upstream.example/list.json?key=SECRET-TOKEN-123',
    'https://upstream.example/list.json?key=***: HTTP 503',
    at,
  )
  const base = {
    kind: 'meta' as const,
    collection: 'c_records',
    dataSize: 10,
    source: 'public',
    wantedBy: 'sync' as const,
    root: '/srv/r',
  }
  store.queue({ ...base, btih: 'a'.repeat(40), name: 'first' }, at)
  store.queue({ ...base, btih: 'b'.repeat(40), name: 'second' }, at)
  store.queue({ ...base, btih: 'c'.repeat(40), name: 'third' }, at)
  store.setState('b'.repeat(40), 'done', '2026-11-25T11:00:00.000Z')
  store.reject('c'.repeat(40), 'infohash-mismatch', 'not upstream’s', '2026-11-25T12:00:00.000Z')
  const { app } = apiServer(t, tree)

  const r = await app.inject('/api/mirror')
  assert.equal(r.statusCode, 200)
  assert.ok(!r.body.includes('SECRET-TOKEN-123'), 'a token in a list URL never reaches the API')
  const body = JSON.parse(r.body) as {
    sources: Array<{ name: string; location: string; ok: boolean; error: string | null }>
    downloads: Record<string, number>
    pending: Array<{ name: string; state: string; error_code: string | null }>
  }
  assert.deepEqual(
    body.sources.map((s) => [s.name, s.location, s.ok]),
    [
      ['private', 'https://upstream.example/list.json?key=***', false],
      ['public', 'https://example.org/dyn/torrents.json', true],
    ],
  )
  assert.deepEqual(body.downloads, {
    queued: 1,
    downloading: 0,
    verifying: 0,
    placed: 0,
    done: 1,
    rejected: 1,
  })
  assert.deepEqual(
    body.pending.map((p) => [p.name, p.state, p.error_code]),
    [
      ['third', 'rejected', 'infohash-mismatch'],
      ['first', 'queued', null],
    ],
  )

  const metrics = (await app.inject('/metrics')).body
  assert.match(metrics, /^aacseed_mirror_downloads\{state="rejected"\} 1$/m)
  assert.match(metrics, /^aacseed_mirror_downloads\{state="queued"\} 1$/m)
  assert.match(metrics, /^aacseed_mirror_source_up\{source="private"\} 0$/m)
  assert.match(metrics, /^aacseed_mirror_source_up\{source="public"\} 1$/m)
  assert.ok(!metrics.includes('SECRET-TOKEN-123'))
})

test('fetch errors name the URL with its query values redacted', async (t) => {
  const dir = tempDir(t)
  const server = await startStaticServer(t, dir)
  server.failNext('/list.json', 5, 503)
  await assert.rejects(
    fetchBytes(`${server.url}/list.json?key=SECRET-TOKEN-456`, {
      maxBytes: 1000,
      timeoutMs: 2000,
      retries: 1,
      retryBaseMs: 1,
    }),
    (e: Error & { code?: string }) =>
      e.code === 'fetch-failed' &&
      e.message === `${server.url}/list.json?key=***: HTTP 503 Service Unavailable` &&
      !e.message.includes('SECRET'),
  )
  assert.equal(server.requests.length, 2)
  assert.equal(displayLocation('/srv/lists/torrents.json'), '/srv/lists/torrents.json')
  assert.equal(
    displayLocation('https://example.org/a.json?key=SECRET#frag'),
    'https://example.org/a.json?key=***#frag',
  )
})
