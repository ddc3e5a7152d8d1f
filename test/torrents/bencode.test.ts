import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BencodeError, decode, decodeDict, encode, type BencodeValue } from '../../src/torrents/index.js'

const b = (s: string): Buffer => Buffer.from(s, 'latin1')

function rejects(input: string | Buffer, offset: number, pattern: RegExp, opts = {}): void {
  assert.throws(
    () => decode(typeof input === 'string' ? b(input) : input, opts),
    (e: unknown) => {
      assert.ok(e instanceof BencodeError, `expected a BencodeError, got ${String(e)}`)
      assert.equal(e.code, 'invalid-bencode')
      assert.equal(e.offset, offset, `offset for ${JSON.stringify(String(input).slice(0, 30))}: ${e.message}`)
      assert.match(e.message, pattern)
      return true
    },
  )
}

test('encodes each type canonically', () => {
  assert.equal(encode('spam').toString(), '4:spam')
  assert.equal(encode('').toString(), '0:')
  assert.equal(encode('é').toString('latin1'), '2:\xc3\xa9')
  assert.deepEqual(encode(Buffer.from([0, 255, 58])), Buffer.concat([b('3:'), Buffer.from([0, 255, 58])]))
  assert.equal(encode(0).toString(), 'i0e')
  assert.equal(encode(-42).toString(), 'i-42e')
  assert.equal(encode(2n ** 64n).toString(), 'i18446744073709551616e')
  assert.equal(encode(-(2n ** 63n)).toString(), 'i-9223372036854775808e')
  assert.equal(encode([1, 'a', [[]]]).toString(), 'li1e1:alleee')
  assert.equal(encode({}).toString(), 'de')
  assert.throws(() => encode(1.5), TypeError)
  assert.throws(() => encode(2 ** 53), TypeError)
  assert.throws(() => encode(null as unknown as BencodeValue), TypeError)
})

test('sorts dictionary keys by raw bytes and skips undefined values', () => {
  assert.equal(
    encode({ b: 1, a: 2, B: 3, 'a b': 4, aa: 5 }).toString(),
    'd1:Bi3e1:ai2e3:a bi4e2:aai5e1:bi1ee',
  )
  // U+FF21 is EF BC A1 in UTF-8 and U+1F600 is F0 9F 98 80: bytes put U+FF21 first, while
  // JavaScript's UTF-16 comparison ("\ud83d" < "\uff21") would put the emoji first.
  const enc = encode({ '\u{1F600}': 1, '\uFF21': 2 })
  assert.deepEqual(
    enc,
    Buffer.concat([b('d3:'), Buffer.from('\uFF21'), b('i2e4:'), Buffer.from('\u{1F600}'), b('i1ee')]),
  )
  assert.equal(encode({ z: undefined, a: 1 }).toString(), 'd1:ai1ee')
})

test('round trips nested values, returning byte strings as Buffers', () => {
  const value = {
    announce: 'http://x/a',
    info: {
      files: [{ length: 5, path: ['a', 'b'] }],
      name: 'n',
      'piece length': 32768,
      pieces: Buffer.alloc(20, 7),
    },
    list: [0, -1, 2n ** 70n, ''],
  }
  const enc = encode(value)
  const dec = decode(enc)
  assert.deepEqual(encode(dec), enc)
  const d = dec as Record<string, unknown>
  assert.ok(Buffer.isBuffer(d.announce))
  assert.equal((d.list as unknown[])[2], 2n ** 70n)
  assert.equal((d.list as unknown[])[1], -1)
  assert.equal(Object.getPrototypeOf(d), null)
  assert.equal(decode(b('i9007199254740991e')), 9007199254740991)
  assert.equal(decode(b('i9007199254740992e')), 9007199254740992n)
})

test('decodeDict returns the exact bytes of each top-level value', () => {
  // Unsorted keys inside info: re-encoding would reorder them, the raw bytes must not.
  const info = 'd4:name1:x1:ai1ee'
  const { dict, raw } = decodeDict(b(`d8:announce1:u4:info${info}e`), { allowUnsortedKeys: true })
  assert.equal(raw.get('info')!.toString('latin1'), info)
  assert.equal(raw.get('announce')!.toString('latin1'), '1:u')
  assert.ok(dict.info)
  assert.throws(
    () => decodeDict(b('li1ee')),
    (e: unknown) => e instanceof BencodeError && e.offset === 0,
  )
})

test('rejects non-canonical and malformed input with the byte offset', () => {
  rejects('', 0, /end of input/)
  rejects('i-0e', 0, /non-canonical integer/)
  rejects('i03e', 0, /non-canonical integer/)
  rejects('ie', 0, /non-canonical integer/)
  rejects('i-e', 0, /non-canonical integer/)
  rejects('i+3e', 0, /non-canonical integer/)
  rejects('i1.5e', 0, /non-canonical integer/)
  rejects('i12', 0, /unterminated integer/)
  rejects(`i${'9'.repeat(100)}e`, 0, /integer too long/)
  rejects('li1e', 4, /unterminated list/)
  rejects('li1ei2', 4, /unterminated integer/)
  rejects('i1ei2e', 3, /trailing data/)
  rejects('4:spamx', 6, /trailing data/)
  rejects('03:abc', 0, /leading zero/)
  rejects('3abc', 1, /expected ':'/)
  rejects('5:abc', 0, /runs past the end/)
  rejects('x', 0, /unexpected byte 0x78/)
  rejects('di1ei2ee', 1, /key is not a string/)
  rejects('d1:ai1e', 7, /unterminated dictionary/)
  rejects('d1:b0:1:a0:e', 6, /out of order/)
  rejects('d1:a0:1:a0:e', 6, /duplicate dictionary key/)
  rejects(Buffer.concat([b('d2:'), Buffer.from([0xc3, 0x28]), b('i1ee')]), 1, /not UTF-8/)
})

test('unsorted keys are an option, duplicate keys never', () => {
  assert.deepEqual(Object.keys(decode(b('d1:bi1e1:ai2ee'), { allowUnsortedKeys: true }) as object), [
    'b',
    'a',
  ])
  rejects('d1:bi1e1:ai2e1:bi3ee', 13, /duplicate dictionary key/, { allowUnsortedKeys: true })
})

test('checks a declared length against the input before using it', () => {
  // A 16-digit length is refused outright, a huge one that fits in the digits limit is compared
  // with what is left: neither may allocate or slice past the end.
  rejects('9999999999999999:x', 0, /too long/)
  rejects('999999999999999:x', 0, /runs past the end/)
  rejects('l4294967295:abce', 1, /runs past the end/)
})

test('bounds nesting depth without deep recursion', () => {
  const deep = b('l'.repeat(200_000) + 'e'.repeat(200_000))
  rejects(deep, 32, /nested deeper than 32/)
  rejects(b('llllee' + 'ee'), 2, /nested deeper than 2/, { maxDepth: 2 })
  assert.deepEqual(decode(b('llee'), { maxDepth: 2 }), [[]])
  rejects(b('d1:ad1:ad1:alleeee'), 13, /nested deeper than 4/, { maxDepth: 4 })
})

test('byte-string keys keep binary keys, such as the raw infohashes of a scrape answer', () => {
  const hash = Buffer.from('c3288000ff01020304050607080910111213141516'.slice(0, 40), 'hex')
  const input = Buffer.concat([Buffer.from('d5:filesd20:'), hash, Buffer.from('d8:completei3eeee')])
  assert.throws(() => decode(input), /not UTF-8/)
  const out = decode(input, { byteKeys: true }) as { files: Record<string, { complete: number }> }
  const [key] = Object.keys(out.files)
  assert.deepEqual(Buffer.from(key!, 'latin1'), hash)
  assert.equal(out.files[key!]!.complete, 3)
})
