/**
 * The one URL redactor: every URL that reaches a log line, an error message, the API, the
 * dashboard or a database row (`swarm_scrapes.tracker`) passes through `redactUrl` first.
 *
 * What it hides, and why each:
 * - the password of `user:password@` (Transmission RPC URLs, mirror lists behind basic auth);
 * - the value of every query parameter: private trackers put passkeys in `?passkey=`, `?pk=`,
 *   `?authkey=`, `?torrent_pass=`, mirrors put access tokens in `?key=`, and no fixed list of
 *   names covers them all, so names stay (they help a reader) and values go;
 * - path segments that carry a passkey: the one next to `announce`/`scrape` (Gazelle's
 *   `/<key>/announce`, UNIT3D's `/announce/<key>`, TorrentLeech's `/a/<key>/announce`), and
 *   anywhere, a long run of letters and digits (a 32-hex passkey in a path of another shape).
 *
 * It works on the text, so the rest of the URL stays exactly as written and a URL that the WHATWG
 * parser rejects is still redacted. Text that does not start with a scheme (a file path) is
 * returned as it is.
 */

export const REDACTED = '***'

const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/is
/** The announce or scrape segment of a tracker URL (`announce`, `announce.php`, `scrape.php`). */
const TRACKER_VERB = /^(?:announce|scrape)(?:\.[a-z]+)?$/i
/** A passkey anywhere in a path: 16 or more letters and digits with at least one digit. */
const KEY_LIKE = /^(?=[a-z0-9]*[0-9])[a-z0-9]{16,}$/i
/** A segment next to announce/scrape is a key unless it is short and plainly a word. */
const KEY_BESIDE_VERB = /^[a-z0-9_~.%=-]{6,}$/i
const PLAIN_WORDS = new Set([
  'tracker',
  'tracker.php',
  'trackers',
  'torrents',
  'torrent',
  'public',
  'private',
])
/** Query parameters of the BitTorrent announce and scrape protocol (BEP 3, 23, 48): never secret. */
const PROTOCOL_PARAMS = new Set([
  'info_hash',
  'peer_id',
  'port',
  'uploaded',
  'downloaded',
  'left',
  'event',
  'compact',
  'no_peer_id',
  'numwant',
])
/** Magnet parameters that hold URLs (trackers, web seeds, sources), each redacted as a URL. */
const MAGNET_URL_PARAMS = new Set(['tr', 'ws', 'xs', 'as'])

export function redactUrl(url: string): string {
  if (/^magnet:\?/i.test(url)) return redactMagnet(url)
  const m = URL_PARTS.exec(url)
  if (!m) return url
  const [, scheme = '', authority = '', path = '', query, fragment] = m
  return scheme + redactAuthority(authority) + redactPath(path) + redactQuery(query) + (fragment ?? '')
}

/**
 * Redacts every URL inside free text (an error message from a library, a tracker's warning).
 * A URL ends at white space, a quote or an angle bracket; trailing punctuation stays outside it.
 */
export function redactUrlsIn(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi, (found) => {
    const trail = /[.,;:)\]}]+$/.exec(found)?.[0] ?? ''
    return redactUrl(found.slice(0, found.length - trail.length)) + trail
  })
}

function redactAuthority(authority: string): string {
  // The last @ ends the userinfo, as in a URL parser.
  const at = authority.lastIndexOf('@')
  if (at < 0) return authority
  const userinfo = authority.slice(0, at)
  const colon = userinfo.indexOf(':')
  const shown = colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:${REDACTED}`
  return `${shown}${authority.slice(at)}`
}

function redactPath(path: string): string {
  if (path === '' || path === '/') return path
  const segments = path.split('/')
  const verb = segments.map((s) => TRACKER_VERB.test(s))
  return segments
    .map((s, i) => {
      if (s === '' || verb[i]) return s
      const besideVerb = verb[i - 1] === true || verb[i + 1] === true
      if (besideVerb && KEY_BESIDE_VERB.test(s) && !PLAIN_WORDS.has(s.toLowerCase())) return REDACTED
      return KEY_LIKE.test(s) ? REDACTED : s
    })
    .join('/')
}

function redactQuery(query: string | undefined): string {
  if (query === undefined || query === '?') return query ?? ''
  return (
    '?' +
    query
      .slice(1)
      .split('&')
      .map((pair) => {
        if (pair === '') return pair
        const eq = pair.indexOf('=')
        // A bare `?<passkey>` is a value without a name.
        if (eq < 0) return REDACTED
        if (eq === pair.length - 1 || PROTOCOL_PARAMS.has(pair.slice(0, eq).toLowerCase())) return pair
        return `${pair.slice(0, eq + 1)}${REDACTED}`
      })
      .join('&')
  )
}

/** A magnet link keeps its infohash and name; the URLs it carries (`tr=`, `ws=`) are redacted. */
function redactMagnet(magnet: string): string {
  const q = magnet.indexOf('?')
  const pairs = magnet.slice(q + 1).split('&')
  return (
    magnet.slice(0, q + 1) +
    pairs
      .map((pair) => {
        const eq = pair.indexOf('=')
        if (eq < 0) return pair
        const name = pair.slice(0, eq)
        if (!MAGNET_URL_PARAMS.has(name.replace(/\.\d+$/, '').toLowerCase())) return pair
        let value: string
        try {
          value = decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '))
        } catch {
          return `${name}=${REDACTED}`
        }
        return `${name}=${encodeURIComponent(redactUrl(value))}`
      })
      .join('&')
  )
}
