/** `parseSize`: disk sizes as operators write them (decimal units, binary ones, bare numbers). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseSize } from '../../src/config/size.js'

test('decimal units are powers of 1000, a bare letter too', () => {
  assert.equal(parseSize('10TB'), 1e13)
  assert.equal(parseSize('10tb'), 1e13)
  assert.equal(parseSize('10T'), 1e13)
  assert.equal(parseSize('500 GB'), 5e11)
  assert.equal(parseSize('7k'), 7000)
  assert.equal(parseSize('3MB'), 3_000_000)
  assert.equal(parseSize('2PB'), 2e15)
  assert.equal(parseSize('1.5T'), 1_500_000_000_000)
})

test('binary units are powers of 1024', () => {
  assert.equal(parseSize('2TiB'), 2 * 2 ** 40)
  assert.equal(parseSize('2tib'), 2 * 2 ** 40)
  assert.equal(parseSize('1KiB'), 1024)
  assert.equal(parseSize('3 MiB'), 3 * 2 ** 20)
  assert.equal(parseSize('500GiB'), 500 * 2 ** 30)
  assert.equal(parseSize('1.5 GiB'), 1.5 * 2 ** 30)
  assert.equal(parseSize('1PiB'), 2 ** 50)
})

test('bare numbers and B are bytes; surrounding spaces are fine; fractions of a byte round down', () => {
  assert.equal(parseSize('0'), 0)
  assert.equal(parseSize('123456789'), 123456789)
  assert.equal(parseSize('42B'), 42)
  assert.equal(parseSize('  64 kb  '), 64_000)
  assert.equal(parseSize('1.9'), 1)
  assert.equal(parseSize('0.0001k'), 0)
})

test('anything else is not a size', () => {
  for (const s of [
    '10XB',
    '-1',
    '-1GB',
    '',
    '   ',
    'TB',
    '1e3',
    '1.',
    '.5T',
    '10 T B',
    '10TBs',
    '1,000',
    '0x10',
    'Infinity',
    'NaN',
    '10 TB extra',
    '5 iB',
  ]) {
    assert.equal(parseSize(s), null, JSON.stringify(s))
  }
})

test('sizes beyond a safe integer are refused, not rounded', () => {
  assert.equal(parseSize('9PB'), 9e15)
  assert.equal(parseSize('9007199254740991'), Number.MAX_SAFE_INTEGER)
  assert.equal(parseSize('9007199254740993'), null)
  assert.equal(parseSize('10PB'), null)
  assert.equal(parseSize('100000PiB'), null)
})

test('a decimal fraction of a unit is exact', () => {
  const cases: Array<[string, number]> = [
    ['4.1GB', 4_100_000_000],
    ['8.2G', 8_200_000_000],
    ['2.01k', 2010],
    ['32.3kB', 32_300],
    ['16.4 GB', 16_400_000_000],
  ]
  for (const [s, want] of cases) assert.equal(parseSize(s), want, s)
})
