/** A one-line progress display on a TTY (stderr); silent otherwise, so logs and pipes stay clean. */
import { formatBytes } from '../units.js'
import { rawStream, visible } from './terminal.js'

export interface ProgressLine {
  /** `extra` as a function is formatted only when the line is drawn (a scan updates per chunk). */
  update(done: number, total: number, extra?: string | (() => string)): void
  done(): void
}

function formatEta(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--'
  const m = Math.floor(s / 60)
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`
}

export function progressLine(
  stream: NodeJS.WritableStream & { isTTY?: boolean },
  label: string,
): ProgressLine {
  if (!stream.isTTY) return { update() {}, done() {} }
  // Its own \r and ESC[2K are meant; the rest of stderr is shown visibly.
  const raw = rawStream(stream)
  const started = Date.now()
  let last = 0
  let shown = false
  return {
    update(done, total, extra) {
      const now = Date.now()
      if (now - last < 200) return
      last = now
      const secs = (now - started) / 1000
      const rate = done / Math.max(secs, 0.001)
      const pct = total > 0 ? Math.min(100, (done / total) * 100) : 0
      const width = 24
      const filled = Math.round((pct / 100) * width)
      const bar = '#'.repeat(filled) + '-'.repeat(width - filled)
      const text = typeof extra === 'function' ? extra() : extra
      raw.write(
        `\r\x1b[2K${label} [${bar}] ${pct.toFixed(0)}% ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(rate)}/s ETA ${formatEta((total - done) / rate)}${text ? ' ' + visible(text) : ''}`,
      )
      shown = true
    },
    done() {
      if (shown) raw.write('\r\x1b[2K')
    },
  }
}
