/**
 * How this aacseed was started, as a command an operator can paste: the hints `serve` and `demo`
 * print ("check it with: …", "next: …") must work the way aacseed was installed.
 */
import { basename, delimiter, dirname, isAbsolute, resolve, sep } from 'node:path'

/**
 * `aacseed` when the running script is an `aacseed` bin on PATH (`npm install -g`, also with
 * `--prefix ~/.local`); `npx aacseed` when it is a project's `node_modules/.bin/aacseed` (a clone
 * run through npx, which also puts that folder on PATH, hence checked first); otherwise the way
 * to run the script itself (`node /path/bin/aacseed.js`, or `/prefix/bin/aacseed` off PATH).
 */
export function aacseedCommand(script: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  if (!script) return 'aacseed'
  const path = isAbsolute(script) ? script : resolve(cwd, script)
  if (path.includes(`${sep}node_modules${sep}.bin${sep}`)) return 'npx aacseed'
  const onPath = (env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .some((d) => resolve(cwd, d) === dirname(path))
  if (basename(path) === 'aacseed' && onPath) return 'aacseed'
  return basename(path).endsWith('.js') ? `node ${shellQuote(path)}` : shellQuote(path)
}

function shellQuote(s: string): string {
  return /^[\w./@%+=:,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}
