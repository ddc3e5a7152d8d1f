/**
 * A problem is an expected defect found in data (a bad name, a corrupt file, a conflict),
 * reported and stored as plain data so the CLI, the API and the dashboard render one shape.
 */
export interface Problem {
  /** Path relative to the release root it was found under (or as given, for `validate`). */
  path: string
  /** 1-based line in the decompressed metadata file, when the problem is about one line. */
  line: number | null
  aacid: string | null
  code: string
  message: string
}

export function problem(
  code: string,
  path: string,
  message: string,
  extra: { line?: number | null; aacid?: string | null } = {},
): Problem {
  return { path, line: extra.line ?? null, aacid: extra.aacid ?? null, code, message }
}
