import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { isAtomicTempName, writeFileAtomic } from '../../src/torrents/index.js'
import { tempDir, waitFor } from '../helpers.js'

test('writes, replaces, and leaves nothing else behind', async (t) => {
  const dir = tempDir(t)
  const target = join(dir, 'x.torrent')
  await writeFileAtomic(target, Buffer.from('first'))
  assert.equal(readFileSync(target, 'utf8'), 'first')
  await writeFileAtomic(target, Buffer.from('second, longer'))
  assert.equal(readFileSync(target, 'utf8'), 'second, longer')
  assert.deepEqual(readdirSync(dir), ['x.torrent'])
  await assert.rejects(writeFileAtomic(join(dir, 'missing', 'y.torrent'), Buffer.from('z')), { code: 'ENOENT' })
  assert.deepEqual(readdirSync(dir), ['x.torrent'])
})

const SIZE = 512 << 20

/** Kills a child with SIGKILL while it is writing `SIZE` bytes to `target`; returns the temp files left. */
async function killMidWrite(t: TestContext, dir: string, target: string): Promise<string[]> {
  const script = join(dir, 'writer.mjs')
  const module = new URL('../../src/torrents/write.js', import.meta.url).href
  writeFileSync(script, `import { writeFileAtomic } from ${JSON.stringify(module)}\nawait writeFileAtomic(process.argv[2], Buffer.alloc(${SIZE}, 0x6e))\n`)
  const child = spawn(process.execPath, [script, target], { stdio: 'ignore' })
  t.after(() => child.kill('SIGKILL'))
  const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, signal) => res(signal)))
  const temps = (): string[] => readdirSync(dir).filter((n) => n !== 'writer.mjs' && n !== 'x.torrent')
  await waitFor('the writer to start writing', () => temps().some((n) => statSync(join(dir, n), { throwIfNoEntry: false })?.size), 30_000, 1)
  child.kill('SIGKILL')
  assert.equal(await exited, 'SIGKILL')
  return temps()
}

test('a writer killed mid-write leaves the old target, or none, and only a temp file no one takes for it', async (t) => {
  for (const old of ['old contents', null]) {
    const dir = tempDir(t)
    const target = join(dir, 'x.torrent')
    if (old !== null) writeFileSync(target, old)
    const left = await killMidWrite(t, dir, target)
    if (old === null) assert.ok(!existsSync(target), 'no partial target')
    else assert.equal(readFileSync(target, 'utf8'), old)
    assert.equal(left.length, 1, `left: ${left.join(', ')}`)
    const temp = left[0]!
    assert.ok(isAtomicTempName(temp), temp)
    assert.ok(temp.startsWith('.x.torrent.tmp-') && !temp.endsWith('.torrent'), temp)
    assert.ok(statSync(join(dir, temp)).size <= SIZE)
  }
  assert.ok(!isAtomicTempName('x.torrent'))
  assert.ok(!isAtomicTempName('.x.torrent'))
})
