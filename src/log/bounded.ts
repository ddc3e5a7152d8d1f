/**
 * A log line whose rate is bounded: the first `lines` in each window are written as they come,
 * the rest are counted and written as one line when the window ends. For lines that someone
 * outside can cause (a request to the embedded tracker that is not an announce, a tracker
 * refusing thousands of torrents), so that no one floods the journal from the network.
 */
export interface BoundedLine {
  (fields: Record<string, unknown>, msg: string): void
  /** Writes what is counted and stops the timer. */
  close(): void
}

/**
 * How many lines a window, and the line for those left out of it: either `what` for the default
 * (`{what}: N more in S s, the latest: ...` with the field `more`), or a `summary` of the caller's
 * own, given how many were left out and the latest of them.
 */
export type BoundedLineOptions = { lines: number; windowMs: number } & (
  | { what: string; summary?: never }
  | {
      what?: never
      summary: (
        more: number,
        latest: { fields: Record<string, unknown>; msg: string },
      ) => [Record<string, unknown>, string]
    }
)

export function boundedLine(
  write: (fields: Record<string, unknown>, msg: string) => void,
  opts: BoundedLineOptions,
): BoundedLine {
  const summary =
    opts.summary ??
    ((more, latest): [Record<string, unknown>, string] => [
      { more },
      `${opts.what}: ${more} more in ${Math.round(opts.windowMs / 1000)} s, the latest: ${typeof latest.fields.err === 'string' ? `${latest.msg}: ${latest.fields.err}` : latest.msg}`,
    ])
  let written = 0
  let untold = 0
  let latest = { fields: {} as Record<string, unknown>, msg: '' }
  let timer: NodeJS.Timeout | undefined
  const flush = (): void => {
    timer = undefined
    if (untold > 0) write(...summary(untold, latest))
    written = 0
    untold = 0
  }
  const line = ((fields: Record<string, unknown>, msg: string): void => {
    if (written < opts.lines) {
      written++
      write(fields, msg)
    } else {
      untold++
      latest = { fields, msg }
    }
    if (!timer) {
      timer = setTimeout(flush, opts.windowMs)
      timer.unref()
    }
  }) as BoundedLine
  line.close = () => {
    clearTimeout(timer)
    flush()
  }
  return line
}
