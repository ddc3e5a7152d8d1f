/**
 * The undici `Agent` class of the `fetch` this Node runs, for the place aacseed must give that
 * `fetch` a dispatcher of its own: connections pinned to the addresses a host policy checked
 * (mirror/fetch.ts). (Tracker announces, its other user once, now go through node:http:
 * engines/announcer.ts.)
 *
 * Why not the `undici` package from npm: an Agent must come from the same undici major as the
 * `fetch` that uses it (the dispatch handler protocol changed between majors: a v7 Agent given to
 * Node 20's undici 6 fetch fails with "invalid onRequestStart method", a v6 one given to Node 26's
 * undici 8 with "invalid onError method"; nodejs/undici#5341), and the npm undici 6 line crashes
 * the process with an uncatchable `assert(!this.paused)` when a server closes the connection while
 * a slowly read body is paused (nodejs/undici#5360, fixed only in later majors; a million-entry
 * list from an upstream that sends `Connection: close` hit it). So the class is taken from the
 * host's own global dispatcher, under `Symbol.for('undici.globalDispatcher.1')`, the key every
 * copy of undici uses to share one global dispatcher (versioned by its Dispatcher API). Null if
 * that ever changes; callers say what they do then.
 */

/** What aacseed needs of a dispatcher: passed to `fetch` as `dispatcher`, closed when done. */
export interface Dispatcher {
  close(): Promise<void>
}

export type AgentClass = new (opts: Record<string, unknown>) => Dispatcher

export function hostAgentClass(): AgentClass | null {
  try {
    // oxlint-disable-next-line typescript/no-meaningless-void-operator -- the read itself is the point
    void globalThis.Headers // makes Node load its bundled undici, which installs the global dispatcher
    const global = (globalThis as Record<symbol, unknown>)[Symbol.for('undici.globalDispatcher.1')] as
      object | undefined
    const Agent = global?.constructor as AgentClass | undefined
    return Agent && Agent.name === 'Agent' ? Agent : null
  } catch {
    return null
  }
}
