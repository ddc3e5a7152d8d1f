/**
 * Seedbox-to-seedbox replication across kinds, in a network namespace this test makes
 * (`unshare -n`): qBittorrent seeds a release, and Transmission, Deluge and rTorrent each
 * download it from the seedboxes alone (no local engine runs), each daemon on its own address
 * on the namespace's `lo`, so clients that refuse 127.x peers dial each other. Where a
 * namespace cannot be made the test says why; under CI=true that is a failure.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { namespaceReady, runInNamespace } from './netns.js'

test('mixed fleet in a network namespace: kinds replicate one release from a qBittorrent seedbox', async (t) => {
  if (!namespaceReady(t)) return
  const out = await runInNamespace<{
    copies: Record<string, { ms?: number; equal?: boolean; error?: string }>
    uploaded: Record<string, number>
    bytes: number
  }>('mixed-netns-child.js', ['qbittorrent'], 400_000)
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
