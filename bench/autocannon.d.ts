// autocannon ships no types; the part bench/api.ts and bench/seed-scale.ts use.
declare module 'autocannon' {
  export interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p99: number
  }
  export interface Result {
    url: string
    requests: Histogram
    latency: Histogram
    throughput: Histogram
    errors: number
    timeouts: number
    non2xx: number
    duration: number
  }
  export interface Options {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
    headers?: Record<string, string>
  }
  /** A run: awaitable for its result; `stop()` ends it early (the result then covers the time run). */
  function autocannon(opts: Options): PromiseLike<Result> & { stop(): void }
  export default autocannon
}
