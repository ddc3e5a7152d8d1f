import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { isAtomicTempName, writeFileAtomic } from '../../src/torrents/index.js'
import { writeFileAtomicSync } from '../../src/torrents/write.js'
import { tempDir, waitFor } from '../helpers.js'

test('writes, replaces, and leaves nothing else behind', async (t) => {
  const dir = tempDir(t)
  const target = join(dir, 'x.torrent')
  await writeFileAtomic(target, Buffer.from('first'))
  assert.equal(readFileSync(target, 'utf8'), 'first')
  await writeFileAtomic(target, Buffer.from('second, longer'))
  assert.equal(readFileSync(target, 'utf8'), 'second, longer')
  assert.deepEqual(readdirSync(dir), ['x.torrent'])
  await assert.rejects(writeFileAtomic(join(dir, 'missing', 'y.torrent'), Buffer.from('z')), {
    code: 'ENOENT',
  })
  assert.deepEqual(readdirSync(dir), ['x.torrent'])
})

test('the blocking variant writes, replaces, sets the mode, and leaves nothing else behind', (t) => {
  const dir = tempDir(t)
  const target = join(dir, 'x.torrent')
  writeFileAtomicSync(target, Buffer.from('first'), 0o600)
  assert.equal(readFileSync(target, 'utf8'), 'first')
  assert.equal(statSync(target).mode & 0o777, 0o600)
  writeFileAtomicSync(target, Buffer.alloc(20 << 20, 0x61))
  assert.equal(statSync(target).size, 20 << 20)
  assert.equal(statSync(target).mode & 0o777, 0o644)
  assert.deepEqual(readdirSync(dir), ['x.torrent'])
  assert.throws(() => writeFileAtomicSync(join(dir, 'missing', 'y.torrent'), Buffer.from('z')), {
    code: 'ENOENT',
  })
  // A target that cannot be replaced (a folder of that name): the temp file is removed.
  mkdirSync(join(dir, 'z.torrent'))
  writeFileSync(join(dir, 'z.torrent', 'inside'), '')
  assert.throws(() => writeFileAtomicSync(join(dir, 'z.torrent'), Buffer.from('z')))
  assert.deepEqual(readdirSync(dir).sort(), ['x.torrent', 'z.torrent'])
})

const SIZE = 512 << 20
const ATTEMPTS = 5

/**
 * Kills a child with SIGKILL while it is writing `SIZE` bytes to `target`, and returns the files
 * then left besides the target; null when the write ended before the kill could land (on a busy
 * machine this test's polling can be starved long enough), so the caller tries again.
 */
async function killMidWrite(t: TestContext, dir: string, target: string): Promise<string[] | null> {
  const script = join(dir, '..', 'writer.mjs')
  const module = new URL('../../src/torrents/write.js', import.meta.url).href
  writeFileSync(
    script,
    `import { writeFileAtomic } from ${JSON.stringify(module)}\nawait writeFileAtomic(process.argv[2], Buffer.alloc(${SIZE}, 0x6e))\n`,
  )
  const child = spawn(process.execPath, [script, target], { stdio: 'ignore' })
  t.after(() => child.kill('SIGKILL'))
  let ended = false
  const exited = new Promise<NodeJS.Signals | null>((res) =>
    child.on('exit', (_code, signal) => res(signal)),
  ).finally(() => (ended = true))
  const others = (): string[] => readdirSync(dir).filter((n) => n !== 'x.torrent')
  await waitFor(
    'the writer to start writing',
    () => ended || others().some((n) => statSync(join(dir, n), { throwIfNoEntry: false })?.size),
    60_000,
    1,
  )
  if (ended) return null
  child.kill('SIGKILL')
  if ((await exited) !== 'SIGKILL') return null
  return others()
}

test('a writer killed mid-write leaves the old target, or none, and only a temp file no one takes for it', async (t) => {
  for (const old of ['old contents', null]) {
    let left: string[] | null = null
    let dir = ''
    const target = (): string => join(dir, 'x.torrent')
    for (let attempt = 0; left === null && attempt < ATTEMPTS; attempt++) {
      dir = join(tempDir(t), 'out')
      mkdirSync(dir)
      if (old !== null) writeFileSync(target(), old)
      left = await killMidWrite(t, dir, target())
    }
    assert.ok(left !== null, `the writer finished before it could be killed, ${ATTEMPTS} times`)
    if (old === null) assert.ok(!existsSync(target()), 'no partial target')
    else assert.equal(readFileSync(target(), 'utf8'), old)
    assert.equal(left.length, 1, `left: ${left.join(', ')}`)
    const temp = left[0]!
    assert.ok(isAtomicTempName(temp), temp)
    assert.ok(temp.startsWith('.x.torrent.tmp-') && !temp.endsWith('.torrent'), temp)
  }
  assert.ok(!isAtomicTempName('x.torrent'))
  assert.ok(!isAtomicTempName('.x.torrent'))
})
