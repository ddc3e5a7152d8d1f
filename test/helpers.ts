/**
 * Shared test helpers: temp dirs, free ports, real external tools, and the CLI run in-process or as a child.
 */
import { spawnSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { PassThrough } from 'node:stream'
import type { TestContext } from 'node:test'
import { main } from '../src/cli/index.js'

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..')
export const CLI = join(REPO_ROOT, 'bin', 'aacseed.js')

export function tempDir(t: TestContext | { after(fn: () => void): void }, prefix = 'aacseed-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  if (!process.env.AACSEED_KEEP_TEST_DIRS) t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export async function freePort(): Promise<number> {
  return await new Promise((res, rej) => {
    const srv = createServer()
    srv.on('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => res(typeof addr === 'object' && addr ? addr.port : 0))
    })
  })
}

/**
 * A real external tool the test needs. Under CI=true a missing tool fails the test, so a
 * green CI can never hide a missing install step; elsewhere the test is skipped, loudly.
 */
export function requireTool(t: TestContext, tool: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0
  if (found) return true
  if (process.env.CI === 'true')
    throw new Error(`required tool ${tool} is not installed (see the README's test command)`)
  t.skip(`${tool} is not installed`)
  return false
}

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs the CLI in this process (fast, for exit codes and output shape). */
export async function runCli(
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv
    cwd?: string
    /** Called with all of stderr so far, each time more arrives (to act on what the command says). */
    onStderr?: (text: string) => void
  } = {},
): Promise<CliResult> {
  const out = new PassThrough()
  const err = new PassThrough()
  let stdout = ''
  let stderr = ''
  out.on('data', (d: Buffer) => (stdout += d.toString()))
  err.on('data', (d: Buffer) => {
    stderr += d.toString()
    opts.onStderr?.(stderr)
  })
  const code = await main(args, {
    out,
    err,
    env: opts.env ?? { ...process.env, AACSEED_CONFIG: '' },
    cwd: opts.cwd ?? process.cwd(),
  })
  return { code, stdout, stderr }
}

/** Runs the CLI as a child process, as a user would. */
export function runCliProcess(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeout?: number } = {},
): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    env: opts.env ?? { ...process.env, AACSEED_CONFIG: '' },
    cwd: opts.cwd ?? process.cwd(),
    encoding: 'utf8',
    timeout: opts.timeout ?? 120_000,
    maxBuffer: 256 * 1024 * 1024,
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}

export function spawnCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    env: opts.env ?? { ...process.env, AACSEED_CONFIG: '' },
    cwd: opts.cwd ?? process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
