/** One result of `aacseed doctor`, naming what to fix. */
export type FindingStatus = 'ok' | 'fail' | 'skipped'
export type CheckName = 'node' | 'path' | 'disk' | 'port' | 'engine' | 'seedbox' | 'clock' | 'unit'

export interface Finding {
  check: CheckName
  status: FindingStatus
  /** The setting to change (`torrents.out_dir`, `fleet.seedboxes[1].url`), or null. */
  setting: string | null
  /** The file or folder concerned, or null. */
  path: string | null
  message: string
}

export function finding(
  check: CheckName,
  status: FindingStatus,
  message: string,
  where: { setting?: string | null; path?: string | null } = {},
): Finding {
  return { check, status, setting: where.setting ?? null, path: where.path ?? null, message }
}
