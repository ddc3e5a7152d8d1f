import type { Command } from '../command.js'

export interface CommandEntry {
  name: string
  load(): Promise<Command>
}

/**
 * Every CLI command, in the order `aacseed --help` lists them. Loaded on demand: `aacseed scan`
 * should not pay for loading WebTorrent, Fastify and the fleet code it never uses.
 */
export const commandEntries: CommandEntry[] = [
  { name: 'scan', load: async () => (await import('./catalog.js')).scanCommand },
  { name: 'validate', load: async () => (await import('./catalog.js')).validateCommand },
  { name: 'get', load: async () => (await import('./catalog.js')).getCommand },
  { name: 'torrents make', load: async () => (await import('./torrents.js')).torrentsMake },
  { name: 'torrents list', load: async () => (await import('./torrents.js')).torrentsList },
  { name: 'coverage', load: async () => (await import('./coverage.js')).coverageCommand },
  { name: 'serve', load: async () => (await import('./service.js')).serveCommand },
  { name: 'seed', load: async () => (await import('./service.js')).seedCommand },
  { name: 'jobs', load: async () => (await import('./jobs.js')).jobsCommand },
  { name: 'run', load: async () => (await import('./service.js')).runCommand },
  { name: 'fleet plan', load: async () => (await import('./fleet.js')).fleetPlan },
  { name: 'fleet apply', load: async () => (await import('./fleet.js')).fleetApply },
  { name: 'fleet status', load: async () => (await import('./fleet.js')).fleetStatus },
  { name: 'mirror sources', load: async () => (await import('./mirror.js')).mirrorSources },
  { name: 'mirror sync', load: async () => (await import('./mirror.js')).mirrorSync },
  { name: 'mirror status', load: async () => (await import('./mirror.js')).mirrorStatus },
  { name: 'plan', load: async () => (await import('./mirror.js')).planCommand },
  { name: 'health', load: async () => (await import('./fleet.js')).healthCommand },
  { name: 'config', load: async () => (await import('./config.js')).configCommand },
  { name: 'doctor', load: async () => (await import('./doctor.js')).doctorCommand },
  { name: 'demo', load: async () => (await import('./catalog.js')).demoCommand },
  { name: 'aacid parse', load: async () => (await import('./aacid.js')).aacidParse },
  { name: 'aacid new', load: async () => (await import('./aacid.js')).aacidNew },
]
