// Runs every compiled test file with Node's own runner; Node 20's `--test` takes no globs.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function collect(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...collect(p))
    else if (name.endsWith('.test.js')) out.push(p)
  }
  return out
}

const filter = process.argv.slice(2)
let files = collect('dist/test')
if (filter.length > 0) files = files.filter((f) => filter.some((x) => f.includes(x)))
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/test')
  process.exit(1)
}
// Files that bind the fixed ports the README names (6969, 8737) run alone, after the others: nothing
// else in the suite may start a serve, a tracker or a peer beside them.
const ALONE = ['/cli/readme.test.js']
const alone = files.filter((f) => ALONE.some((a) => f.endsWith(a)))
const together = files.filter((f) => !alone.includes(f))
let status = 0
for (const [group, concurrency] of [
  [together, 2],
  [alone, 1],
]) {
  if (group.length === 0) continue
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...group], {
    stdio: 'inherit',
  })
  if (r.status !== 0) status = r.status ?? 1
}
process.exit(status)
