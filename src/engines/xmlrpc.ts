/**
 * XML-RPC as rTorrent (xmlrpc-c) speaks it, and the SCGI framing of `network.scgi.open_port`.
 * Only what rTorrent sends and takes: string, i4/i8/int, boolean, double, base64, array,
 * struct, nil. Pure functions plus one socket exchange.
 */
import { connect } from 'node:net'

export type XmlRpcValue =
  string | number | boolean | Buffer | null | XmlRpcValue[] | { [k: string]: XmlRpcValue }

/** A fault answered by the server (an unknown method, an unknown infohash, ...). */
export class XmlRpcFault extends Error {
  constructor(
    readonly faultCode: number,
    readonly faultString: string,
  ) {
    super(`fault ${faultCode}: ${faultString}`)
  }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' }
const escapeXml = (s: string): string => s.replace(/[&<>]/g, (c) => ESC[c]!)

function encodeValue(v: XmlRpcValue): string {
  if (v === null) return '<value><nil/></value>'
  if (typeof v === 'string') return `<value><string>${escapeXml(v)}</string></value>`
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`
  if (typeof v === 'number')
    return Number.isInteger(v) ? `<value><i8>${v}</i8></value>` : `<value><double>${v}</double></value>`
  if (Buffer.isBuffer(v)) return `<value><base64>${v.toString('base64')}</base64></value>`
  if (Array.isArray(v)) return `<value><array><data>${v.map(encodeValue).join('')}</data></array></value>`
  const members = Object.entries(v)
    .map(([k, x]) => `<member><name>${escapeXml(k)}</name>${encodeValue(x)}</member>`)
    .join('')
  return `<value><struct>${members}</struct></value>`
}

export function encodeCall(method: string, params: readonly XmlRpcValue[]): string {
  return `<?xml version="1.0"?><methodCall><methodName>${escapeXml(method)}</methodName><params>${params
    .map((p) => `<param>${encodeValue(p)}</param>`)
    .join('')}</params></methodCall>`
}

/** A `methodResponse` carrying `value` (what the tests' fake rTorrent answers; the client only decodes). */
export function encodeResponse(value: XmlRpcValue): string {
  return `<?xml version="1.0"?><methodResponse><params><param>${encodeValue(value)}</param></params></methodResponse>`
}

const ENTITY: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }
function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) =>
    e.startsWith('#x')
      ? String.fromCodePoint(parseInt(e.slice(2), 16))
      : e.startsWith('#')
        ? String.fromCodePoint(Number(e.slice(1)))
        : ENTITY[e]!,
  )
}

/** Decodes a `methodResponse`; a `fault` becomes an `XmlRpcFault`, anything unreadable an Error. */
export function decodeResponse(xml: string): XmlRpcValue {
  const tokens = xml.match(/<[^>]+>|[^<]+/g) ?? []
  let i = 0
  const next = (): string => tokens[i++] ?? ''
  const skipSpace = (): void => {
    while (i < tokens.length && !tokens[i]!.startsWith('<') && tokens[i]!.trim() === '') i++
  }
  const expect = (tag: string): void => {
    skipSpace()
    const t = next()
    if (t !== tag) throw new Error(`XML-RPC: expected ${tag}, got ${t.slice(0, 40)}`)
  }
  const text = (close: string): string => {
    let s = ''
    while (i < tokens.length && tokens[i] !== close) s += tokens[i++]
    expect(close)
    return unescapeXml(s)
  }
  const value = (): XmlRpcValue => {
    expect('<value>')
    // A <value> holding bare text is a string.
    if (tokens[i] !== undefined && !tokens[i]!.startsWith('<')) {
      const raw = next()
      if (tokens[i] === '</value>') {
        i++
        return unescapeXml(raw)
      }
    }
    skipSpace()
    const tag = next()
    let v: XmlRpcValue
    switch (tag) {
      case '</value>':
        return ''
      case '<string/>':
        v = ''
        break
      case '<nil/>':
        v = null
        break
      case '<string>':
        v = text('</string>')
        break
      case '<i4>':
      case '<i8>':
      case '<int>':
        v = Number(text(`</${tag.slice(1)}`))
        break
      case '<double>':
        v = Number(text('</double>'))
        break
      case '<boolean>':
        v = text('</boolean>').trim() === '1'
        break
      case '<base64>':
        v = Buffer.from(text('</base64>'), 'base64')
        break
      case '<array>': {
        skipSpace()
        const arr: XmlRpcValue[] = []
        if (tokens[i] === '<data/>') i++
        else {
          expect('<data>')
          for (;;) {
            skipSpace()
            if (tokens[i] === '</data>') break
            arr.push(value())
          }
          expect('</data>')
        }
        expect('</array>')
        v = arr
        break
      }
      case '<struct>': {
        const obj: Record<string, XmlRpcValue> = {}
        for (;;) {
          skipSpace()
          if (tokens[i] === '</struct>') break
          expect('<member>')
          expect('<name>')
          const name = text('</name>')
          obj[name] = value()
          expect('</member>')
        }
        expect('</struct>')
        v = obj
        break
      }
      default:
        throw new Error(`XML-RPC: unexpected ${tag.slice(0, 40)}`)
    }
    expect('</value>')
    return v
  }
  while (i < tokens.length && tokens[i] !== '<methodResponse>') i++
  expect('<methodResponse>')
  skipSpace()
  if (tokens[i] === '<fault>') {
    i++
    const f = value() as { faultCode?: number; faultString?: string }
    throw new XmlRpcFault(Number(f.faultCode ?? 0), String(f.faultString ?? ''))
  }
  expect('<params>')
  expect('<param>')
  return value()
}

/**
 * One SCGI request (netstring headers, then the body) and its answer's body; rTorrent closes the
 * connection after answering. The answer starts with CGI headers (`Status: 200 OK`).
 */
export async function scgiExchange(
  host: string,
  port: number,
  body: string,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  const payload = Buffer.from(body)
  const headers = `CONTENT_LENGTH\0${payload.length}\0SCGI\x001\0REQUEST_METHOD\0POST\0REQUEST_URI\0/RPC2\0`
  const request = Buffer.concat([Buffer.from(`${Buffer.byteLength(headers)}:${headers},`), payload])
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect({ host, port })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(Object.assign(new Error('timeout'), { name: 'TimeoutError' }))
    }, timeoutMs)
    socket.on('connect', () => socket.end(request))
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    socket.on('close', () => {
      clearTimeout(timer)
      const all = Buffer.concat(chunks).toString('utf8')
      const split = all.indexOf('\r\n\r\n')
      const head = split < 0 ? '' : all.slice(0, split)
      const status = /^Status:\s*(\d+)/im.exec(head)
      resolve({
        status: status ? Number(status[1]) : split < 0 ? 0 : 200,
        body: split < 0 ? all : all.slice(split + 4),
      })
    })
  })
}
