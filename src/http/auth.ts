/**
 * Bearer-token check for the mutating endpoints. Both sides are hashed with SHA-256 first, so
 * the comparison is constant-time and does not leak the token's length either.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { HttpError } from './errors.js'

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

export function tokenMatches(presented: string, token: string): boolean {
  return timingSafeEqual(digest(presented), digest(token))
}

/**
 * Throws the HTTP error for a request that may not change anything: 403 `read-only` when no
 * token is configured at all (nothing could make the request succeed), 401 `unauthorized`
 * when the Authorization header is missing, malformed or carries another token.
 */
export function requireToken(authorization: string | undefined, token: string | undefined): void {
  if (!token)
    throw new HttpError(
      403,
      'read-only',
      'this aacseed API is read-only: configure http.token_file or AACSEED_HTTP_TOKEN to allow changes',
    )
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '')
  if (!m || !tokenMatches(m[1]!, token))
    throw new HttpError(
      401,
      'unauthorized',
      'a valid bearer token is required: Authorization: Bearer <token>',
      {},
      { 'www-authenticate': 'Bearer realm="aacseed"' },
    )
}
