/**
 * A configured port is fine when it is free, or when `aacseed serve` already holds it (doctor run
 * beside the service). Who holds a port is read from /proc: the listening socket's inode in
 * /proc/net/tcp{,6}, then the process with that socket among its file descriptors (only our
 * own user's processes are visible to a non-root doctor, which is the case that matters).
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { createServer } from 'node:net'
import { finding, type Finding } from './finding.js'

export async function portFinding(setting: string, host: string, port: number): Promise<Finding> {
  const bound = await tryListen(host, port)
  if (bound === null) return finding('port', 'ok', `${setting}: ${host}:${port} is free`, { setting })
  if (bound !== 'EADDRINUSE')
    return finding('port', 'fail', `${setting}: cannot listen on ${host}:${port} (${bound})`, { setting })
  const holder = listenerOf(port)
  if (holder && isAacseedServe(holder.cmdline))
    return finding('port', 'ok', `${setting}: ${host}:${port} is held by aacseed serve (pid ${holder.pid})`, {
      setting,
    })
  const who = holder ? `pid ${holder.pid} (${holder.cmdline.slice(0, 80)})` : 'another process'
  return finding('port', 'fail', `${setting}: ${host}:${port} is taken by ${who}, not by aacseed serve`, {
    setting,
  })
}

async function tryListen(host: string, port: number): Promise<string | null> {
  return await new Promise((resolve) => {
    const srv = createServer()
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(null)))
  })
}

export function isAacseedServe(cmdline: string): boolean {
  const words = cmdline.split(' ')
  return words.some((w) => /(^|\/)aacseed(\.js)?$/.test(w)) && words.includes('serve')
}

/** The process listening on TCP `port` (any address), if this user can see it. */
export function listenerOf(port: number): { pid: number; cmdline: string } | null {
  const inodes = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; the inode is the 10th field.
      if (f.length < 10 || f[3] !== '0A') continue
      if (parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.add(f[9]!)
    }
  }
  if (inodes.size === 0) return null
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      let link = ''
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`)
      } catch {
        continue
      }
      const m = /^socket:\[(\d+)\]$/.exec(link)
      if (m && inodes.has(m[1]!)) {
        let cmdline = ''
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
        } catch {
          // gone meanwhile
        }
        return { pid: Number(pid), cmdline }
      }
    }
  }
  return null
}
