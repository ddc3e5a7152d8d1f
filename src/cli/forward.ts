/**
 * What needs the running engine goes to the `serve` that owns it, over its HTTP API: a second
 * embedded engine started by a CLI command would be empty (`engine_status` recording
 * `torrents=0`), and a second job runner would race serve's. The running serve is found
 * through its `serve` lease in the database (src/jobs/leases.ts), which records its address.
 */
import { readSecret, type Config } from '../config/index.js'
import { AacseedError, UsageError } from '../errors.js'
import type { LeaseInfo } from '../jobs/leases.js'

export interface ForwardedRun {
  job: string
  outcome: string
  counts: Record<string, number> | null
  error: string | null
}

/** serve may listen on every address; ask it on loopback. */
function reachable(url: string): string {
  const u = new URL(url)
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1'
  if (u.hostname === '[::]') u.hostname = '[::1]'
  return u.toString().replace(/\/$/, '')
}

/**
 * Runs job `name` in the running serve and waits for the run to end. A serve without HTTP,
 * or a CLI without the token, is refused with what to do instead.
 */
export async function runInServe(
  serve: LeaseInfo,
  name: string,
  config: Config,
  env: NodeJS.ProcessEnv,
  what = `run ${name}`,
): Promise<ForwardedRun> {
  const who = `serve (pid ${serve.pid}) runs on this database and owns the engine`
  if (!serve.httpUrl)
    throw new UsageError(
      `${who}, with its HTTP API off, so \`aacseed ${what}\` cannot reach it: enable [http] in serve's config, or stop serve and run it here`,
    )
  const token = readSecret('AACSEED_HTTP_TOKEN', config.http.token_file, env, 'http-token')
  if (!token)
    throw new UsageError(
      `${who}; \`aacseed ${what}\` goes through its HTTP API, which needs the token: set AACSEED_HTTP_TOKEN or http.token_file as serve has it`,
    )
  const url = `${reachable(serve.httpUrl)}/api/jobs/${encodeURIComponent(name)}/run?wait=true`
  let res: Response
  try {
    res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  } catch (e) {
    throw new AacseedError(
      'serve-unreachable',
      `${who}, but its API at ${reachable(serve.httpUrl)} did not answer: ${(e as Error).message}`,
    )
  }
  const body = (await res.json().catch(() => ({}))) as {
    run?: ForwardedRun
    error?: { code?: string; message?: string }
  }
  if (res.status === 409 && body.run) return body.run
  if (!res.ok || !body.run)
    throw new AacseedError(
      'serve-refused',
      `serve (pid ${serve.pid}) answered ${res.status} to ${what}: ${body.error?.message ?? res.statusText}`,
    )
  return body.run
}
