/** Magnet links (BEP 9): what the published torrent list's `magnet_link` field holds. */
import { TorrentError } from './errors.js'

export interface MagnetInput {
  infoHash: string
  name: string
  trackers: readonly string[]
}

export function magnetLink({ infoHash, name, trackers }: MagnetInput): string {
  if (!/^[0-9a-fA-F]{40}$/.test(infoHash))
    throw new TorrentError(
      'invalid-infohash',
      `invalid infohash ${JSON.stringify(infoHash)}: expected 40 hex digits`,
    )
  const parts = [`xt=urn:btih:${infoHash.toLowerCase()}`, `dn=${percentEncode(name)}`]
  for (const tr of new Set(trackers)) parts.push(`tr=${percentEncode(tr)}`)
  return `magnet:?${parts.join('&')}`
}

/** RFC 3986: everything but the unreserved characters; encodeURIComponent spares !'()* too. */
function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}
