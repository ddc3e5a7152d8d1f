/**
 * Reader threads started as `aacseed scan` begins (prestartReaders): the scan of a new catalog
 * takes them, a pool of another size is not used, and idle ones do not keep a process alive.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { prestartReaders, takePrestartedReaders } from '../../src/catalog/line-pool.js'
import { commandEntries } from '../../src/cli/commands/index.js'
import { runCli, tempDir } from '../helpers.js'
import { aacid, metaName, rec, writeMeta } from '../fixtures.js'

test('the pre-started pool is taken once, and only with the size asked for', async () => {
  prestartReaders()
  const p = takePrestartedReaders()
  assert.ok(p, 'a pool of the default size is taken')
  assert.equal(p.size, Math.max(1, availableParallelism() - 1))
  assert.equal(p.broken, false)
  assert.equal(takePrestartedReaders(), undefined, 'taken once')
  await p.close()

  prestartReaders()
  assert.equal(takePrestartedReaders(Math.max(1, availableParallelism() - 1) + 1), undefined)
  assert.equal(takePrestartedReaders(), undefined, 'a pool of another size is closed, not kept')
})

test('scan pre-starts readers only when --db names a catalog that does not exist yet', async (t) => {
  const dir = tempDir(t)
  const scan = commandEntries.find((e) => e.name === 'scan')!
  const existing = join(dir, 'old.db')
  writeFileSync(existing, '')
  for (const [args, started] of [
    [['root', '--db', join(dir, 'new.db')], true],
    [['root', `--db=${join(dir, 'new.db')}`], true],
    [['root', '--db', existing], false],
    [['root', '--db', ':memory:'], false],
    [['root'], false],
    [['--', '--db', join(dir, 'new.db')], false],
  ] as const) {
    await scan.prestart!({ args: [...args], env: process.env, cwd: process.cwd() })
    const p = takePrestartedReaders()
    assert.equal(p !== undefined, started, args.join(' '))
    await p?.close()
  }
})

test('aacseed scan --db NEW catalogs with the pre-started threads and leaves none behind', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'root')
  const c = 'zlib3_records'
  writeMeta(root, metaName(c, 100, 200), [rec(aacid(c, 101)), rec(aacid(c, 150))])
  const r = await runCli(['scan', root, '--db', join(dir, 'c.db'), '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal((JSON.parse(r.stdout) as { records: number }).records, 2)
  assert.equal(takePrestartedReaders(), undefined, 'the scan took the pool it pre-started')
  // An existing catalog: nothing is pre-started, and a second scan finds the file unchanged.
  const again = await runCli(['scan', root, '--db', join(dir, 'c.db'), '--json'])
  assert.equal(again.code, 0, again.stderr)
  assert.equal(takePrestartedReaders(), undefined)
})

test('idle pre-started reader threads do not keep a process alive', () => {
  const pool = new URL('../../src/catalog/line-pool.js', import.meta.url).href
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `(await import(${JSON.stringify(pool)})).prestartReaders()`],
    { encoding: 'utf8', timeout: 60_000 },
  )
  assert.equal(r.signal, null, 'the process was killed by the timeout: idle threads kept it alive')
  assert.equal(r.status, 0, r.stderr)
})
