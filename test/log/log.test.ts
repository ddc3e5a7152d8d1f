import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { Writable } from 'node:stream'
import { setImmediate as tick } from 'node:timers/promises'
import { test } from 'node:test'
import { createLogger, redactUrl } from '../../src/log/index.js'

const LOG_MODULE = new URL('../../src/log/index.js', import.meta.url).href

function capture(): { stream: Writable; text: () => string; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      chunks.push(chunk.toString())
      cb()
    },
  })
  const text = (): string => chunks.join('')
  const lines = (): Record<string, unknown>[] =>
    text()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  return { stream, text, lines }
}

test('JSON lines carry level, time, msg and the area of the child logger', () => {
  const out = capture()
  const log = createLogger({ level: 'info', destination: out.stream })
  log.child({ area: 'scan' }).info({ records: 12 }, 'scanned')
  log.debug('not at info level')
  const lines = out.lines()
  assert.equal(lines.length, 1)
  const [line] = lines
  assert.equal(line!.level, 30)
  assert.equal(line!.area, 'scan')
  assert.equal(line!.msg, 'scanned')
  assert.equal(line!.records, 12)
  assert.ok(!Number.isNaN(Date.parse(String(line!.time))), `time ${String(line!.time)}`)
  // journald records pid and host itself.
  assert.equal(line!.pid, undefined)
  assert.equal(line!.hostname, undefined)
})

test('errors are logged with message and stack', () => {
  const out = capture()
  createLogger({ level: 'info', destination: out.stream }).error(
    { err: new Error('disk full') },
    'scan failed',
  )
  const err = out.lines()[0]!.err as { message: string; stack: string }
  assert.equal(err.message, 'disk full')
  assert.match(err.stack, /Error: disk full/)
})

test('secrets are redacted by field name at the top level, one and two levels down, and in headers', () => {
  const out = capture()
  const log = createLogger({ level: 'info', destination: out.stream })
  log.info(
    {
      password: 'pw0',
      token: 'tk0',
      authorization: 'Bearer tk1',
      transmission: { username: 'admin', password: 'pw1' },
      http: { token: 'tk2' },
      engine: { transmission: { password: 'pw2' } },
      req: { headers: { authorization: 'Basic YWRtaW46cHcz', cookie: 'session=tk3', accept: 'text/html' } },
    },
    'settings',
  )
  const text = out.text()
  for (const secret of ['pw0', 'pw1', 'pw2', 'tk0', 'tk1', 'tk2', 'YWRtaW46cHcz', 'tk3'])
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`)
  const line = out.lines()[0]!
  assert.deepEqual(line.transmission, { username: 'admin', password: '[redacted]' })
  assert.equal((line.req as { headers: Record<string, string> }).headers.accept, 'text/html')
})

test('redactUrl hides userinfo passwords and query values, and nothing else', () => {
  assert.equal(
    redactUrl('http://admin:s3cret@127.0.0.1:9091/transmission/rpc'),
    'http://admin:***@127.0.0.1:9091/transmission/rpc',
  )
  // The last @ before the path ends the userinfo, as in a URL parser.
  assert.equal(redactUrl('https://admin:p@ss@host/x'), 'https://admin:***@host/x')
  assert.equal(redactUrl('https://admin@host/x'), 'https://admin@host/x')
  assert.equal(
    redactUrl('http://tracker.example/announce?passkey=abc123&info_hash=x'),
    'http://tracker.example/announce?passkey=***&info_hash=x',
  )
  // Any query value may be a token (a mirror's `?key=`); names stay.
  assert.equal(redactUrl('http://h/a?x=1&token=t0k#frag'), 'http://h/a?x=***&token=***#frag')
  // Passkey path segments: test/faults/secrets-redact.test.ts has the real-world shapes.
  assert.equal(
    redactUrl('https://tracker.example/0123456789abcdef0123456789abcdef/announce'),
    'https://tracker.example/***/announce',
  )
  // An @ in the path or query is not userinfo.
  assert.equal(redactUrl('http://host/users/a@b?x=1'), 'http://host/users/a@b?x=***')
  assert.equal(redactUrl('udp://tracker.example:1337/announce'), 'udp://tracker.example:1337/announce')
  assert.equal(redactUrl('not a url'), 'not a url')
})

test('under journald each line starts with its syslog priority', () => {
  const out = capture()
  const log = createLogger({ level: 'debug', destination: out.stream, journald: true })
  log.debug('d')
  log.info('i')
  log.warn('w')
  log.error('e')
  log.fatal('f')
  const lines = out.text().split('\n').filter(Boolean)
  assert.deepEqual(
    lines.map((l) => l.slice(0, 3)),
    ['<7>', '<6>', '<4>', '<3>', '<2>'],
  )
  // What journald stores after stripping the prefix is the plain JSON line.
  assert.equal((JSON.parse(lines[2]!.slice(3)) as { msg: string }).msg, 'w')
})

test('pretty output is one readable line per message with the area in front', async () => {
  const out = capture()
  const log = createLogger({ level: 'info', destination: out.stream, pretty: true })
  log.child({ area: 'jobs' }).info({ token: 'tk9' }, 'job finished')
  await tick()
  const text = out.text()
  assert.match(text, /INFO.*\[jobs\] job finished/)
  assert.ok(!text.trimStart().startsWith('{'), text)
  assert.ok(!text.includes('tk9'), text)
})

test('journald is detected from JOURNAL_STREAM naming stdout, and only then', () => {
  // The child points JOURNAL_STREAM at its own stdout (as systemd does), or at something else.
  const script = (match: boolean): string => `
    import { fstatSync } from 'node:fs'
    const st = fstatSync(1, { bigint: true })
    process.env.JOURNAL_STREAM = ${match ? '`${st.dev}:${st.ino}`' : '`${st.dev}:${st.ino + 1n}`'}
    const { createLogger } = await import(${JSON.stringify(LOG_MODULE)})
    createLogger({ level: 'info' }).warn('hello')
  `
  const run = (match: boolean): string => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(match)], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    return r.stdout
  }
  assert.match(run(true), /^<4>\{"level":40/)
  assert.match(run(false), /^\{"level":40/)
})
