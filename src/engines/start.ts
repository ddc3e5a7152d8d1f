import { ConfigError } from '../errors.js'
import { isEngineError, type Engine } from './engine.js'

/** Starts an engine; a taken port is a configuration error (exit 2), anything else is rethrown. */
export async function startEngine(engine: Engine): Promise<void> {
  try {
    await engine.start()
  } catch (e) {
    if (isEngineError(e) && e.code === 'port-in-use') throw new ConfigError(`engine: ${e.message}`)
    throw e
  }
}
