/**
 * The simple globs of the config (`catalog.ignore`, a mirror source's `collections`): `*` is any run of
 * characters, nothing else is special.
 */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
}
