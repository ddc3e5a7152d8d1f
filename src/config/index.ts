export {
  configSchema,
  ENGINE_KINDS,
  JOB_NAMES,
  type Config,
  type ConfigInput,
  type JobName,
} from './schema.js'
export {
  loadConfig,
  checkRoots,
  readSecret,
  trackerAnnounceTiers,
  withTrackerAnnounce,
  type LoadConfigOptions,
} from './load.js'
export {
  locateConfig,
  describeConfigLocation,
  userConfigPath,
  userDataDir,
  type ConfigLocation,
  type ConfigSource,
} from './locate.js'
