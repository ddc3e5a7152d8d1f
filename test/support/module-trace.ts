/**
 * Preload (`node --import dist/test/support/module-trace.js ...`) that appends every ES module URL
 * the process resolves to the file named by AACSEED_MODULE_TRACE, one a line, and at exit the
 * CommonJS modules in `require.cache` (better-sqlite3 is loaded with `require`, which the resolve
 * hook does not see). The start-up test uses it to see which libraries a command loads; Node has
 * no other list of loaded ES modules.
 */
import { appendFileSync } from 'node:fs'
import { createRequire, register } from 'node:module'
import { pathToFileURL } from 'node:url'

const out = process.env.AACSEED_MODULE_TRACE
if (out) {
  const hooks = `
    import { appendFileSync } from 'node:fs'
    export async function resolve(specifier, context, next) {
      const r = await next(specifier, context)
      appendFileSync(${JSON.stringify(out)}, r.url + '\\n')
      return r
    }`
  register('data:text/javascript,' + encodeURIComponent(hooks))
  // The exit event runs on process.exit() too, as bin/aacseed.js ends a finished command.
  const cache = createRequire(import.meta.url).cache
  process.on('exit', () => {
    const urls = Object.keys(cache).map((p) => pathToFileURL(p).href)
    if (urls.length > 0) appendFileSync(out, urls.join('\n') + '\n')
  })
}
