/**
 * Safe terminal output. File names, list entries and error messages come from strangers; printed
 * raw, `ESC [2J ESC ]0;PWNED BEL` clears the screen and retitles the window. Like `ls`, aacseed
 * shows such characters in a visible escaped form instead.
 *
 * The form is JSON's `\u001b`: it is what the JSON-escaped message parts already show, and it
 * keeps every JSON output (`--json`, JSON log lines) valid JSON with the same value, so one guard
 * can sit on stdout and stderr whatever a command prints.
 *
 * Escaped: C0 controls (newline and tab too inside a name, not between lines), DEL, C1 controls
 * (U+0080–U+009F; U+009B is a CSI on some terminals), the bidirectional overrides that reorder
 * what a reader sees (U+202A–U+202E, U+2066–U+2069), the line and paragraph separators, and lone
 * UTF-16 surrogates (what is left of invalid UTF-8 that JavaScript kept as a string).
 */
import { Writable } from 'node:stream'

// Lone surrogates: a high one not followed by a low one, or a low one not preceded by a high one.
const UNSAFE_IN_LINES =
  // oxlint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu
const UNSAFE_IN_NAME =
  // oxlint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu

function escapeChar(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
}

/** A name or value in a visible form: every control character escaped, newlines and tabs too. */
export function visible(text: string): string {
  return text.replace(UNSAFE_IN_NAME, escapeChar)
}

/** Lines of output in a visible form: the newlines and tabs that lay them out stay. */
export function visibleLines(text: string): string {
  return text.replace(UNSAFE_IN_LINES, escapeChar)
}

// Bytes that start something to escape in UTF-8 output: C0 (but \t \n), DEL, C2 (the lead
// byte of U+0080–U+009F), E2 (of U+2028…U+2069), ED (of surrogates).
// oxlint-disable-next-line no-control-regex -- matching control characters is the point
const RISKY_BYTE = /[\x00-\x08\x0b-\x1f\x7f\xc2\xe2\xed]/

type TerminalStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number }

/**
 * A stream that writes to `target` in a visible form. `raw` is the target itself, for the one
 * writer that means its control characters (the progress line's `\r ESC[2K`).
 */
export class VisibleStream extends Writable {
  readonly isTTY: boolean
  readonly columns: number | undefined

  constructor(readonly raw: TerminalStream) {
    super({ decodeStrings: false })
    this.isTTY = raw.isTTY === true
    this.columns = raw.columns
  }

  override _write(chunk: unknown, _encoding: BufferEncoding, cb: (e?: Error | null) => void): void {
    let out: string | Uint8Array
    if (typeof chunk === 'string') out = visibleLines(chunk)
    else {
      const bytes = chunk as Buffer
      // Unremarkable bytes (a record, a list) pass as they are, byte for byte.
      out = RISKY_BYTE.test(bytes.toString('latin1')) ? visibleLines(bytes.toString('utf8')) : bytes
    }
    // Straight through, in this tick: output written just before the process exits is not held
    // back here. Errors (EPIPE) surface on the target, where bin/aacseed.js handles them.
    this.raw.write(out)
    cb()
  }
}

/** The stream itself when it is already visible, else a visible wrapper. */
export function visibleStream(s: TerminalStream): TerminalStream {
  return s instanceof VisibleStream ? s : new VisibleStream(s)
}

/** The stream under a visible wrapper: for writers whose control characters are meant. */
export function rawStream(s: TerminalStream): TerminalStream {
  return s instanceof VisibleStream ? s.raw : s
}
