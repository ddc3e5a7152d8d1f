/**
 * Preload (`node --import dist/test/support/module-trace.js ...`) that appends every ES module URL
 * the process resolves to the file named by AACSEED_MODULE_TRACE, one a line. The start-up test
 * uses it to see which libraries a command loads; Node has no other list of loaded ES modules.
 */
import { register } from 'node:module'

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
}
