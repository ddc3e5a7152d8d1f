/**
 * webtorrent-wire.ts: received messages parse the same, however the reads cut them (real
 * bittorrent-protocol wires; the bytes come from one wire and are fed to another in chunks).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Wire from 'bittorrent-protocol'
import { parseWireReadsInPlace } from '../../src/engines/webtorrent-wire.js'

interface TestWire {
  on(event: string, fn: (...args: unknown[]) => void): void
  write(data: Uint8Array): boolean
  handshake(infoHash: string, peerId: string, extensions?: object): void
  bitfield(b: Uint8Array): void
  unchoke(): void
  have(i: number): void
  port(p: number): void
  destroy(): void
}
const WireClass = Wire as unknown as new (type?: string, peEnabled?: number) => TestWire

/** The bytes a wire sends: a handshake, a 3,000-byte bitfield, an unchoke, 300 haves and a port. */
async function sentBytes(): Promise<Buffer> {
  const a = new WireClass('tcpOutgoing', 0)
  const out: Buffer[] = []
  a.on('data', (d) => out.push(Buffer.from(d as Uint8Array)))
  a.handshake('a'.repeat(40), 'b'.repeat(40), { dht: false })
  a.bitfield(new Uint8Array(3000).fill(0xa5))
  a.unchoke()
  for (let i = 0; i < 300; i++) a.have(i * 7919)
  a.port(6881)
  await new Promise((r) => setTimeout(r, 50))
  a.destroy()
  return Buffer.concat(out)
}

/** What a wire reports when it is fed `bytes` cut into chunks of the sizes `sizes` yields. */
async function received(bytes: Buffer, sizes: () => number): Promise<string[]> {
  const b = new WireClass('tcpIncoming', 0)
  const events: string[] = []
  b.on('handshake', (infoHash, peerId) => events.push(`handshake ${String(infoHash)} ${String(peerId)}`))
  b.on('bitfield', (bf) => {
    const buffer = (bf as { buffer: Uint8Array }).buffer
    events.push(`bitfield ${buffer.length} ${Buffer.from(buffer).toString('hex').slice(0, 16)}`)
  })
  b.on('unchoke', () => events.push('unchoke'))
  b.on('have', (i) => events.push(`have ${String(i)}`))
  b.on('port', (p) => events.push(`port ${String(p)}`))
  for (let at = 0; at < bytes.length;) {
    const n = Math.max(1, sizes())
    // A copy: each chunk is its own buffer, as socket reads are.
    b.write(Uint8Array.from(bytes.subarray(at, at + n)))
    at += n
  }
  await new Promise((r) => setTimeout(r, 50))
  b.destroy()
  return events
}

test('a wire parses the same messages whether a read holds several, part of one, or a byte', async () => {
  assert.equal(
    parseWireReadsInPlace(),
    true,
    'bittorrent-protocol internals changed: the patch is not installed',
  )
  const bytes = await sentBytes()
  const whole = await received(bytes, () => bytes.length)
  // The haves of pieces the bitfield already has are dropped by the wire: 301 events here.
  assert.ok(whole.length > 290, `only ${whole.length} events`)
  assert.equal(whole[1], `bitfield 3000 ${'a5'.repeat(8)}`)
  assert.equal(whole[0], `handshake ${'a'.repeat(40)} ${'b'.repeat(40)}`)
  assert.equal(whole.at(-1), 'port 6881')
  let seed = 7
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return 1 + (seed % 5000)
  }
  for (const [label, sizes] of [
    ['1-byte reads', () => 1],
    ['7-byte reads', () => 7],
    ['4 KiB reads', () => 4096],
    ['reads of 1 to 5,000 bytes', random],
  ] as const)
    assert.deepEqual(await received(bytes, sizes), whole, label)
})
