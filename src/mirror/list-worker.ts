/**
 * The worker thread that fetches and parses one upstream list (`readListStream`), so that
 * tokenising hundreds of megabytes never blocks the event loop that serves the API. It sends
 * batches of judged entries, at most two ahead of the writer: memory stays bounded however
 * fast the upstream sends.
 */
import { createReadStream } from 'node:fs'
import { lstat } from 'node:fs/promises'
import { parentPort } from 'node:worker_threads'
import { AacseedError, errorMessage } from '../errors.js'
import { MirrorError } from './errors.js'
import { isRemote, openStream, type FetchOptions } from './fetch.js'
import { listWorkerInput } from './list-read.js'
import { readListStream, type ListBatch } from './list-stream.js'
import type { ListContext } from './list.js'

export interface ListWorkerInput {
  ctx: ListContext
  fetch: Omit<FetchOptions, 'signal' | 'onRetry' | 'hosts'> & { allowPrivate: boolean | null }
}

export type ListWorkerMessage =
  | { type: 'batch'; batch: ListBatch }
  | { type: 'done'; entries: number }
  | { type: 'error'; code: string; message: string; transient: boolean }

async function* fileChunks(path: string, maxBytes: number): AsyncGenerator<Uint8Array> {
  let st
  try {
    st = await lstat(path)
  } catch (e) {
    throw new MirrorError(
      'fetch-failed',
      `${path}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`,
      {
        transient: true,
        path,
      },
    )
  }
  if (!st.isFile()) throw new MirrorError('fetch-failed', `${path}: not a regular file`, { path })
  if (st.size > maxBytes)
    throw new MirrorError('too-large', `${path}: ${st.size} bytes, more than the limit of ${maxBytes}`, {
      path,
    })
  let size = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes)
      throw new MirrorError('too-large', `${path}: more than the limit of ${maxBytes} bytes`, { path })
    yield chunk
  }
}

const MAX_UNACKED = 2

async function main(port: NonNullable<typeof parentPort>, input: ListWorkerInput): Promise<void> {
  // Batches sent and not yet stored. One more than the writer holds lets the next batch be parsed while the
  // writer stores this one (two threads busy), and memory still stays bounded.
  let unacked = 0
  let acked: (() => void) | null = null
  port.on('message', () => {
    unacked--
    const a = acked
    acked = null
    a?.()
  })
  const send = (m: ListWorkerMessage): void => port.postMessage(m)
  const { allowPrivate, ...fetchOpts } = input.fetch
  try {
    const location = input.ctx.location
    const chunks = isRemote(location)
      ? openStream(location, { ...fetchOpts, ...(allowPrivate === null ? {} : { hosts: { allowPrivate } }) })
      : fileChunks(location, fetchOpts.maxBytes)
    const { entries } = await readListStream(chunks, input.ctx, async (batch) => {
      while (unacked >= MAX_UNACKED) await new Promise<void>((r) => (acked = r))
      unacked++
      send({ type: 'batch', batch })
    })
    while (unacked > 0) await new Promise<void>((r) => (acked = r))
    send({ type: 'done', entries })
  } catch (e) {
    send({
      type: 'error',
      code: e instanceof AacseedError ? e.code : 'fetch-failed',
      message: errorMessage(e),
      transient: e instanceof MirrorError ? e.transient : false,
    })
  }
  port.close()
}

if (parentPort) {
  const port = parentPort
  void listWorkerInput<ListWorkerInput>().then((input) => main(port, input))
}
