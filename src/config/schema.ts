/**
 * The one configuration schema: defaults, types and error messages all come from here.
 * `config/aacseed.example.toml` documents every key; keep the two in step.
 */
import { z } from 'zod'

const cron = z.string().min(1)
const bytes = z.number().int().nonnegative()

const catalog = z
  .object({
    /** Release roots to catalog: folders holding metadata files and data folders side by side. */
    roots: z.array(z.string().min(1)).default([]),
    /** The SQLite database. */
    database: z.string().min(1).default('aacseed.db'),
    /** Records per write transaction while cataloging. */
    batch_records: z.number().int().min(100).max(1_000_000).default(20_000),
    /** Worker threads parsing and validating records (0 = one per core). */
    parse_workers: z.number().int().min(0).max(64).default(0),
    /** A longer metadata line is reported (`line-too-long`) and skipped, which bounds memory. */
    max_line_bytes: z.number().int().min(1024 * 1024).default(64 * 1024 * 1024),
    /** Names in a release root that are neither releases nor problems (`*` globs). */
    ignore: z.array(z.string()).default(['.*', 'lost+found']),
  })
  .strict()
  .default({})

const torrents = z
  .object({
    /** Folder the .torrent files are written to, named `<original name>.torrent`. */
    out_dir: z.string().min(1).default('torrents'),
    /** The published torrent list, rewritten after every `torrents make`. Empty: do not write one. */
    list_path: z.string().default('torrents.json'),
    /** Piece length in bytes (a power of two, 32 KiB to 16 MiB); 0 picks one from the size. */
    piece_length: z
      .number()
      .int()
      .refine((n) => n === 0 || (n >= 32768 && n <= 16777216 && (n & (n - 1)) === 0), 'must be 0 (auto) or a power of two from 32768 to 16777216')
      .default(0),
    /** `range-end`: the creation date is the end of the release's AACID range; `omit`: none. */
    creation_date: z.enum(['range-end', 'omit']).default('range-end'),
    /** Announce-list tiers (BEP 12); the first URL is also `announce`. */
    announce: z.array(z.array(z.string().url()).min(1)).default([]),
    /** BEP 19 web seed base URLs: the release root served over HTTP (e.g. by nginx). */
    web_seeds: z.array(z.string().url()).default([]),
    comment: z.string().default(''),
    /** The `source` key in the info dictionary (changes the infohash; for private trackers). */
    source: z.string().default(''),
    private: z.boolean().default(false),
    /** Base URL the .torrent files are published under, for the list's `url` field. */
    url_base: z.string().default(''),
    /** The list's `top_level_group_name` for every torrent. */
    top_level_group_name: z.string().default('aac'),
    /** Hashing threads (0 = one per core). */
    hash_workers: z.number().int().min(0).max(64).default(0),
  })
  .strict()
  .default({})

const webtorrent = z
  .object({
    port: z.number().int().min(0).max(65535).default(6881),
    host: z.string().default('0.0.0.0'),
    dht: z.boolean().default(true),
    lsd: z.boolean().default(true),
    /** Extra trackers announced to besides those in each torrent. */
    trackers: z.array(z.string()).default([]),
    max_connections: z.number().int().min(1).default(55),
  })
  .strict()
  .default({})

const transmission = z
  .object({
    url: z.string().url().default('http://127.0.0.1:9091/transmission/rpc'),
    username: z.string().default(''),
    /** Read the password from this file (e.g. a systemd credential); or set AACSEED_TRANSMISSION_PASSWORD. */
    password_file: z.string().default(''),
    /** Where the daemon sees the release roots: { "/srv/releases" = "/downloads/releases" }. */
    path_map: z.record(z.string()).default({}),
    labels: z.array(z.string()).default(['aacseed']),
    timeout_ms: z.number().int().min(100).default(30_000),
  })
  .strict()
  .default({})

const engine = z
  .object({
    kind: z.enum(['webtorrent', 'transmission']).default('webtorrent'),
    webtorrent,
    transmission,
  })
  .strict()
  .default({})

const jobs = z
  .object({
    scan: cron.default('*/30 * * * *'),
    make_torrents: cron.default('*/30 * * * *'),
    seed: cron.default('*/10 * * * *'),
    engine_status: cron.default('* * * * *'),
    /** Job runs kept in the database. */
    keep_runs: z.number().int().min(10).default(1000),
  })
  .strict()
  .default({})

const http = z
  .object({
    enabled: z.boolean().default(true),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8737),
    /** Bearer token for mutating endpoints; read from this file, or AACSEED_HTTP_TOKEN. Empty: read-only API. */
    token_file: z.string().default(''),
  })
  .strict()
  .default({})

const log = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  })
  .strict()
  .default({})

export const configSchema = z
  .object({
    catalog,
    torrents,
    engine,
    jobs,
    http,
    log,
  })
  .strict()

export type Config = z.infer<typeof configSchema>
export type ConfigInput = z.input<typeof configSchema>
