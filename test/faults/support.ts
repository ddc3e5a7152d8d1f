/** Shared by the fault-injection suite: real small file systems, made and removed by the test. */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

/**
 * A tmpfs of `sizeKb` mounted on a fresh temp dir, unmounted after the test: a real file system
 * that really fills up. Needs root (mount(2)); without it the test is skipped, and under CI=true
 * it fails instead, so a CI run never silently loses the case.
 */
export function smallDisk(t: TestContext, sizeKb: number): string | null {
  if (process.getuid?.() !== 0) {
    if (process.env.CI === 'true') throw new Error('the disk-full cases need root to mount a tmpfs')
    t.skip('not root: cannot mount a small tmpfs')
    return null
  }
  const dir = mkdtempSync(join(tmpdir(), 'aacseed-small-disk-'))
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0755`, 'tmpfs', dir])
  t.after(() => {
    execFileSync('umount', ['-l', dir])
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** Fills the file system at `dir` until fewer than `leaveBytes` bytes are free; returns the filler. */
export function fill(dir: string, leaveBytes = 0): string {
  const filler = join(dir, '.filler')
  const st = statfsSync(dir)
  const free = Number(st.bavail) * Number(st.bsize)
  writeFileSync(filler, Buffer.alloc(Math.max(0, free - leaveBytes)))
  return filler
}

/** Whether text shows a JavaScript stack trace. */
export function hasStack(text: string): boolean {
  return /\n\s+at .+[:(]/.test(text)
}
