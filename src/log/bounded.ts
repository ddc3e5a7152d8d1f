/**
 * A log line whose rate is bounded: the first `lines` in each window are written as they come,
 * the rest are counted and written as one line when the window ends. For lines that someone
 * outside can cause (a request to the embedded tracker that is not an announce), so that no one
 * floods the journal from the network.
 */
export interface BoundedLine {
  (fields: Record<string, unknown>, msg: string): void
  /** Writes what is counted and stops the timer. */
  close(): void
}

export function boundedLine(
  write: (fields: Record<string, unknown>, msg: string) => void,
  opts: { lines: number; windowMs: number; what: string },
): BoundedLine {
  let written = 0
  let untold = 0
  let latest = ''
  let timer: NodeJS.Timeout | undefined
  const flush = (): void => {
    timer = undefined
    if (untold > 0)
      write(
        { more: untold },
        `${opts.what}: ${untold} more in ${Math.round(opts.windowMs / 1000)} s, the latest: ${latest}`,
      )
    written = 0
    untold = 0
  }
  const line = ((fields: Record<string, unknown>, msg: string): void => {
    if (written < opts.lines) {
      written++
      write(fields, msg)
    } else {
      untold++
      latest = typeof fields.err === 'string' ? `${msg}: ${fields.err}` : msg
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
