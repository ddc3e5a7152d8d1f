/**
 * Received peer messages parsed without copying every socket read (bittorrent-protocol 5.0.9,
 * the wire webtorrent 3 uses).
 *
 * Why: `Wire#_write` appends each socket read to what is left of the previous one and, when
 * anything is left (a message cut by the read's end: nearly always while pieces stream in),
 * concatenates the two into a new buffer before parsing (again at each read while the message is
 * incomplete). A download copied every received byte once or more that way: for the 2 GiB benchmark release, 2 GiB in 64 KiB copies outside V8's heap,
 * about 2 s of `concat` in the CPU profile of `mirror sync` plus the garbage collections the
 * external memory set off (#14 §1). Here the reads of an incomplete message are held as
 * they came, the message is copied once when its last bytes arrive (only its own bytes: at most
 * one block and its header), and the rest of the read is parsed in place, as the library does
 * when nothing is left over.
 *
 * Only for wires that read plaintext (see `plaintext`): while protocol encryption is being
 * negotiated, or when RC4 was chosen, every read is decrypted on arrival, and the library's own
 * path is kept.
 * The messages, their order and their contents are the library's; the block views passed on
 * point into the socket's read instead of into a copy of it.
 */
import WireModule from 'bittorrent-protocol'

interface WireInternals {
  _write: (this: WireInternals, data: Uint8Array, cb: (err: Error | null) => void) => void
  _processBuffer: (this: WireInternals) => void
  _encryptor: unknown
  _cryptoSyncPattern: unknown
  _pePending: boolean
  _buffer: Uint8Array[]
  _bufferSize: number
  _parserSize: number
}

/**
 * Whether what arrives is parsed as it came: no protocol encryption (PE) on this wire, or PE
 * negotiated and plaintext chosen (webtorrent's default `secure: 1` offers PE and prefers
 * plaintext, so two webtorrents exchange the PE keys and then talk in plaintext).
 */
function plaintext(w: WireInternals): boolean {
  const e = w._encryptor as { state?: unknown; _isEncrypted?: unknown } | null
  return e === null || (e.state === 'done' && e._isEncrypted === false)
}

const PATCHED = Symbol.for('aacseed.wireWriteWithoutCopy')

/** Installs the parse (once per process); returns whether it is installed. */
export function parseWireReadsInPlace(): boolean {
  const proto = (WireModule as unknown as { prototype: WireInternals & { [PATCHED]?: true } }).prototype
  if (proto[PATCHED]) return true
  // A later bittorrent-protocol may rename these internals: then its own path stays.
  if (typeof proto._write !== 'function' || typeof proto._processBuffer !== 'function') return false
  const original = proto._write
  proto._write = function (this: WireInternals, data: Uint8Array, cb: (err: Error | null) => void): void {
    if (!plaintext(this) || this._cryptoSyncPattern !== null || this._pePending) {
      original.call(this, data, cb)
      return
    }
    const need = this._parserSize - this._bufferSize
    if (need > 0 && data.length < need) {
      // Still short of the next message: held as it came, copied once when the message is whole.
      this._buffer.push(data)
      this._bufferSize += data.length
      cb(null)
      return
    }
    if (need > 0 && this._buffer.length > 0) {
      const message = new Uint8Array(this._parserSize)
      let at = 0
      for (const part of this._buffer) {
        message.set(part, at)
        at += part.length
      }
      message.set(data.subarray(0, need), at)
      this._buffer = [message]
      this._bufferSize = this._parserSize
      this._processBuffer()
      data = data.subarray(need)
      if (data.length === 0) {
        cb(null)
        return
      }
    }
    // Nothing held now (or a state this does not know: the library's path handles both).
    original.call(this, data, cb)
  }
  proto[PATCHED] = true
  return true
}
