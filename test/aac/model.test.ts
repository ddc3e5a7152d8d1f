/**
 * The AAC naming rules of shared/aac-standard.md, one test (at least) per rule. Every rejection
 * asserts the error's stable `code`, so a rule that silently changes its failure mode fails too.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  AACID_MAX_LENGTH,
  AacError,
  META_FILE_EXTENSIONS,
  SHORTUUID_ALPHABET,
  decodeShortuuid,
  encodeShortuuid,
  formatAacId,
  formatDataFolderName,
  formatMetaFileName,
  formatRange,
  formatTimestamp,
  isCollectionName,
  makeRange,
  newAacId,
  newShortuuid,
  parseAacId,
  parseCollection,
  parseDataFolderName,
  parseMetaFileName,
  parseRange,
  parseReleaseName,
  parseShortuuid,
  parseTimestamp,
  parseTorrentFileName,
  rangeContains,
  rangeContainsAacId,
  rangeContainsRange,
  rangeIntersection,
  rangesOverlap,
  timestampFromSeconds,
  torrentFileName,
  type AacErrorCode,
  type AacRange,
} from '../../src/aac/model.js'

/** Asserts that fn throws an AacError with exactly this code. */
function throwsCode(fn: () => unknown, code: AacErrorCode, what?: string): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(e instanceof AacError, `${what ?? 'call'}: expected an AacError, got ${String(e)}`)
      assert.equal(e.code, code, `${what ?? 'call'}: ${e.message}`)
      assert.equal(e.name, 'AacError')
      return true
    },
    what,
  )
}

const EX_RECORD = 'aacid__zlib3_records__20230808T014342Z__22430000__hnyiZz2K44Ur5SBAuAgpg8'
const EX_FILE = 'aacid__zlib3_files__20230808T051503Z__22433983__NRgUGwTJYJpkQjTbz2jA3M'
const EX_DATA_FOLDER = 'annas_archive_data__aacid__zlib3_files__20230808T051503Z--20230808T051504Z'
const EX_META_TORRENT =
  'annas_archive_meta__aacid__zlib3_records__20230808T014342Z--20230808T023702Z.jsonl.zst.torrent'
const EX_DATA_TORRENT = 'annas_archive_data__aacid__zlib3_files__20230808T055130Z--20230808T055131Z.torrent'
const TS = '20230808T014342Z'
const TS_SECONDS = 1691459022 // Date.UTC(2023, 7, 8, 1, 43, 42) / 1000
const UUID = 'hnyiZz2K44Ur5SBAuAgpg8'
const EN_DASH = '\u2013'

const base57 = new RegExp(`^[${SHORTUUID_ALPHABET}]{22}$`)

// ---------------------------------------------------------------------------------------------
describe('collection names', () => {
  test('ASCII letters, digits and single underscores are valid', () => {
    for (const c of [
      'zlib3_records',
      'zlib3_files',
      'ia2_acsmpdf_files',
      'duxiu_records',
      'a',
      'A',
      '0',
      '123',
      '2024',
      'a1_B2_c3',
      'x_1',
    ]) {
      assert.equal(isCollectionName(c), true, c)
      assert.equal(parseCollection(c), c)
    }
  })

  test('double, leading and trailing underscores, empty, non-ASCII and punctuation are invalid', () => {
    for (const c of [
      'a__b',
      'zlib3__records',
      '_a',
      'a_',
      '_',
      '__',
      '',
      'ä',
      'zlib\u00e9',
      'ＡＢ',
      '-',
      'zlib3-records',
      'a b',
      ' a',
      'a ',
      'a.b',
      'a/b',
      'a\\b',
      'a\nb',
      'a\u2013b',
    ]) {
      assert.equal(isCollectionName(c), false, JSON.stringify(c))
      throwsCode(() => parseCollection(c), 'invalid-collection', JSON.stringify(c))
    }
  })
})

// ---------------------------------------------------------------------------------------------
describe('timestamps', () => {
  test('the standard example parses to the right number of seconds', () => {
    assert.deepEqual(parseTimestamp(TS), { text: TS, seconds: TS_SECONDS })
    assert.equal(parseTimestamp(TS).seconds, Date.UTC(2023, 7, 8, 1, 43, 42) / 1000)
    assert.equal(parseTimestamp('19700101T000000Z').seconds, 0)
    assert.equal(parseTimestamp('19700101T000001Z').seconds, 1)
    assert.equal(parseTimestamp('20240229T235959Z').seconds, Date.UTC(2024, 1, 29, 23, 59, 59) / 1000)
    assert.equal(parseTimestamp('20231231T235959Z').seconds + 1, parseTimestamp('20240101T000000Z').seconds)
  })

  test('only real calendar dates and times', () => {
    for (const ok of [
      '20240229T000000Z',
      '20000229T120000Z',
      '20230131T000000Z',
      '20231231T235959Z',
      '20230430T000000Z',
      '20230101T000000Z',
    ]) {
      assert.equal(parseTimestamp(ok).text, ok)
    }
    for (const bad of [
      '20230229T000000Z', // 2023 is not a leap year
      '21000229T000000Z', // nor is 2100
      '20230230T000000Z',
      '20230431T000000Z',
      '20230132T000000Z',
      '20230100T000000Z', // day 0
      '20230001T000000Z', // month 0
      '20231301T000000Z', // month 13
      '20230101T240000Z', // hour 24
      '20230101T006000Z', // minute 60
      '20230101T000060Z', // second 60
      '20230101T999999Z',
    ]) {
      throwsCode(() => parseTimestamp(bad), 'invalid-timestamp', bad)
    }
  })

  test('exactly YYYYMMDDTHHMMSSZ, in UTC', () => {
    for (const bad of [
      '20230808T014342', // no zone
      '20230808T014342z',
      '20230808t014342Z',
      '20230808T014342+0000',
      '20230808T014342+00:00',
      '20230808T014342.000Z',
      '2023-08-08T01:43:42Z',
      '20230808 014342Z',
      '2023080T014342Z',
      '202308081T014342Z',
      '20230808T0143421Z',
      '20230808T014342ZZ',
      ' 20230808T014342Z',
      '20230808T014342Z ',
      '20230808T014342Z\n',
      '\uff12\uff10\uff12\uff13\uff10\uff18\uff10\uff18T014342Z', // full-width digits
      '٢٠٢٣٠٨٠٨T014342Z', // Arabic-Indic digits
      '',
    ]) {
      throwsCode(() => parseTimestamp(bad), 'invalid-timestamp', JSON.stringify(bad))
    }
  })

  test('formatTimestamp writes the compact UTC form and drops milliseconds', () => {
    assert.equal(formatTimestamp(new Date(Date.UTC(2023, 7, 8, 1, 43, 42, 999))), TS)
    assert.equal(formatTimestamp(new Date(0)), '19700101T000000Z')
    assert.match(formatTimestamp(new Date()), /^\d{8}T\d{6}Z$/)
  })

  test('timestampFromSeconds is the inverse of parseTimestamp', () => {
    assert.deepEqual(timestampFromSeconds(TS_SECONDS), { text: TS, seconds: TS_SECONDS })
    for (const s of ['20240229T235959Z', '19700101T000000Z', '20991231T235959Z']) {
      assert.equal(timestampFromSeconds(parseTimestamp(s).seconds).text, s)
    }
  })
})

// ---------------------------------------------------------------------------------------------
describe('shortuuid', () => {
  /**
   * A straightforward reference: Python shortuuid 1.x int_to_string, most significant digit first, padded to
   * 22.
   */
  function reference(n: bigint): string {
    const digits: string[] = []
    while (n > 0n) {
      digits.push(SHORTUUID_ALPHABET.charAt(Number(n % 57n)))
      n = n / 57n
    }
    while (digits.length < 22) digits.push(SHORTUUID_ALPHABET.charAt(0))
    return digits.reverse().join('')
  }
  const uuidInt = (u: string): bigint => BigInt('0x' + u.replace(/-/g, ''))
  const uuidText = (n: bigint): string =>
    n
      .toString(16)
      .padStart(32, '0')
      .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')

  test("the alphabet is the Python library's: 57 distinct sorted characters without 0, 1, I, O, l", () => {
    assert.equal(SHORTUUID_ALPHABET, '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz')
    assert.equal(SHORTUUID_ALPHABET.length, 57)
    assert.equal(new Set(SHORTUUID_ALPHABET).size, 57)
    assert.equal([...SHORTUUID_ALPHABET].sort().join(''), SHORTUUID_ALPHABET)
    for (const ch of '01IOl') assert.equal(SHORTUUID_ALPHABET.includes(ch), false, ch)
  })

  test('hand-derived pairs: int 0, 1, 56, 57, 57^2 and the largest 128-bit value', () => {
    assert.equal(encodeShortuuid(0n), '2222222222222222222222')
    assert.equal(encodeShortuuid(1n), '2222222222222222222223')
    assert.equal(encodeShortuuid(56n), '222222222222222222222z')
    assert.equal(encodeShortuuid(57n), '2222222222222222222232') // "10" in base 57: most significant digit first
    assert.equal(encodeShortuuid(57n * 57n), '2222222222222222222322')
    assert.equal(decodeShortuuid('2222222222222222222232'), 57n)
    assert.equal(encodeShortuuid((1n << 128n) - 1n).length, 22) // ceil(log57(2^128)) = 22: every UUID fits
  })

  test('known pairs from Python shortuuid 1.x (computed outside this code base)', () => {
    // shortuuid.encode(uuid.UUID(u)); the first pair is the Python library's own README example.
    const pairs: [string, string][] = [
      ['6ca4f0f8-2508-4bac-b8f1-5d1e3da2247a', 'MLpZDiEXM4VsUryR9oE8uc'],
      ['b9efce8a-592d-47d8-8e5b-7ad8660dc7d1', 'b6gfdRiWudHWmJTM8KLVSH'],
      ['05ef55cd-f0e4-4676-852a-765a6c384fcc', '35CmZN4rnaumi7bEMJ9Z7v'],
      ['12345678-1234-5678-1234-567812345678', '5FdNqEYASQvT6ZhBtUuVoV'],
      ['00000000-0000-0000-0000-000000000000', '2222222222222222222222'],
      ['ffffffff-ffff-ffff-ffff-ffffffffffff', 'oZEq7ovRbLq6UnGMPwc8B5'],
      // The shortuuids of the standard's example records decode to version-4 RFC 4122 UUIDs, which
      // only happens when they are read most significant digit first, as Python shortuuid 1.x writes them.
      ['dfa21c02-390d-4b26-92bf-503393d8c2ff', 'hnyiZz2K44Ur5SBAuAgpg8'],
      ['72be69f4-d71b-4ecb-a5f7-cfedba846ea3', 'NRgUGwTJYJpkQjTbz2jA3M'],
    ]
    for (const [u, s] of pairs) {
      assert.equal(encodeShortuuid(uuidInt(u)), s, u)
      assert.equal(reference(uuidInt(u)), s, `reference ${u}`)
      assert.equal(uuidText(decodeShortuuid(s)), u, s)
    }
  })

  test('encode matches the reference and round-trips over many values', () => {
    let x = 0x9e3779b97f4a7c15f39cc0605cedc834n
    for (let i = 0; i < 500; i++) {
      x = (x * 6364136223846793005n + 1442695040888963407n) & ((1n << 128n) - 1n)
      const n = i % 50 === 0 ? x >> BigInt(i % 128) : x // include short values that need padding
      const s = encodeShortuuid(n)
      assert.equal(s, reference(n))
      assert.equal(s.length, 22)
      assert.equal(decodeShortuuid(s), n)
    }
  })

  test('newShortuuid: 22 base57 characters of a version-4 RFC 4122 UUID, different every time', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 200; i++) {
      const s = newShortuuid()
      assert.match(s, base57)
      const n = decodeShortuuid(s)
      assert.ok(n < 1n << 128n)
      assert.equal((n >> 76n) & 0xfn, 4n, `version nibble of ${uuidText(n)}`)
      assert.equal((n >> 62n) & 0x3n, 2n, `variant bits of ${uuidText(n)}`)
      assert.equal(uuidText(n)[14], '4')
      assert.ok('89ab'.includes(uuidText(n)[19]!))
      assert.equal(encodeShortuuid(n), s)
      seen.add(s)
    }
    assert.equal(seen.size, 200)
  })

  test('decode rejects characters outside the base57 alphabet', () => {
    for (const s of ['0', '1', 'I', 'O', 'l', 'abc-def', 'ä', '222222222222222222222_']) {
      throwsCode(() => decodeShortuuid(s), 'invalid-shortuuid', s)
    }
  })

  test('parseShortuuid accepts any [0-9A-Za-z]+ and nothing else', () => {
    for (const s of [UUID, '0', 'lIO01', 'abcXYZ0123456789']) assert.equal(parseShortuuid(s), s)
    for (const s of ['', 'abc-def', 'abc_def', 'abc def', 'ä', 'abc\n'])
      throwsCode(() => parseShortuuid(s), 'invalid-shortuuid', JSON.stringify(s))
  })
})

// ---------------------------------------------------------------------------------------------
describe('AACIDs', () => {
  test("the standard's example AACIDs (5-part form)", () => {
    assert.deepEqual(parseAacId(EX_RECORD), {
      text: EX_RECORD,
      collection: 'zlib3_records',
      timestamp: { text: TS, seconds: TS_SECONDS },
      id: '22430000',
      shortuuid: 'hnyiZz2K44Ur5SBAuAgpg8',
    })
    const f = parseAacId(EX_FILE)
    assert.equal(f.collection, 'zlib3_files')
    assert.equal(f.timestamp.text, '20230808T051503Z')
    assert.equal(f.timestamp.seconds, Date.UTC(2023, 7, 8, 5, 15, 3) / 1000)
    assert.equal(f.id, '22433983')
    assert.equal(f.shortuuid, 'NRgUGwTJYJpkQjTbz2jA3M')
  })

  test('the 4-part form has no id', () => {
    const s = `aacid__zlib3_records__${TS}__${UUID}`
    assert.deepEqual(parseAacId(s), {
      text: s,
      collection: 'zlib3_records',
      timestamp: { text: TS, seconds: TS_SECONDS },
      id: null,
      shortuuid: UUID,
    })
  })

  test('everything between the timestamp and the shortuuid is the id, even with _ and __ inside', () => {
    const cases: [string, string][] = [
      ['ab_cd', `aacid__c__${TS}__ab_cd__${UUID}`],
      ['a__b', `aacid__c__${TS}__a__b__${UUID}`],
      ['a__b__c', `aacid__c__${TS}__a__b__c__${UUID}`],
      ['a___b', `aacid__c__${TS}__a___b__${UUID}`],
      ['a____b', `aacid__c__${TS}__a____b__${UUID}`],
      ['_x', `aacid__c__${TS}___x__${UUID}`],
      ['__x', `aacid__c__${TS}____x__${UUID}`],
      ['isbn:978-3-16-148410-0', `aacid__c__${TS}__isbn:978-3-16-148410-0__${UUID}`],
    ]
    for (const [id, s] of cases) {
      const a = parseAacId(s)
      assert.equal(a.id, id, s)
      assert.equal(a.collection, 'c')
      assert.equal(a.timestamp.text, TS)
      assert.equal(a.shortuuid, UUID)
      assert.equal(formatAacId(a.collection, a.timestamp.text, a.id, a.shortuuid), s)
    }
  })

  test('collection names with single underscores and digits', () => {
    const a = parseAacId(`aacid__ia2_acsmpdf_files__${TS}__x__${UUID}`)
    assert.equal(a.collection, 'ia2_acsmpdf_files')
    assert.equal(parseAacId(`aacid__2024__${TS}__${UUID}`).collection, '2024')
  })

  test('150 characters are accepted, 151 rejected as aacid-too-long', () => {
    const prefix = `aacid__c__${TS}__`
    const suffix = `__${UUID}`
    const at = (len: number): string => prefix + 'x'.repeat(len - prefix.length - suffix.length) + suffix
    assert.equal(at(150).length, 150)
    assert.equal(AACID_MAX_LENGTH, 150)
    assert.equal(parseAacId(at(150)).text, at(150))
    throwsCode(() => parseAacId(at(151)), 'aacid-too-long')
    throwsCode(() => parseAacId(at(400)), 'aacid-too-long')
    // The 4-part form has the same limit.
    const four150 = `aacid__${'c'.repeat(150 - `aacid____${TS}__${UUID}`.length)}__${TS}__${UUID}`
    assert.equal(four150.length, 150)
    assert.equal(parseAacId(four150).id, null)
    throwsCode(() => parseAacId(`aacid__c${four150.slice('aacid__'.length)}`), 'aacid-too-long')
  })

  test('bad shortuuid characters are invalid-shortuuid', () => {
    for (const u of ['abc-def', 'abc!', 'ä', 'abc def', '_' + UUID]) {
      throwsCode(() => parseAacId(`aacid__c__${TS}__123__${u}`), 'invalid-shortuuid', u)
    }
    // An id ending in `_` merges into the separator and leaves a `_` on the shortuuid.
    throwsCode(() => parseAacId(`aacid__c__${TS}__abc___${UUID}`), 'invalid-shortuuid')
    throwsCode(() => parseAacId(`aacid__c__${TS}__`), 'invalid-shortuuid')
  })

  test('a bad collection or timestamp inside an AACID', () => {
    for (const c of ['_c', 'c-d', 'ä', 'c d', ''])
      throwsCode(() => parseAacId(`aacid__${c}__${TS}__1__${UUID}`), 'invalid-collection', c)
    for (const t of ['20230229T000000Z', '20230808T014342', '2023-08-08T01:43:42Z', 'x', '']) {
      throwsCode(() => parseAacId(`aacid__c__${t}__1__${UUID}`), 'invalid-timestamp', t)
    }
    // `a__b` as a collection shifts every part: the "timestamp" is then `b`.
    throwsCode(() => parseAacId(`aacid__a__b__${TS}__1__${UUID}`), 'invalid-timestamp')
  })

  test('wrong shape is invalid-aacid', () => {
    for (const s of [
      '',
      'aacid',
      `aacid__c__${TS}`,
      `aacid__c`,
      `AACID__c__${TS}__${UUID}`,
      `aacid_c_${TS}_${UUID}`,
      `xaacid__c__${TS}__${UUID}`,
      `__c__${TS}__${UUID}`,
      `aacid__c__${TS}____${UUID}`, // empty id
      `aacid__c__${TS}__a b__${UUID}`,
      `aacid__c__${TS}__a/b__${UUID}`,
      `aacid__c__${TS}__a\\b__${UUID}`,
      `aacid__c__${TS}__\u00e9__${UUID}`,
      `aacid__c__${TS}__a\tb__${UUID}`,
    ]) {
      throwsCode(() => parseAacId(s), 'invalid-aacid', JSON.stringify(s))
    }
  })

  test('formatAacId writes both forms', () => {
    assert.equal(formatAacId('zlib3_records', TS, '22430000', 'hnyiZz2K44Ur5SBAuAgpg8'), EX_RECORD)
    assert.equal(formatAacId('c', TS, null, UUID), `aacid__c__${TS}__${UUID}`)
  })

  describe('newAacId', () => {
    // aacid__c__{TS}__{id}__{UUID}: 150 - 7 - 1 - 2 - 16 - 2 - 2 - 22 = 98 characters of room for the id.
    const ROOM = 98

    test('keeps a short id and always parses back', () => {
      const a = newAacId('zlib3_records', {
        id: '22430000',
        timestamp: TS,
        shortuuid: 'hnyiZz2K44Ur5SBAuAgpg8',
      })
      assert.equal(a.text, EX_RECORD)
      assert.deepEqual(parseAacId(a.text), a)
      const b = newAacId('c', { id: 'a__b_c', timestamp: TS, shortuuid: UUID })
      assert.equal(b.id, 'a__b_c')
    })

    test('defaults: no id, the current time, a fresh base57 shortuuid', () => {
      const before = Math.floor(Date.now() / 1000)
      const a = newAacId('zlib3_records')
      const after = Math.ceil(Date.now() / 1000)
      assert.equal(a.id, null)
      assert.equal(a.collection, 'zlib3_records')
      assert.ok(a.timestamp.seconds >= before && a.timestamp.seconds <= after, a.timestamp.text)
      assert.match(a.shortuuid, base57)
      assert.equal(newAacId('c', { id: null, timestamp: TS }).id, null)
      assert.notEqual(newAacId('c').shortuuid, newAacId('c').shortuuid)
    })

    test('truncates a long id to exactly 150 characters', () => {
      const a = newAacId('c', { id: 'a'.repeat(500), timestamp: TS, shortuuid: UUID })
      assert.equal(a.text.length, 150)
      assert.equal(a.id, 'a'.repeat(ROOM))
      assert.equal(a.shortuuid, UUID)
      assert.deepEqual(parseAacId(a.text), a)
      // One character more than fits, and exactly what fits.
      assert.equal(
        newAacId('c', { id: 'b'.repeat(ROOM + 1), timestamp: TS, shortuuid: UUID }).id,
        'b'.repeat(ROOM),
      )
      assert.equal(newAacId('c', { id: 'b'.repeat(ROOM), timestamp: TS, shortuuid: UUID }).text.length, 150)
    })

    test('a cut never leaves a trailing _ that would merge into the __ separator', () => {
      const single = newAacId('c', {
        id: 'a'.repeat(ROOM - 1) + '_' + 'b'.repeat(20),
        timestamp: TS,
        shortuuid: UUID,
      })
      assert.equal(single.id, 'a'.repeat(ROOM - 1))
      assert.ok(!single.text.includes('___'), single.text)
      assert.equal(single.shortuuid, UUID)
      const double = newAacId('c', { id: 'a'.repeat(ROOM - 2) + '__b', timestamp: TS, shortuuid: UUID })
      assert.equal(double.id, 'a'.repeat(ROOM - 2))
      assert.deepEqual(parseAacId(double.text), double)
      // An id that ends in `_` even without a cut.
      assert.equal(newAacId('c', { id: 'abc_', timestamp: TS, shortuuid: UUID }).id, 'abc')
    })

    test('drops the id when nothing of it fits', () => {
      for (const id of ['', '_', '___', '_'.repeat(300)]) {
        const a = newAacId('c', { id, timestamp: TS, shortuuid: UUID })
        assert.equal(a.id, null, JSON.stringify(id))
        assert.equal(a.text, `aacid__c__${TS}__${UUID}`)
      }
      // A collection name that leaves no room: 4-part form, still within the limit.
      for (const len of [99, 100, 101]) {
        const coll = 'c'.repeat(len)
        const a = newAacId(coll, { id: '12345', timestamp: TS, shortuuid: UUID })
        assert.equal(a.id, null, `collection of ${len}`)
        assert.equal(a.text, `aacid__${coll}__${TS}__${UUID}`)
        assert.ok(a.text.length <= 150)
        assert.deepEqual(parseAacId(a.text), a)
      }
      // One character of room: the id keeps one character.
      assert.equal(newAacId('c'.repeat(98), { id: '12345', timestamp: TS, shortuuid: UUID }).id, '1')
      assert.equal(newAacId('c'.repeat(98), { id: '12345', timestamp: TS, shortuuid: UUID }).text.length, 150)
    })

    test('a collection too long even without an id is aacid-too-long', () => {
      // aacid__{101 chars}__{TS}__{UUID} is exactly 150 characters.
      assert.equal(newAacId('c'.repeat(101), { id: null, timestamp: TS, shortuuid: UUID }).text.length, 150)
      throwsCode(
        () => newAacId('c'.repeat(102), { id: null, timestamp: TS, shortuuid: UUID }),
        'aacid-too-long',
      )
      throwsCode(
        () => newAacId('c'.repeat(102), { id: 'x', timestamp: TS, shortuuid: UUID }),
        'aacid-too-long',
      )
    })

    test('any id of any length and underscore pattern gives an AACID that parses back to a prefix of it', () => {
      let seed = 12345
      const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n)
      for (let i = 0; i < 2000; i++) {
        const len = rnd(160)
        let id = ''
        for (let j = 0; j < len; j++) id += rnd(3) === 0 ? '_' : 'abc123'.charAt(rnd(6))
        const coll = ['c', 'zlib3_records', 'x'.repeat(rnd(100) + 1)][rnd(3)]!
        const a = newAacId(coll, { id, timestamp: TS, shortuuid: UUID })
        assert.ok(a.text.length <= 150, a.text)
        assert.deepEqual(parseAacId(a.text), a)
        assert.equal(a.collection, coll)
        assert.equal(a.shortuuid, UUID)
        if (a.id !== null) {
          assert.ok(id.startsWith(a.id), `${a.id} is not a prefix of ${id}`)
          assert.ok(!a.id.endsWith('_'))
        }
        // Truncation only when needed: an id that fits (after trailing `_`) is kept whole.
        const fitting = id.replace(/_+$/, '')
        if (`aacid__${coll}__${TS}__${fitting}__${UUID}`.length <= 150 && fitting !== '')
          assert.equal(a.id, fitting)
      }
    })

    test('rejects a bad collection, timestamp or shortuuid', () => {
      throwsCode(() => newAacId('a__b', { timestamp: TS }), 'invalid-collection')
      throwsCode(() => newAacId('', { timestamp: TS }), 'invalid-collection')
      throwsCode(() => newAacId('c', { timestamp: '20230229T000000Z' }), 'invalid-timestamp')
      throwsCode(() => newAacId('c', { timestamp: '2023-08-08T01:43:42Z' }), 'invalid-timestamp')
      throwsCode(() => newAacId('c', { timestamp: TS, shortuuid: 'a-b' }), 'invalid-shortuuid')
      throwsCode(() => newAacId('c', { timestamp: TS, id: 'a/b' }), 'invalid-aacid')
    })
  })
})

// ---------------------------------------------------------------------------------------------
describe('AACID ranges', () => {
  const R = (from: string, to: string, collection = 'c'): AacRange => makeRange(collection, from, to)

  test('both -- and the en dash U+2013, inclusive bounds as timestamps', () => {
    for (const sep of ['--', EN_DASH]) {
      const r = parseRange(`aacid__zlib3_records__20230808T014342Z${sep}20230808T023702Z`)
      assert.deepEqual(r, {
        collection: 'zlib3_records',
        from: { text: '20230808T014342Z', seconds: TS_SECONDS },
        to: { text: '20230808T023702Z', seconds: Date.UTC(2023, 7, 8, 2, 37, 2) / 1000 },
      })
      assert.equal(formatRange(r), 'aacid__zlib3_records__20230808T014342Z--20230808T023702Z')
    }
  })

  test('formatRange always writes --', () => {
    const r = parseRange(`aacid__c__20230808T014342Z${EN_DASH}20230808T014343Z`)
    assert.equal(formatRange(r), 'aacid__c__20230808T014342Z--20230808T014343Z')
    assert.ok(!formatRange(r).includes(EN_DASH))
  })

  test('from == to is a one-second range', () => {
    const r = parseRange(`aacid__c__${TS}--${TS}`)
    assert.equal(r.from.seconds, r.to.seconds)
    assert.equal(rangeContains(r, parseTimestamp(TS)), true)
    assert.equal(rangeContains(r, timestampFromSeconds(TS_SECONDS + 1)), false)
  })

  test('a reversed range is range-reversed', () => {
    throwsCode(() => parseRange('aacid__c__20230808T014342Z--20230808T014341Z'), 'range-reversed')
    throwsCode(() => parseRange(`aacid__c__20240101T000000Z${EN_DASH}20231231T235959Z`), 'range-reversed')
    throwsCode(() => makeRange('c', '20240101T000000Z', '20231231T235959Z'), 'range-reversed')
  })

  test('malformed ranges', () => {
    for (const s of [
      '',
      `aacid__c__${TS}`,
      `aacid__c__${TS}-${TS}`, // one hyphen
      `aacid__c__${TS}\u2014${TS}`, // em dash
      `aacid__c__${TS}---${TS}`,
      `aacid__c__${TS}__${TS}`,
      `aacid__c__${TS}--${TS}--${TS}`,
      `aacid__c__${TS}--`,
      `aacid__c__--${TS}`,
      `aacid__c__${TS} -- ${TS}`,
      `aacid__c__2023-08-08T01:43:42Z--${TS}`,
      `aacid__c__${TS}--20230808T014342`,
      `aacid__c__${TS}--${TS}.jsonl.zst`,
      `aacid__c__${TS}--${TS}\n`,
      `aacid____${TS}--${TS}`,
      `aacid___c__${TS}--${TS}`,
      `AACID__c__${TS}--${TS}`,
      `c__${TS}--${TS}`,
    ]) {
      assert.throws(
        () => parseRange(s),
        (e: unknown) =>
          e instanceof AacError &&
          ['invalid-range', 'invalid-collection', 'invalid-timestamp'].includes(e.code),
        JSON.stringify(s),
      )
    }
    throwsCode(() => parseRange(`aacid__c__${TS}-${TS}`), 'invalid-range')
    throwsCode(() => parseRange(`aacid__c__${TS}`), 'invalid-range')
  })

  test('bad collection or impossible timestamps inside a range', () => {
    throwsCode(() => parseRange(`aacid__a__b__${TS}--${TS}`), 'invalid-collection')
    throwsCode(() => parseRange(`aacid__a___${TS}--${TS}`), 'invalid-collection')
    throwsCode(() => parseRange(`aacid__c-d__${TS}--${TS}`), 'invalid-collection')
    throwsCode(() => parseRange(`aacid__c__20230229T000000Z--${TS}`), 'invalid-timestamp')
    throwsCode(() => parseRange(`aacid__c__${TS}--20231301T000000Z`), 'invalid-timestamp')
    throwsCode(() => makeRange('a__b', TS, TS), 'invalid-collection')
  })

  test('rangeContains is inclusive at both bounds and excludes one second outside', () => {
    const r = R('20230808T014342Z', '20230808T023702Z')
    assert.equal(rangeContains(r, parseTimestamp('20230808T014342Z')), true)
    assert.equal(rangeContains(r, parseTimestamp('20230808T023702Z')), true)
    assert.equal(rangeContains(r, parseTimestamp('20230808T020000Z')), true)
    assert.equal(rangeContains(r, parseTimestamp('20230808T014341Z')), false)
    assert.equal(rangeContains(r, parseTimestamp('20230808T023703Z')), false)
  })

  test('rangeContainsAacId needs the same collection as well as the time', () => {
    const r = R('20230808T051503Z', '20230808T051504Z', 'zlib3_files')
    assert.equal(rangeContainsAacId(r, parseAacId(EX_FILE)), true)
    assert.equal(rangeContainsAacId(r, parseAacId(`aacid__zlib3_files__20230808T051504Z__${UUID}`)), true)
    assert.equal(rangeContainsAacId(r, parseAacId(`aacid__zlib3_files__20230808T051505Z__${UUID}`)), false)
    assert.equal(rangeContainsAacId(r, parseAacId(`aacid__zlib3_files__20230808T051502Z__${UUID}`)), false)
    // Collection mismatch: same time, other collection (the records and files of one library).
    assert.equal(
      rangeContainsAacId(r, parseAacId(`aacid__zlib3_records__20230808T051503Z__22433983__${UUID}`)),
      false,
    )
    assert.equal(rangeContainsAacId(R(TS, TS, 'zlib3_files'), parseAacId(EX_RECORD)), false)
    assert.equal(rangeContainsAacId(R(TS, TS, 'zlib3'), parseAacId(EX_RECORD)), false)
  })

  test('rangeContainsRange', () => {
    const outer = R('20230101T000000Z', '20231231T235959Z')
    assert.equal(rangeContainsRange(outer, outer), true)
    assert.equal(rangeContainsRange(outer, R('20230101T000000Z', '20230101T000000Z')), true)
    assert.equal(rangeContainsRange(outer, R('20231231T235959Z', '20231231T235959Z')), true)
    assert.equal(rangeContainsRange(outer, R('20230601T000000Z', '20230701T000000Z')), true)
    assert.equal(rangeContainsRange(outer, R('20221231T235959Z', '20230601T000000Z')), false)
    assert.equal(rangeContainsRange(outer, R('20230601T000000Z', '20240101T000000Z')), false)
    assert.equal(rangeContainsRange(R('20230601T000000Z', '20230701T000000Z'), outer), false)
    assert.equal(rangeContainsRange(outer, R('20230601T000000Z', '20230701T000000Z', 'd')), false)
  })

  test('rangesOverlap: inclusive, adjacent ranges sharing a second overlap, one second apart do not', () => {
    const a = R('20230808T010000Z', '20230808T020000Z')
    assert.equal(rangesOverlap(a, a), true)
    assert.equal(rangesOverlap(a, R('20230808T020000Z', '20230808T030000Z')), true) // share 02:00:00
    assert.equal(rangesOverlap(R('20230808T000000Z', '20230808T010000Z'), a), true) // share 01:00:00
    assert.equal(rangesOverlap(a, R('20230808T020001Z', '20230808T030000Z')), false)
    assert.equal(rangesOverlap(R('20230808T000000Z', '20230808T005959Z'), a), false)
    assert.equal(rangesOverlap(a, R('20230808T013000Z', '20230808T013000Z')), true) // contained
    assert.equal(rangesOverlap(R('20230808T000000Z', '20230808T030000Z'), a), true) // containing
    // Symmetric.
    for (const b of [R('20230808T020000Z', '20230808T030000Z'), R('20230808T020001Z', '20230808T030000Z')]) {
      assert.equal(rangesOverlap(a, b), rangesOverlap(b, a))
    }
  })

  test('different collections never overlap or intersect', () => {
    const a = R(TS, TS, 'zlib3_records')
    const b = R(TS, TS, 'zlib3_files')
    assert.equal(rangesOverlap(a, b), false)
    assert.equal(rangeIntersection(a, b), null)
  })

  test('rangeIntersection is the inclusive common part, or null', () => {
    const a = R('20230808T010000Z', '20230808T020000Z')
    assert.deepEqual(
      rangeIntersection(a, R('20230808T013000Z', '20230808T030000Z')),
      R('20230808T013000Z', '20230808T020000Z'),
    )
    assert.deepEqual(
      rangeIntersection(R('20230808T013000Z', '20230808T030000Z'), a),
      R('20230808T013000Z', '20230808T020000Z'),
    )
    assert.deepEqual(
      rangeIntersection(a, R('20230808T020000Z', '20230808T030000Z')),
      R('20230808T020000Z', '20230808T020000Z'),
    )
    assert.deepEqual(rangeIntersection(a, R('20230808T000000Z', '20230808T030000Z')), a)
    assert.deepEqual(rangeIntersection(a, a), a)
    assert.equal(rangeIntersection(a, R('20230808T020001Z', '20230808T030000Z')), null)
  })
})

// ---------------------------------------------------------------------------------------------
describe('release names', () => {
  const range = `aacid__zlib3_records__20230808T014342Z--20230808T023702Z`
  const expectedRange = makeRange('zlib3_records', '20230808T014342Z', '20230808T023702Z')

  test('metadata files with each extension', () => {
    for (const ext of ['.jsonl.zst', '.jsonl.zstd', '.jsonl.seekable.zst'] as const) {
      const name = `annas_archive_meta__${range}${ext}`
      assert.deepEqual(parseMetaFileName(name), {
        kind: 'meta',
        name,
        prefix: 'annas_archive',
        range: expectedRange,
        extension: ext,
      })
      assert.equal(formatMetaFileName('annas_archive', expectedRange, ext), name)
    }
    assert.deepEqual([...META_FILE_EXTENSIONS].sort(), ['.jsonl.seekable.zst', '.jsonl.zst', '.jsonl.zstd'])
    assert.equal(formatMetaFileName('annas_archive', expectedRange), `annas_archive_meta__${range}.jsonl.zst`)
  })

  test('any institution prefix', () => {
    for (const prefix of [
      'my_institute',
      'annas_archive',
      'x',
      'Lib2',
      'a_b_c_d',
      'meta',
      'data',
      'my_data',
      'my_meta_org',
    ]) {
      const meta = parseMetaFileName(`${prefix}_meta__${range}.jsonl.zst`)
      assert.equal(meta.prefix, prefix)
      assert.deepEqual(meta.range, expectedRange)
      const data = parseDataFolderName(`${prefix}_data__${range}`)
      assert.equal(data.prefix, prefix)
      assert.deepEqual(data.range, expectedRange)
    }
  })

  test('the en dash variant parses, keeps its name, and formats back with --', () => {
    const name = `my_institute_meta__aacid__zlib3_records__20230808T014342Z${EN_DASH}20230808T023702Z.jsonl.zstd`
    const m = parseMetaFileName(name)
    assert.equal(m.name, name)
    assert.equal(m.prefix, 'my_institute')
    assert.deepEqual(m.range, expectedRange)
    assert.equal(formatMetaFileName(m.prefix, m.range, m.extension), `my_institute_meta__${range}.jsonl.zstd`)
    const dname = `annas_archive_data__aacid__zlib3_files__20230808T051503Z${EN_DASH}20230808T051504Z`
    const d = parseDataFolderName(dname)
    assert.equal(d.name, dname)
    assert.equal(formatDataFolderName(d.prefix, d.range), EX_DATA_FOLDER)
    assert.equal(torrentFileName(d), dname + '.torrent') // the original name plus .torrent
  })

  test("data folders, including the standard's example and its blob", () => {
    const d = parseDataFolderName(EX_DATA_FOLDER)
    assert.deepEqual(d, {
      kind: 'data',
      name: EX_DATA_FOLDER,
      prefix: 'annas_archive',
      range: makeRange('zlib3_files', '20230808T051503Z', '20230808T051504Z'),
    })
    assert.equal(formatDataFolderName('annas_archive', d.range), EX_DATA_FOLDER)
    // The example record's blob lives in this folder: same collection, timestamp inside the range.
    assert.equal(rangeContainsAacId(d.range, parseAacId(EX_FILE)), true)
    assert.equal(rangeContainsAacId(d.range, parseAacId(EX_RECORD)), false)
  })

  test('parseReleaseName tells files from folders', () => {
    assert.equal(parseReleaseName(`annas_archive_meta__${range}.jsonl.zst`, false).kind, 'meta')
    assert.equal(parseReleaseName(EX_DATA_FOLDER, true).kind, 'data')
    throwsCode(() => parseReleaseName(EX_DATA_FOLDER, false), 'invalid-meta-file-name')
    throwsCode(
      () => parseReleaseName(`annas_archive_meta__${range}.jsonl.zst`, true),
      'invalid-data-folder-name',
    )
  })

  test('metadata file names that are rejected', () => {
    for (const name of [
      `annas_archive_meta__${range}.jsonl.gz`,
      `annas_archive_meta__${range}.jsonl`,
      `annas_archive_meta__${range}.zst`,
      `annas_archive_meta__${range}.json.zst`,
      `annas_archive_meta__${range}.JSONL.ZST`,
      `annas_archive_meta__${range}`,
      `annas_archive_meta__${range}.jsonl.zst.torrent`,
      `annas_archive_data__${range}.jsonl.zst`, // a data folder name as metadata
      `meta__${range}.jsonl.zst`, // missing prefix
      `_meta__${range}.jsonl.zst`,
      `${range}.jsonl.zst`,
      `annas__archive_meta__${range}.jsonl.zst`,
      `annas-archive_meta__${range}.jsonl.zst`,
      `annas_archive_meta_${range}.jsonl.zst`,
      `annas_archive_meta__aacid__zlib3_records__20230808T014342Z.jsonl.zst`, // a timestamp, not a range
      `annas_archive_meta__aacid__zlib3_records__20230808T014342Z-20230808T023702Z.jsonl.zst`,
      `annas_archive_meta__aacid__zlib3_records__20230229T014342Z--20230808T023702Z.jsonl.zst`, // bad date inside
      `annas_archive_meta__aacid__zlib3__records__20230808T014342Z--20230808T023702Z.jsonl.zst`, // bad collection inside
      `annas_archive_meta__${EX_RECORD}.jsonl.zst`, // an AACID, not a range
    ]) {
      throwsCode(() => parseMetaFileName(name), 'invalid-meta-file-name', name)
    }
    throwsCode(
      () => parseMetaFileName('annas_archive_meta__aacid__c__20230808T023702Z--20230808T014342Z.jsonl.zst'),
      'range-reversed',
    )
  })

  test('data folder names that are rejected', () => {
    for (const name of [
      `annas_archive_meta__${range}`,
      `annas_archive_data__${range}.jsonl.zst`,
      `annas_archive_data__${range}/`,
      `data__${range}`,
      `_data__${range}`,
      `annas_archive_data__aacid__zlib3_files__20230808T051503Z`,
      `annas_archive_data__aacid__zlib3_files__20230808T051503Z--20231301T000000Z`,
      `annas_archive_data__aacid__zlib3_files__20230808T051503Z—20230808T051504Z`,
      `annas_archive_data__${EX_FILE}`,
    ]) {
      throwsCode(() => parseDataFolderName(name), 'invalid-data-folder-name', name)
    }
    throwsCode(
      () => parseDataFolderName('annas_archive_data__aacid__c__20230808T051504Z--20230808T051503Z'),
      'range-reversed',
    )
  })

  test("torrent names: the standard's examples", () => {
    const m = parseTorrentFileName(EX_META_TORRENT)
    assert.equal(m.kind, 'meta')
    assert.equal(
      m.name,
      'annas_archive_meta__aacid__zlib3_records__20230808T014342Z--20230808T023702Z.jsonl.zst',
    )
    assert.equal(m.prefix, 'annas_archive')
    assert.deepEqual(m.range, expectedRange)
    assert.equal(m.kind === 'meta' && m.extension, '.jsonl.zst')
    assert.equal(torrentFileName(m), EX_META_TORRENT)

    const d = parseTorrentFileName(EX_DATA_TORRENT)
    assert.equal(d.kind, 'data')
    assert.equal(d.name, 'annas_archive_data__aacid__zlib3_files__20230808T055130Z--20230808T055131Z')
    assert.deepEqual(d.range, makeRange('zlib3_files', '20230808T055130Z', '20230808T055131Z'))
    assert.equal(torrentFileName(d), EX_DATA_TORRENT)
    assert.equal(torrentFileName(d.name), EX_DATA_TORRENT)
  })

  test('torrent names round-trip for every kind of release name', () => {
    const names = [
      ...META_FILE_EXTENSIONS.map((e) => `annas_archive_meta__${range}${e}`),
      `my_institute_meta__${range}.jsonl.seekable.zst`,
      `my_institute_meta__aacid__zlib3_records__20230808T014342Z${EN_DASH}20230808T023702Z.jsonl.zst`,
      EX_DATA_FOLDER,
      `my_institute_data__aacid__x__${TS}--${TS}`,
      `annas_archive_data__aacid__zlib3_files__20230808T051503Z${EN_DASH}20230808T051504Z`,
    ]
    for (const name of names) {
      const release = name.includes('_meta__') ? parseMetaFileName(name) : parseDataFolderName(name)
      assert.equal(torrentFileName(release), `${name}.torrent`)
      assert.equal(torrentFileName(name), `${name}.torrent`)
      assert.deepEqual(parseTorrentFileName(`${name}.torrent`), release, name)
    }
  })

  test('torrent names that are rejected', () => {
    for (const name of [
      EX_DATA_TORRENT.slice(0, -'.torrent'.length), // no .torrent
      `${EX_META_TORRENT}.torrent`.replace('.torrent.torrent', '.TORRENT'),
      '.torrent',
      'x.torrent',
      `annas_archive_meta__${range}.jsonl.gz.torrent`,
      `annas_archive_meta__${range}.torrent`, // metadata without its extension
      `annas_archive_data__${range}.jsonl.zst.torrent`, // a data folder with a metadata extension
      `meta__${range}.jsonl.zst.torrent`,
      `annas_archive_meta__aacid__c__20230808T023702Z--20230808T014342Z.jsonl.zst.torrent`,
      `annas_archive_data__aacid__c__20230229T000000Z--20230808T014342Z.torrent`,
    ]) {
      throwsCode(() => parseTorrentFileName(name), 'invalid-torrent-file-name', name)
    }
  })
})
