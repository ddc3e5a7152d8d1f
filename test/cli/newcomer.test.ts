/** What a newcomer trips over (issue #11 §9): group help, job names, binary units. */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { JOB_NAMES } from '../../src/config/index.js'
import { formatBinaryBytes } from '../../src/units.js'
import { runCli, tempDir } from '../helpers.js'

test('aacseed torrents --help lists the torrents commands and exits 0; a bare group is a usage error', async () => {
  for (const flag of ['--help', '-h']) {
    const r = await runCli(['torrents', flag])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /torrents make {2}/)
    assert.match(r.stdout, /torrents list {2}/)
  }
  const bare = await runCli(['mirror'])
  assert.equal(bare.code, 2)
  assert.match(bare.stderr, /mirror sync/)
})

test('jobs --job with an unknown name is a usage error naming every job', async (t) => {
  const dir = tempDir(t)
  const r = await runCli(['jobs', '--job', 'nope', '--db', join(dir, 'none.db')])
  assert.equal(r.code, 2)
  for (const name of JOB_NAMES) assert.ok(r.stderr.includes(name), `${name} missing from: ${r.stderr}`)
})

test('powers of two print in binary units', () => {
  assert.equal(formatBinaryBytes(32768), '32 KiB')
  assert.equal(formatBinaryBytes(16 * 1024 * 1024), '16 MiB')
  assert.equal(formatBinaryBytes(1536), '1.5 KiB')
  assert.equal(formatBinaryBytes(512), '512 B')
})
