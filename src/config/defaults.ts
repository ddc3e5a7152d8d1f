/**
 * Defaults that are read before the schema loads (by `torrents make`'s head start) as well as by
 * the schema itself, so that both agree.
 */
export const EARLY_DEFAULTS = {
  database: 'aacseed.db',
  out_dir: 'torrents',
  piece_length: 0,
  hash_workers: 0,
} as const
