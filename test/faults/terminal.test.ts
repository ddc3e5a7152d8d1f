/**
 * Fault-injection suite, "Terminal output of untrusted names": file names and list entries that
 * carry terminal escapes (clear screen, window title, colours, C1 CSI, bidi override) are shown in
 * a visible escaped form by every human-readable output, and `--json` stays exact JSON whose
 * values are the names as they are.
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { test, type TestContext } from 'node:test'
import { visible, visibleLines, VisibleStream } from '../../src/cli/terminal.js'
import { runCliProcess, tempDir } from '../helpers.js'

const HOSTILE_META = 'annas_archive_meta__aacid__x\x1b[2J\x1b]0;PWNED\x07.jsonl'
const HOSTILE_DATA_FILE = 'z\x1b[31m RED'
const DATA_FOLDER = 'annas_archive_data__aacid__c__20240101T000000Z--20240101T000001Z'
const HOSTILE_TORRENT = 'x\x1b]0;PWNED\x07\u009b\u202e.torrent'

/** Nothing a terminal would act on: no C0 but newline, no DEL, no C1, no bidi override. */
function assertInert(text: string): void {
  // oxlint-disable-next-line no-control-regex -- looking for control characters is the point
  const bad = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.exec(text)
  assert.equal(bad, null, `raw control character ${JSON.stringify(bad?.[0])} in: ${text}`)
}

function hostileRoot(t: TestContext): string {
  const root = join(tempDir(t), 'root')
  mkdirSync(join(root, DATA_FOLDER), { recursive: true })
  writeFileSync(join(root, HOSTILE_META), '')
  writeFileSync(join(root, DATA_FOLDER, HOSTILE_DATA_FILE), 'blob\n')
  // Invalid UTF-8 in a name: the bytes ff and fe cannot start a character.
  writeFileSync(Buffer.from(join(root, DATA_FOLDER, 'bad\xff\xfe\x1b[0m'), 'latin1'), '')
  return root
}

function cli(t: TestContext, args: string[]): { code: number; stdout: string; stderr: string } {
  const cwd = tempDir(t)
  return runCliProcess(args, { cwd, env: { ...process.env, AACSEED_CONFIG: '', XDG_DATA_HOME: cwd } })
}

test('terminal: scan shows hostile metadata and data file names escaped, and --json keeps them exact', (t) => {
  const root = hostileRoot(t)
  const db = join(tempDir(t), 'c.db')
  const r = cli(t, ['scan', root, '--db', db])
  assert.equal(r.code, 1, r.stderr)
  assertInert(r.stdout + r.stderr)
  assert.ok(r.stdout.includes('annas_archive_meta__aacid__x\\u001b[2J\\u001b]0;PWNED\\u0007.jsonl'), r.stdout)
  assert.ok(r.stdout.includes(`${DATA_FOLDER}/z\\u001b[31m RED`), r.stdout)

  const j = cli(t, ['scan', root, '--db', join(tempDir(t), 'j.db'), '--json'])
  const report = JSON.parse(j.stdout) as { problems: Array<{ path: string }> }
  const paths = report.problems.map((p) => p.path)
  assert.ok(paths.includes(HOSTILE_META), JSON.stringify(paths))
  assert.ok(paths.includes(`${DATA_FOLDER}/${HOSTILE_DATA_FILE}`), JSON.stringify(paths))
  assertInert(j.stdout)
})

test('terminal: validate shows hostile names escaped', (t) => {
  const r = cli(t, ['validate', hostileRoot(t)])
  assert.equal(r.code, 1, r.stderr)
  assertInert(r.stdout + r.stderr)
  assert.ok(r.stdout.includes('\\u001b]0;PWNED\\u0007'), r.stdout)
})

test('terminal: mirror sources shows a hostile torrent_dir file name escaped; --json stays exact', (t) => {
  const dir = tempDir(t)
  const tdir = join(dir, 'tdir')
  mkdirSync(tdir)
  writeFileSync(join(tdir, HOSTILE_TORRENT), 'garbage')
  const config = join(dir, 'aacseed.toml')
  writeFileSync(
    config,
    `[catalog]\ndatabase = ${JSON.stringify(join(dir, 'x.db'))}\n[[mirror.sources]]\nname = "local"\ntorrent_dir = ${JSON.stringify(tdir)}\n`,
  )
  const r = cli(t, ['mirror', 'sources', '--config', config])
  assertInert(r.stdout + r.stderr)
  assert.ok(r.stdout.includes('rejected x\\u001b]0;PWNED\\u0007\\u009b\\u202e.torrent'), r.stdout)

  const j = cli(t, ['mirror', 'sources', '--config', config, '--json'])
  assertInert(j.stdout)
  const body = JSON.parse(j.stdout) as { sources: Array<{ rejected: Array<{ entry: string }> }> }
  assert.equal(body.sources[0]!.rejected[0]!.entry, HOSTILE_TORRENT)
})

test('terminal: the escaping rules: controls, C1, bidi, separators and lone surrogates; newlines only inside names', () => {
  assert.equal(visible('a\x1b[2Jb\x07'), 'a\\u001b[2Jb\\u0007')
  assert.equal(visible('a\nb\tc\rd'), 'a\\u000ab\\u0009c\\u000dd')
  assert.equal(visibleLines('line 1\n\tline 2\r'), 'line 1\n\tline 2\\u000d')
  assert.equal(visible('\u009b31m\u202eevil\u2066\u2028'), '\\u009b31m\\u202eevil\\u2066\\u2028')
  assert.equal(
    visible('lone \ud800 and \udc00; pair \ud83d\ude00'),
    'lone \\ud800 and \\udc00; pair \ud83d\ude00',
  )
  assert.equal(visible('Zürich 東京 – fine'), 'Zürich 東京 – fine')
  // JSON through the guard parses to the same value.
  const value = { name: 'x\u009by\u202e\u2028', n: 1 }
  const json = JSON.stringify(value)
  assert.deepEqual(JSON.parse(visibleLines(json)), value)
})

test('terminal: the stream guard passes ordinary bytes unchanged and escapes risky ones', () => {
  const sink = new PassThrough()
  const chunks: Buffer[] = []
  sink.on('data', (d: Buffer) => chunks.push(d))
  const s = new VisibleStream(sink)
  const plain = Buffer.from('{"aacid":"aacid__c__20240101T000000Z__1__x","metadata":{"t":"Zürich"}}\n')
  s.write(plain)
  s.write('title \x1b]0;x\x07\n')
  s.write(Buffer.from('bytes \x1b[2J\n'))
  assert.equal(
    Buffer.concat(chunks).toString(),
    plain.toString() + 'title \\u001b]0;x\\u0007\n' + 'bytes \\u001b[2J\n',
  )
})
