/**
 * The mixed fleet of issue #13 driven through aacseed's `Fleet`: one seedbox of each kind
 * (Transmission, qBittorrent, Deluge, rTorrent), N = 2, over a generated tree, inside a network
 * namespace this test makes (`unshare -n`; mixed-fleet-child.ts runs there and prints what each
 * step saw and how long it took). Placement and health; a SIGKILLed holder; re-placement after
 * the grace period; the new holder downloads from the remaining seedbox holder (the local
 * engine stopped seeding first; its survivor's upload counter shows the bytes); it verifies
 * 100%; the killed daemon returns; reconciliation leaves exactly the planned holders. Where a
 * namespace cannot be made the test says why; under CI=true that is a failure.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { namespaceReady, runInNamespace } from './netns.js'

interface Out {
  kinds: Record<string, string>
  torrents: Array<{ infohash: string; size: number }>
  firstApply: { added: number; failed: unknown[] }
  placed: Record<string, string[]>
  localUploaded: Record<string, number>
  localAfterStop: number
  killed: string
  killedKind: string
  early: { added: number; insideGrace: boolean; status: string }
  replaced: { added: number; failed: unknown[] }
  copies: Array<{
    infohash: string
    size: number
    newHolder: string
    survivor: string
    progress: number
    bytesPresent: number
    state: string
    equal: boolean
    survivorUploadedBefore: number | null
    survivorUploadedAfter: number | null
    localHolds: boolean
    fourthHolds: Array<{ box: string; holds: boolean }>
  }>
  final: Record<string, { planned: string[]; held: string[] }>
  healthyAtEnd: boolean
  timings: Record<string, number>
}

test(
  'mixed fleet through Fleet in a network namespace: place, lose a holder, re-place from a seedbox, reconcile',
  {
    timeout: 1_500_000,
  },
  async (t) => {
    if (!namespaceReady(t)) return
    const out = await runInNamespace<Out>('mixed-fleet-child.js', [], 1_400_000)
    console.log(`mixed-fleet: ${JSON.stringify(out)}`)
    console.log(
      [
        `mixed-fleet timings (ms): ${Object.entries(out.timings)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
        `killed ${out.killed} (${out.killedKind}); new copies: ${out.copies
          .map(
            (c) =>
              `${c.newHolder} got ${c.size} bytes from ${c.survivor} (its upload ${c.survivorUploadedBefore} -> ${c.survivorUploadedAfter}; local engine holds none)`,
          )
          .join('; ')}`,
      ].join('\n'),
    )

    // 1. Placement: every torrent on two distinct seedboxes.
    assert.deepEqual(out.firstApply.failed, [])
    for (const { infohash } of out.torrents) assert.equal(new Set(out.placed[infohash]).size, 2, infohash)
    assert.equal(out.localAfterStop, 0, 'the local engine stopped seeding before the kill')
    // 2. Inside the grace period the killed holder is failing and nothing moves.
    if (out.early.insideGrace) {
      assert.equal(out.early.status, 'failing')
      assert.equal(out.early.added, 0)
    }
    // 3. Re-placed after it.
    assert.ok(out.replaced.added >= 1)
    assert.deepEqual(out.replaced.failed, [])
    const affected = out.torrents.filter((x) => out.placed[x.infohash]!.includes(out.killed))
    assert.ok(affected.length >= 1)
    assert.equal(out.copies.length, affected.length, 'one new holder per torrent the killed seedbox held')
    for (const c of out.copies) {
      // 4. The bytes came from the surviving seedbox: nothing else held them while they moved.
      assert.equal(c.localHolds, false)
      assert.ok(
        c.fourthHolds.every((f) => !f.holds),
        JSON.stringify(c.fourthHolds),
      )
      assert.notEqual(c.newHolder, out.killed)
      assert.ok(
        (c.survivorUploadedAfter ?? 0) - (c.survivorUploadedBefore ?? 0) >= c.size,
        `${c.survivor} uploaded ${c.survivorUploadedBefore} -> ${c.survivorUploadedAfter} for ${c.size} bytes`,
      )
      // 5. Verified to 100%, and the same bytes as the tree.
      assert.deepEqual(
        { state: c.state, progress: c.progress, bytesPresent: c.bytesPresent, equal: c.equal },
        { state: 'seeding', progress: 1, bytesPresent: c.size, equal: true },
      )
    }
    // 7. Exactly the planned holders once the killed daemon is back.
    for (const [h, f] of Object.entries(out.final)) {
      assert.equal(f.planned.length, 2, h)
      assert.deepEqual(f.held, f.planned, h)
    }
    assert.equal(out.healthyAtEnd, true)
  },
)
