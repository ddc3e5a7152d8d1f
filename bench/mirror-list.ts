/**
 * npm run bench:mirror-list — the issue #12 case: a 1,000,000-entry upstream list (about
 * 200 MB, inside the default limits) read by `aacseed mirror sources`. Prints time and peak
 * RSS; the bar is 30 s and 400 MB. The list is a file source: it is streamed and parsed in a
 * worker thread exactly as a list fetched over HTTP is.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { SEED_CACHE } from './data.js'
import { measure } from './measure.js'

const N = Number(process.env.ENTRIES ?? 1_000_000)
const repo = resolve(import.meta.dirname, '..', '..')
const cli = join(repo, 'bin', 'aacseed.js')

function ts(sec: number): string {
  return new Date(Date.UTC(2024, 0, 1) + sec * 1000).toISOString().replace(/[-:]|\.\d+/g, '')
}

async function main(): Promise<void> {
  const dir = join(SEED_CACHE, 'mirror-list-run')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(join(dir, 'root'), { recursive: true })
  const list = join(dir, 'torrents.json')
  const fd = openSync(list, 'w')
  writeSync(fd, '[')
  let bytes = 1
  let buf: string[] = []
  for (let i = 0; i < N; i++) {
    const name = `annas_archive_meta__aacid__coll${i % 50}__${ts(i * 10)}--${ts(i * 10 + 9)}.jsonl.seekable.zst`
    const btih = createHash('sha1').update(name).digest('hex')
    buf.push(
      (i ? ',' : '') +
        JSON.stringify({
          display_name: `${name}.torrent`,
          btih,
          data_size: 1000 + i,
          added_to_torrents_list_at: '2024-01-02',
        }),
    )
    if (buf.length === 10_000) {
      const s = buf.join('')
      bytes += Buffer.byteLength(s)
      writeSync(fd, s)
      buf = []
    }
  }
  const s = buf.join('') + ']'
  bytes += Buffer.byteLength(s)
  writeSync(fd, s)
  closeSync(fd)
  writeFileSync(
    join(dir, 'aacseed.toml'),
    `[catalog]\nroots = [${JSON.stringify(join(dir, 'root'))}]\ndatabase = ${JSON.stringify(join(dir, 'aacseed.db'))}\n[http]\nenabled = false\n` +
      `[[mirror.sources]]\nname = "big"\nlist = ${JSON.stringify(list)}\ncollections = ["none-followed"]\n`,
  )
  console.log(`list: ${N} entries, ${(bytes / 1e6).toFixed(0)} MB`)
  const r = await measure(process.execPath, [cli, 'mirror', 'sources', '--config', join(dir, 'aacseed.toml')])
  console.log(
    `aacseed mirror sources: ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMb?.toFixed(0) ?? '?'} MB, exit ${r.code} (bar: 30 s, 400 MB; the machine may be shared)`,
  )
  if (r.code > 1) console.log(r.stderr.slice(-2000))
}

await main()
