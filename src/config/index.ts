export { configSchema, type Config, type ConfigInput } from './schema.js'
export { loadConfig, checkRoots, readSecret, type LoadConfigOptions } from './load.js'
