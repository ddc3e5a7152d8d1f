/** The HTTP API, Prometheus metrics and dashboard of `aacseed serve`. */
export {
  buildHttpServer,
  startHttpServer,
  isLoopbackHost,
  type EngineProbe,
  type HttpServerOptions,
  type RunningHttpServer,
} from './server.js'
export { runnerJobs, runJson, type JobsApi } from './jobs.js'
export { HttpMetrics, METRIC_NAMES, PER_TORRENT_METRIC_NAMES } from './metrics.js'
export { HttpError, errorBody, type HttpErrorCode } from './errors.js'
export { tokenMatches, requireToken } from './auth.js'
export { escapeHtml } from './dashboard/page.js'
export { healthInputs, startServeHttp, packageVersion, type ServeHttpOptions } from './serve.js'
