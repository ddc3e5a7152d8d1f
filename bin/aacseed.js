#!/usr/bin/env node
import module from 'node:module'

// Node >= 22.1 caches compiled code between runs (in the OS temp folder): most of a short
// command's start-up is compiling its modules. Node 20 has no such cache; then this is a no-op.
module.enableCompileCache?.()
// Threads that are slow to boot (torrents make's hash worker) start before the rest of the CLI
// loads, so that they boot on the core that this single-threaded loading leaves idle.
await (await import('../dist/src/cli/commands/index.js')).startEarly(process.argv.slice(2))
const { exitsWhenDone, main } = await import('../dist/src/cli/index.js')

// `aacseed ... | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  })
}

process.exitCode = await main(process.argv.slice(2))
// A command that leaves nothing running ends the process now rather than after Node's teardown,
// unless output is still queued for a pipe whose reader is behind: then the loop drains it first.
if (exitsWhenDone() && process.stdout.writableLength === 0 && process.stderr.writableLength === 0)
  process.exit()
