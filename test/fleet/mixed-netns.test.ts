/**
 * Seedbox-to-seedbox replication across kinds, in a network namespace this test makes
 * (`unshare -n`): qBittorrent seeds a release, and Transmission, Deluge and rTorrent each
 * download it from the seedboxes alone (no local engine runs), each daemon on its own address
 * on the namespace's `lo`, so clients that refuse 127.x peers dial each other. Where a
 * namespace cannot be made the test says why; under CI=true that is a failure.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { test } from 'node:test'
import { REPO_ROOT, requireTool } from '../helpers.js'

test('mixed fleet in a network namespace: kinds replicate one release from a qBittorrent seedbox', async (t) => {
  for (const tool of [
    'unshare',
    'ip',
    'transmission-daemon',
    'qbittorrent-nox',
    'deluged',
    'deluge-web',
    'rtorrent',
  ])
    if (!requireTool(t, tool)) return
  const probe = spawnSync('unshare', ['-n', 'true'], { encoding: 'utf8' })
  if (probe.status !== 0) {
    const why = `cannot make a network namespace (unshare -n): ${probe.stderr.trim() || `exit ${probe.status}`}`
    if (process.env.CI === 'true') assert.fail(why)
    return t.skip(why)
  }
  const child = join(REPO_ROOT, 'dist', 'test', 'fleet', 'mixed-netns-child.js')
  const r = spawnSync('unshare', ['-n', process.execPath, child, 'qbittorrent'], {
    encoding: 'utf8',
    timeout: 400_000,
  })
  assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}`)
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
    copies: Record<string, { ms?: number; equal?: boolean; error?: string }>
    uploaded: Record<string, number>
    bytes: number
  }
  console.log(`mixed-netns: ${JSON.stringify(out)}`)
  // The seeder's upload is where the new copies' bytes came from: nothing else held them.
  assert.ok(out.uploaded.qbittorrent! >= out.bytes, JSON.stringify(out.uploaded))
  for (const kind of ['transmission', 'deluge', 'rtorrent'])
    assert.deepEqual(
      { kind, equal: out.copies[kind]?.equal },
      { kind, equal: true },
      `${kind}: ${JSON.stringify(out.copies[kind])}`,
    )
})
