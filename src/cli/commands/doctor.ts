import { resolve } from 'node:path'
import { locateConfig } from '../../config/index.js'
import { defineCommand, stringFlag, writeJson } from '../command.js'

export const doctorCommand = defineCommand({
  name: 'doctor',
  usage: '[--unit PATH] [--json]',
  options: { unit: { type: 'string', multiple: true }, json: { type: 'boolean' } },
  help: [
    'Exit 1 when something needs fixing; each finding names the setting or path to fix.',
    '--unit PATH   the systemd unit to compare with the config (repeatable; default:',
    '              ~/.config/systemd/user/aacseed.service, /etc/systemd/system/aacseed.service)',
    '--json        {"ok": bool, "config": path, "findings": [{check, status, setting, path, message}]}',
  ],
  async run(ctx) {
    // Loaded here: the engine and fleet clients come only with a config that has them.
    const { runDoctor } = await import('../../doctor/index.js')
    const config = ctx.config()
    const located = locateConfig({ path: stringFlag(ctx.values.config), env: ctx.env, cwd: ctx.cwd })
    const units = Array.isArray(ctx.values.unit)
      ? ctx.values.unit.filter((u): u is string => typeof u === 'string').map((u) => resolve(ctx.cwd, u))
      : undefined
    const findings = await runDoctor({
      config,
      configPath: located.path,
      env: ctx.env,
      ...(units ? { unitPaths: units } : {}),
    })
    const failed = findings.filter((f) => f.status === 'fail')
    if (ctx.values.json) writeJson(ctx, { ok: failed.length === 0, config: located.path, findings })
    else {
      const label = { ok: 'ok  ', fail: 'FIX ', skipped: 'skip' } as const
      ctx.out.write(`aacseed doctor: config ${located.path ?? '(none: built-in defaults)'}\n`)
      for (const f of findings) ctx.out.write(`  ${label[f.status]}  ${f.check.padEnd(7)}  ${f.message}\n`)
      ctx.out.write(
        failed.length === 0
          ? `all ${findings.length} checks passed\n`
          : `${failed.length} of ${findings.length} checks need fixing\n`,
      )
    }
    return failed.length === 0 ? 0 : 1
  },
})
