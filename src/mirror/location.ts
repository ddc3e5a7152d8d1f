/**
 * Where a list or .torrent comes from, as shown to people. Apart from `fetch.ts` so that the
 * reports (`coverage`, the planner) that show upstream locations do not load the fetching code
 * and its resolver at start-up (issue #11 §8).
 */
import { redactUrl } from '../log/redact.js'

/**
 * A location as shown in messages, logs and the API: a URL through the one redactor (a private
 * upstream's `?key=…` becomes `?key=***`), a file as it is.
 */
export function displayLocation(location: string): string {
  return isRemote(location) ? redactUrl(location) : location
}

export function isRemote(location: string): boolean {
  return /^https?:\/\//i.test(location)
}
