/**
 * Errors that a user can act on carry a stable kebab-case `code` and, where known, the
 * file, line and field they are about. Bugs stay plain `Error`s and keep their stack.
 */
export interface ErrorLocation {
  path?: string
  line?: number
  field?: string
}

export class AacseedError extends Error {
  readonly code: string
  readonly location: ErrorLocation

  constructor(code: string, message: string, location: ErrorLocation = {}) {
    super(message)
    this.name = new.target.name
    this.code = code
    this.location = location
  }
}

/** Bad command-line arguments: exit code 2. */
export class UsageError extends AacseedError {
  constructor(message: string) {
    super('usage', message)
  }
}

/** A configuration file or environment variable that cannot be used: exit code 2. */
export class ConfigError extends AacseedError {
  constructor(message: string, location: ErrorLocation = {}) {
    super('config', message, location)
  }
}

/**
 * The machine, not the input or the program: a full disk, a read-only file system, a denied
 * permission, an I/O error. Exit code 3, so a script (or systemd's `RestartPreventExitStatus`)
 * can tell "free some space" from "problems found" (1) and "fix the command or config" (2).
 * The message names the file system and what was being written; see `environmentError` in fs.ts.
 */
export class EnvironmentError extends AacseedError {}

export function isAacseedError(e: unknown): e is AacseedError {
  return e instanceof AacseedError
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}
