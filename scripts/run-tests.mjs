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
// A build of this worktree while the tests run (a second `npm test`, which compiles first, or
// land.sh's tsc and npm install) rewrites dist/ in place: a CLI a test spawns meanwhile can load a
// half-written module and exit 1 (seen as a flake of test/faults/disk-full.test.ts). Said at the
// end, so such a failure is not taken for the code's.
function newestBuild(dir = 'dist') {
  let newest = 0
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const st = statSync(p, { throwIfNoEntry: false })
    if (!st) continue
    newest = Math.max(newest, st.isDirectory() ? newestBuild(p) : st.mtimeMs)
  }
  return newest
}
const builtBefore = newestBuild()
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
if (newestBuild() > builtBefore)
  console.error(
    'run-tests: dist/ was rebuilt while these tests ran (another `npm test` or a build in this worktree): a failure of a test that spawns the CLI may be that, not the code; run them again alone',
  )
process.exit(status)
