/**
 * Every error the HTTP API answers is JSON: `{"error": {"code": "kebab-case", "message": "..."}}`,
 * with a stable code a client can branch on and a message a person can read.
 */
export type HttpErrorCode =
  | 'bad-request'
  | 'unauthorized'
  | 'read-only'
  | 'forbidden-host'
  | 'not-found'
  | 'unknown-collection'
  | 'unknown-job'
  | 'unknown-torrent'
  | 'job-running'
  | 'jobs-stopping'
  | 'coverage-closed'
  | 'method-not-allowed'
  | 'unsupported-media-type'
  | 'payload-too-large'
  | 'headers-too-large'
  | 'request-timeout'
  | 'internal'

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

export function errorBody(
  code: HttpErrorCode,
  message: string,
  extra: Record<string, unknown> = {},
): { error: { code: HttpErrorCode; message: string } } & Record<string, unknown> {
  return { error: { code, message }, ...extra }
}
