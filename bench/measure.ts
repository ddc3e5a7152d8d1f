/** Shared by the benchmarks: run a command, time it, and track its peak RSS from /proc. */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'

export interface Measured {
  seconds: number
  peakRssMb: number | null
  code: number
  stdout: string
  stderr: string
}

export function vmHwmKb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** VmHWM is the process's own peak (all threads share it), read until the process exits. */
export async function measure(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<Measured> {
  const started = process.hrtime.bigint()
  const child = spawn(cmd, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  let peak: number | null = null
  const timer = setInterval(() => {
    const kb = child.pid ? vmHwmKb(child.pid) : null
    if (kb !== null) peak = Math.max(peak ?? 0, kb)
  }, 20)
  const code = await new Promise<number>((res) => child.on('exit', (c) => res(c ?? -1)))
  clearInterval(timer)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { seconds, peakRssMb: peak === null ? null : peak / 1024, code, stdout, stderr }
}

export function shell(script: string): Promise<Measured> {
  return measure('bash', ['-o', 'pipefail', '-c', script])
}
