/** `aacseed aacid parse` and `aacseed aacid new`, plus the CLI frame's exit codes around them. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SHORTUUID_ALPHABET, parseAacId } from '../../src/aac/model.js'
import { runCli, runCliProcess } from '../helpers.js'

const EX_RECORD = 'aacid__zlib3_records__20230808T014342Z__22430000__hnyiZz2K44Ur5SBAuAgpg8'
const base57 = new RegExp(`^[${SHORTUUID_ALPHABET}]{22}$`)

describe('aacseed aacid parse', () => {
  test("prints the parts of the standard's example as JSON", async () => {
    const r = await runCli(['aacid', 'parse', EX_RECORD])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    assert.deepEqual(JSON.parse(r.stdout), {
      aacid: EX_RECORD,
      collection: 'zlib3_records',
      timestamp: '20230808T014342Z',
      time: '2023-08-08T01:43:42.000Z',
      id: '22430000',
      shortuuid: 'hnyiZz2K44Ur5SBAuAgpg8',
    })
  })

  test('the 4-part form prints id null; an id with __ comes out whole', async () => {
    const four = await runCli([
      'aacid',
      'parse',
      'aacid__zlib3_files__20230808T051503Z__NRgUGwTJYJpkQjTbz2jA3M',
    ])
    assert.equal(four.code, 0, four.stderr)
    assert.equal(JSON.parse(four.stdout).id, null)
    const two = await runCli(['aacid', 'parse', 'aacid__c__20230808T051503Z__a__b_c__NRgUGwTJYJpkQjTbz2jA3M'])
    assert.equal(two.code, 0, two.stderr)
    assert.equal(JSON.parse(two.stdout).id, 'a__b_c')
  })

  test('an invalid AACID exits non-zero with its error code on stderr', async () => {
    const long = `aacid__c__20230808T014342Z__${'x'.repeat(100)}__NRgUGwTJYJpkQjTbz2jA3M`
    const cases: [string, string][] = [
      ['bogus', 'invalid-aacid'],
      ['aacid__c__20230808T014342Z', 'invalid-aacid'],
      ['aacid__a__b__20230808T014342Z__1__x', 'invalid-timestamp'],
      ['aacid__c__20230229T000000Z__1__x', 'invalid-timestamp'],
      ['aacid__c-d__20230808T014342Z__1__x', 'invalid-collection'],
      ['aacid__c__20230808T014342Z__1__x-y', 'invalid-shortuuid'],
      [long, 'aacid-too-long'],
    ]
    for (const [arg, code] of cases) {
      const r = await runCli(['aacid', 'parse', arg])
      assert.notEqual(r.code, 0, arg)
      assert.equal(r.code, 1, arg)
      assert.equal(r.stdout, '', arg)
      assert.match(r.stderr, new RegExp(`^aacseed: ${code}: `), arg)
    }
  })

  test('no AACID, or two, is a usage error (exit 2)', async () => {
    for (const args of [
      ['aacid', 'parse'],
      ['aacid', 'parse', EX_RECORD, EX_RECORD],
    ]) {
      const r = await runCli(args)
      assert.equal(r.code, 2, args.join(' '))
      assert.match(r.stderr, /usage: aacseed aacid parse AACID/)
    }
  })
})

describe('aacseed aacid new', () => {
  test('prints an AACID with the given collection, time and id', async () => {
    const r = await runCli([
      'aacid',
      'new',
      'zlib3_records',
      '--id',
      '22430000',
      '--time',
      '20230808T014342Z',
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    assert.match(r.stdout, /^aacid__\S+\n$/)
    const a = parseAacId(r.stdout.trim())
    assert.equal(a.collection, 'zlib3_records')
    assert.equal(a.timestamp.text, '20230808T014342Z')
    assert.equal(a.id, '22430000')
    assert.match(a.shortuuid, base57)
  })

  test('--id=VALUE and ids with underscores', async () => {
    const r = await runCli(['aacid', 'new', 'c', '--id=-5__x_y', '--time=20240229T235959Z'])
    assert.equal(r.code, 0, r.stderr)
    const a = parseAacId(r.stdout.trim())
    assert.equal(a.id, '-5__x_y')
    assert.equal(a.timestamp.text, '20240229T235959Z')
  })

  test('a too-long id is truncated to fit 150 characters', async () => {
    const id = '1234567890'.repeat(20)
    const r = await runCli(['aacid', 'new', 'zlib3_records', '--id', id, '--time', '20230808T014342Z'])
    assert.equal(r.code, 0, r.stderr)
    const text = r.stdout.trim()
    assert.equal(text.length, 150)
    const a = parseAacId(text)
    assert.ok(a.id !== null && a.id.length > 0)
    assert.ok(id.startsWith(a.id!), a.id!)
    assert.equal(a.collection, 'zlib3_records')
  })

  test('a cut at an underscore does not corrupt the AACID', async () => {
    // aacid__c__{16}__{id}__{22}: 98 characters of room; the 98th is `_`.
    const id = 'a'.repeat(97) + '_' + 'b'.repeat(10)
    const r = await runCli(['aacid', 'new', 'c', '--id', id, '--time', '20230808T014342Z'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(parseAacId(r.stdout.trim()).id, 'a'.repeat(97))
  })

  test('without --id: the 4-part form; without --time: now', async () => {
    const before = Math.floor(Date.now() / 1000)
    const r = await runCli(['aacid', 'new', 'zlib3_files'])
    const after = Math.ceil(Date.now() / 1000)
    assert.equal(r.code, 0, r.stderr)
    const a = parseAacId(r.stdout.trim())
    assert.equal(a.id, null)
    assert.ok(a.timestamp.seconds >= before && a.timestamp.seconds <= after, a.timestamp.text)
  })

  test('two calls give two different shortuuids', async () => {
    const args = ['aacid', 'new', 'c', '--id', '1', '--time', '20230808T014342Z']
    const a = (await runCli(args)).stdout
    const b = (await runCli(args)).stdout
    assert.notEqual(a, b)
  })

  test('a bad collection or time exits non-zero with the error code', async () => {
    const cases: [string[], string][] = [
      [['a__b'], 'invalid-collection'],
      [['c-d'], 'invalid-collection'],
      [['c', '--time', '20230229T000000Z'], 'invalid-timestamp'],
      [['c', '--time', '2023-08-08T01:43:42Z'], 'invalid-timestamp'],
      [['c'.repeat(102), '--time', '20230808T014342Z'], 'aacid-too-long'],
    ]
    for (const [args, code] of cases) {
      const r = await runCli(['aacid', 'new', ...args])
      assert.notEqual(r.code, 0, args.join(' '))
      assert.equal(r.stdout, '')
      assert.match(r.stderr, new RegExp(`^aacseed: ${code}: `), args.join(' '))
    }
  })

  test('no collection is a usage error (exit 2)', async () => {
    const r = await runCli(['aacid', 'new'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /usage: aacseed aacid new COLLECTION/)
  })
})

describe('the CLI frame', () => {
  test('--help exits 0, for the whole tool and for each command', async () => {
    for (const args of [
      ['--help'],
      ['-h'],
      ['help'],
      ['aacid', 'parse', '--help'],
      ['aacid', 'new', '--help'],
      ['aacid', 'new', '-h'],
    ]) {
      const r = await runCli(args)
      assert.equal(r.code, 0, args.join(' '))
      assert.match(r.stdout, /usage: aacseed/, args.join(' '))
      assert.equal(r.stderr, '')
    }
    const overview = await runCli(['--help'])
    assert.match(overview.stdout, /aacid parse/)
    assert.match(overview.stdout, /aacid new/)
    const help = await runCli(['aacid', 'new', '--help'])
    assert.match(help.stdout, /--id ID/)
    assert.match(help.stdout, /--time/)
  })

  test('--version prints the package version and the catalog schema version', async () => {
    const r = await runCli(['--version'])
    assert.equal(r.code, 0)
    assert.match(r.stdout, /^aacseed \d+\.\d+\.\d+\S* \(catalog schema \d+\)\n$/)
  })

  test('no arguments prints the overview and exits 2', async () => {
    const r = await runCli([])
    assert.equal(r.code, 2)
    assert.match(r.stdout, /usage: aacseed COMMAND/)
  })

  test('an unknown command exits 2', async () => {
    for (const args of [['frobnicate'], ['aacid', 'frob'], ['aacid', 'nw', 'c']]) {
      const r = await runCli(args)
      assert.equal(r.code, 2, args.join(' '))
      assert.match(r.stderr, /^aacseed: unknown command/, args.join(' '))
    }
    // A group without its command is a usage error that lists the group's commands.
    const bare = await runCli(['aacid'])
    assert.equal(bare.code, 2)
    assert.match(bare.stderr, /^usage: aacseed aacid COMMAND/)
    assert.match(bare.stderr, /aacid parse/)
    assert.match(bare.stderr, /aacid new/)
  })

  test('a bad option exits 2 with the usage line', async () => {
    for (const args of [
      ['aacid', 'new', 'c', '--bogus'],
      ['aacid', 'new', 'c', '--id'], // missing value
      ['aacid', 'parse', EX_RECORD, '--id', 'x'], // an option of another command
      ['aacid', 'new', 'c', '-x'],
    ]) {
      const r = await runCli(args)
      assert.equal(r.code, 2, args.join(' '))
      assert.equal(r.stdout, '')
      assert.match(r.stderr, /^aacseed: /)
      assert.match(r.stderr, /usage: aacseed aacid (new|parse) /, args.join(' '))
    }
  })
})

describe('as a child process', () => {
  test('parse: JSON on stdout, exit 0', () => {
    const r = runCliProcess(['aacid', 'parse', EX_RECORD])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).id, '22430000')
  })

  test('new: an AACID that parses back; exit codes 1 and 2 reach the shell', () => {
    const ok = runCliProcess(['aacid', 'new', 'zlib3_records', '--id', '7', '--time', '20230808T014342Z'])
    assert.equal(ok.code, 0, ok.stderr)
    const a = parseAacId(ok.stdout.trim())
    assert.equal(a.collection, 'zlib3_records')
    assert.equal(a.id, '7')
    const bad = runCliProcess(['aacid', 'parse', 'bogus'])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /invalid-aacid/)
    const unknown = runCliProcess(['nope'])
    assert.equal(unknown.code, 2)
    const option = runCliProcess(['aacid', 'new', 'c', '--nope'])
    assert.equal(option.code, 2)
    const help = runCliProcess(['--help'])
    assert.equal(help.code, 0)
  })
})
