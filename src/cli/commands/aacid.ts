import { newAacId, parseAacId } from '../../aac/index.js'
import { UsageError } from '../../errors.js'
import { defineCommand, stringFlag, writeJson } from '../command.js'

function aacidJson(id: ReturnType<typeof parseAacId>) {
  return {
    aacid: id.text,
    collection: id.collection,
    timestamp: id.timestamp.text,
    time: new Date(id.timestamp.seconds * 1000).toISOString(),
    id: id.id,
    shortuuid: id.shortuuid,
  }
}

export const aacidParse = defineCommand({
  name: 'aacid parse',
  usage: 'AACID',
  options: {},
  async run(ctx) {
    if (ctx.positionals.length !== 1) throw new UsageError('usage: aacseed aacid parse AACID')
    writeJson(ctx, aacidJson(parseAacId(ctx.positionals[0]!)))
    return 0
  },
})

export const aacidNew = defineCommand({
  name: 'aacid new',
  usage: 'COLLECTION [--id ID] [--time YYYYMMDDTHHMMSSZ]',
  options: { id: { type: 'string' }, time: { type: 'string' } },
  help: [
    '--id ID       the collection-specific id (optional)',
    '--time TS     the timestamp (default: now, UTC)',
  ],
  async run(ctx) {
    if (ctx.positionals.length !== 1)
      throw new UsageError('usage: aacseed aacid new COLLECTION [--id ID] [--time TIMESTAMP]')
    const time = stringFlag(ctx.values.time)
    const id = newAacId(ctx.positionals[0]!, {
      id: stringFlag(ctx.values.id) ?? null,
      ...(time ? { timestamp: time } : {}),
    })
    ctx.out.write(id.text + '\n')
    return 0
  },
})
