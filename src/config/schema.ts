/**
 * The one configuration schema: defaults, types and error messages all come from here.
 * `config/aacseed.example.toml` documents every key; keep the two in step.
 */
import { z } from 'zod'
import { EARLY_DEFAULTS } from './defaults.js'
import { parseSize } from './size.js'

const cron = z.string().min(1)
const bytes = z.number().int().nonnegative()
/** Bytes as a number or as a size string (`10TB`, `500 GiB`). */
const size = z.union([
  bytes,
  z.string().transform((s, ctx) => {
    const n = parseSize(s)
    if (n === null) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `${JSON.stringify(s)} is not a size (e.g. 500GB, 10TB, 2TiB or a number of bytes)`,
      })
      return z.NEVER
    }
    return n
  }),
])

const catalog = z
  .object({
    /** Release roots to catalog: folders holding metadata files and data folders side by side. */
    roots: z.array(z.string().min(1)).default([]),
    /** The SQLite database. */
    database: z.string().min(1).default(EARLY_DEFAULTS.database),
    /**
     * Decompressed bytes per chunk: a line worker checks a chunk and writes its records in one transaction.
     */
    chunk_bytes: z
      .number()
      .int()
      .min(65_536)
      .max(64 * 1024 * 1024)
      .default(2 * 1024 * 1024),
    /**
     * Worker threads parsing and validating records, besides the decompressing thread, which
     * validates too when they are busy (0 = one per core but one).
     */
    parse_workers: z.number().int().min(0).max(64).default(0),
    /** A longer metadata line is reported (`line-too-long`) and skipped, which bounds memory. */
    max_line_bytes: z
      .number()
      .int()
      .min(1024 * 1024)
      // A line is held whole while it is parsed, at about 3 × its size in memory (a 2 GB line
      // cost 6.2 GB): 256 MiB keeps the worst line under 1 GB.
      .max(256 * 1024 * 1024)
      .default(64 * 1024 * 1024),
    /** Names in a release root that are neither releases nor problems (`*` globs). */
    ignore: z.array(z.string()).default(['.*', 'lost+found']),
  })
  .strict()
  .default({})

const torrents = z
  .object({
    /** Folder the .torrent files are written to, named `<original name>.torrent`. */
    out_dir: z.string().min(1).default(EARLY_DEFAULTS.out_dir),
    /** The published torrent list, rewritten after every `torrents make`. Empty: do not write one. */
    list_path: z.string().default('torrents.json'),
    /** Piece length in bytes (a power of two, 32 KiB to 16 MiB); 0 picks one from the size. */
    piece_length: z
      .number()
      .int()
      .refine(
        (n) => n === 0 || (n >= 32768 && n <= 16777216 && (n & (n - 1)) === 0),
        'must be 0 (auto) or a power of two from 32768 to 16777216',
      )
      .default(EARLY_DEFAULTS.piece_length),
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
    /**
     * Where the .torrent files are published, for the list's `url` field (`<url_base><file>`): an
     * absolute http(s) URL, or a path relative to the list's own URL. The default `torrents/`
     * is where `aacseed serve` answers (GET /torrents/<name>.torrent) beside its /torrents.json,
     * and where a static host finds `out_dir` beside `list_path` in the default layout.
     */
    url_base: z.string().default('torrents/'),
    /** The list's `top_level_group_name` for every torrent. */
    top_level_group_name: z.string().default('aac'),
    /** Hashing threads (0 = one per core). */
    hash_workers: z.number().int().min(0).max(64).default(EARLY_DEFAULTS.hash_workers),
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

/** The daemon kinds aacseed drives over their RPC (src/engines/engine.ts `REMOTE_KINDS`). */
const remoteKind = z.enum(['transmission', 'qbittorrent', 'deluge', 'rtorrent'])

/** Every `engine.kind`: the embedded engine, then the daemons. */
export const ENGINE_KINDS = ['webtorrent', ...remoteKind.options] as const

/** `[engine.<kind>]`: one daemon driven as the local engine. */
function remoteEngine(defaultUrl: string) {
  return z
    .object({
      /** The daemon's RPC URL, without credentials. */
      url: z.string().url().default(defaultUrl),
      username: z.string().default(''),
      /** Read the password from this file (e.g. a systemd credential); or set AACSEED_<KIND>_PASSWORD. */
      password_file: z.string().default(''),
      /** Where the daemon sees the release roots: { "/srv/releases" = "/downloads/releases" }. */
      path_map: z.record(z.string()).default({}),
      /** Deprecated: the old place of `[engine] labels`; still read, and it wins for this kind. */
      labels: z.array(z.string()).optional(),
      timeout_ms: z.number().int().min(100).default(30_000),
    })
    .strict()
    .default({})
}

const transmission = remoteEngine('http://127.0.0.1:9091/transmission/rpc')
const qbittorrent = remoteEngine('http://127.0.0.1:8080/')
const deluge = z
  .object({
    url: z.string().url().default('http://127.0.0.1:8112/json'),
    /** deluge-web has a password only; the username is ignored. */
    username: z.string().default(''),
    password_file: z.string().default(''),
    path_map: z.record(z.string()).default({}),
    /** Deprecated: the old place of `[engine] labels`; still read, and it wins for this kind. */
    labels: z.array(z.string()).optional(),
    timeout_ms: z.number().int().min(100).default(30_000),
    /** The daemon deluge-web connects to, `host:port`; '' keeps its current one (or its only one). */
    daemon: z.string().default(''),
  })
  .strict()
  .default({})
const rtorrent = remoteEngine('scgi://127.0.0.1:5000')

const engine = z
  .object({
    /** `webtorrent` (embedded) or a daemon driven over its RPC, configured in its own table below. */
    kind: z.enum(ENGINE_KINDS).default('webtorrent'),
    /**
     * Set on every torrent pushed to a daemon engine, whichever kind (Transmission labels, qBittorrent
     * tags, Deluge's label, rTorrent's d.custom1); the embedded engine has none.
     */
    labels: z.array(z.string()).default(['aacseed']),
    webtorrent,
    transmission,
    qbittorrent,
    deluge,
    rtorrent,
  })
  .strict()
  .default({})

/**
 * Every scheduled job of `aacseed serve` and its default schedule: the one list of job names
 * (`JOB_NAMES`) that serve, `run`, `jobs --job` and the config's `[jobs]` table share.
 */
const jobSchedules = {
  scan: cron.default('*/30 * * * *'),
  make_torrents: cron.default('*/30 * * * *'),
  seed: cron.default('*/10 * * * *'),
  engine_status: cron.default('* * * * *'),
  /** Poll every seedbox of the fleet (src/fleet). */
  fleet_poll: cron.default('* * * * *'),
  /** Poll, plan and push missing placements (and removals, when `fleet.remove_extra`). */
  fleet_apply: cron.default('*/10 * * * *'),
  /** Scrape the trackers for swarm figures. */
  scrape: cron.default('*/30 * * * *'),
  /** Follow the mirror sources: fetch new ranges, advance downloads, place finished ones. */
  mirror_sync: cron.default('*/5 * * * *'),
}

export type JobName = keyof typeof jobSchedules
export const JOB_NAMES = Object.keys(jobSchedules) as JobName[]

const jobs = z
  .object({
    ...jobSchedules,
    /** Job runs kept in the database. */
    keep_runs: z.number().int().min(10).default(1000),
  })
  .strict()
  .default({})

/** A list whose entries' `name`s must differ: the error points at the second one. */
function uniqueNames(what: string) {
  return (list: ReadonlyArray<{ name: string }>, ctx: z.RefinementCtx): void => {
    const seen = new Set<string>()
    list.forEach((s, i) => {
      if (seen.has(s.name))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [i, 'name'],
          message: `${what} name ${JSON.stringify(s.name)} is used twice`,
        })
      seen.add(s.name)
    })
  }
}

const replicas = z.number().int().min(1).max(50)

const seedbox = z
  .object({
    /**
     * Lowercase letters and digits joined by single `-`: it names the seedbox in the database, logs and the
     * secret's variable.
     */
    name: z
      .string()
      .max(63)
      // No `--` and no trailing `-`: the password variable AACSEED_SEEDBOX_<NAME>_PASSWORD
      // writes `-` as `_`, and a `__` in it would read as a config override (`[a]` `b`).
      .regex(
        /^[a-z0-9]+(-[a-z0-9]+)*$/,
        'must be lowercase letters and digits in words joined by single -, e.g. box-1 (no --, no - at either end)',
      ),
    /** Which daemon the seedbox runs; it decides how `url` is spoken to. */
    kind: remoteKind.default('transmission'),
    /**
     * The daemon's RPC URL, without credentials: Transmission `.../transmission/rpc`, qBittorrent
     * the WebUI's root, Deluge deluge-web's `.../json`, rTorrent `scgi://host:port` or an
     * HTTP XML-RPC endpoint (`.../RPC2`).
     */
    url: z.string().url(),
    username: z.string().default(''),
    /**
     * Read the RPC password from this absolute path; or AACSEED_SEEDBOX_<NAME>_PASSWORD; or the systemd
     * credential `seedbox-<name>`.
     */
    password_file: z.string().default(''),
    /** Where the seedbox keeps releases, as its daemon sees it (the download-dir of pushed torrents). */
    path: z.string().refine((p) => p.startsWith('/'), 'must be an absolute path'),
    /** Most bytes of releases it may hold; 0: as much as its free space allows. */
    capacity_bytes: bytes.default(0),
    /** Free space at `path` (as the daemon reports it) always left unused. */
    reserve_bytes: bytes.default(10 * 1024 ** 3),
    /** Relative share of the torrents (2 takes about twice those of 1). */
    weight: z.number().positive().default(1),
    tags: z.array(z.string()).default([]),
    timeout_ms: z.number().int().min(100).default(15_000),
    /** Deluge only: the daemon deluge-web connects to, `host:port`; '' keeps its current one. */
    daemon: z.string().default(''),
  })
  .strict()

const fleet = z
  .object({
    seedboxes: z.array(seedbox).default([]).superRefine(uniqueNames('seedbox')),
    /** N: copies of each torrent kept on distinct seedboxes. */
    replicas: replicas.default(2),
    /** Per torrent kind, e.g. { meta = 3 }; a collection's own number wins. */
    replicas_by_kind: z.object({ meta: replicas.optional(), data: replicas.optional() }).strict().default({}),
    /** Per collection, e.g. { zlib3_files = 3 }. */
    replicas_by_collection: z.record(replicas).default({}),
    /** The local engine seeding a torrent counts as one of its N copies. */
    count_local_engine: z.boolean().default(false),
    /** Remove copies beyond the plan (only while the torrent keeps N complete copies elsewhere). */
    remove_extra: z.boolean().default(false),
    /** A removal also deletes the seedbox's data (off: the torrent goes, the files stay). */
    delete_data_on_remove: z.boolean().default(false),
    /** A seedbox failing every poll for this long is down: its torrents are placed elsewhere. */
    down_after_s: z.number().int().min(0).default(600),
    /** Days of poll history (seedbox figures, torrent state changes) kept. */
    history_days: z.number().int().min(1).default(14),
    /** Labels set on torrents pushed to seedboxes (rpc-version 16+). */
    labels: z.array(z.string()).default(['aacseed']),
    /** Pushes in flight at once, across the fleet. */
    push_concurrency: z.number().int().min(1).max(64).default(4),
  })
  .strict()
  .default({})

const scrape = z
  .object({
    /** Trackers scraped besides those in `torrents.announce` (http(s):// per BEP 48, udp:// per BEP 15). */
    trackers: z.array(z.string().url()).default([]),
    timeout_ms: z.number().int().min(100).default(15_000),
    /** Infohashes per scrape request (UDP carries at most 74). */
    batch: z.number().int().min(1).max(500).default(64),
    /** Days of swarm figures kept. */
    keep_days: z.number().int().min(1).default(90),
  })
  .strict()
  .default({})

const mirrorSource = z
  .object({
    /** Lowercase letters, digits and `-`: names the source in the database and in reports. */
    name: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9-]{0,62}$/,
        'must be lowercase letters, digits and -, starting with a letter or digit',
      ),
    /**
     * A torrent list in the JSON format aacseed publishes (Anna's Archive's): an http(s) URL or a file path.
     */
    list: z.string().default(''),
    /** Or a folder of .torrent files named `<release name>.torrent`. */
    torrent_dir: z.string().default(''),
    /** Collections of AAC releases to follow (`*` globs). */
    collections: z.array(z.string().min(1)).min(1).default(['*']),
    /**
     * Which torrents: AAC releases (`aac`, or only metadata files `meta` / data folders `data`),
     * and opaque torrents (`other`: entries that are not AAC releases, followed by `groups`).
     */
    kinds: z
      .array(z.enum(['aac', 'meta', 'data', 'other']))
      .min(1)
      .default(['aac']),
    /**
     * Groups of opaque torrents to follow (`*` globs over `group_name`, or over
     * `top_level_group_name/group_name`); only with `other` in kinds.
     */
    groups: z.array(z.string().min(1)).min(1).default(['*']),
    skip_obsolete: z.boolean().default(true),
    skip_embargo: z.boolean().default(true),
    /** Torrents smaller or larger than these are not followed; 0 = no limit. */
    min_bytes: size.default(0),
    max_bytes: size.default(0),
  })
  .strict()
  .superRefine((s, ctx) => {
    if ((s.list === '') === (s.torrent_dir === ''))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['list'],
        message: 'set exactly one of list and torrent_dir',
      })
  })

const mirror = z
  .object({
    sources: z.array(mirrorSource).default([]).superRefine(uniqueNames('source')),
    /** The release root new releases are downloaded into; one of catalog.roots. Empty: the first. */
    root: z.string().default(''),
    /** Most bytes of releases the mirror root may hold (what is there plus downloads); 0 = no limit. */
    budget_bytes: size.default(0),
    /** Free space on the root's filesystem that downloads never use. */
    reserve_bytes: size.default(10 * 1024 ** 3),
    /** Downloads in flight at once. */
    max_active: z.number().int().min(1).max(64).default(4),
    /** The scheduled job fetches each source's list at most this often (`mirror sync` always does). */
    refresh_minutes: z.number().int().min(1).default(60),
    /** Per HTTP request (a list or a .torrent): the wait for the response and for each next piece of the body; the whole transfer may take 10 times as long. */
    timeout_ms: z.number().int().min(100).default(30_000),
    /** Retries of a failed request within one sync, with doubling backoff from retry_base_ms. */
    retries: z.number().int().min(0).max(10).default(3),
    retry_base_ms: z.number().int().min(1).default(1000),
    /**
     * Let URLs from a remote list (and their redirects) name loopback, private or link-local
     * hosts. Off: such URLs are refused, unless the list itself is served from such a host.
     */
    allow_private_hosts: z.boolean().default(false),
    /** Limits on untrusted upstream content. */
    max_list_bytes: size.default(256 * 1024 ** 2),
    max_list_entries: z.number().int().min(1).default(1_000_000),
    max_torrent_bytes: size.default(64 * 1024 ** 2),
    max_torrent_files: z.number().int().min(1).default(1_000_000),
    max_torrent_pieces: z
      .number()
      .int()
      .min(1)
      .default(1 << 22),
  })
  .strict()
  .default({})

const http = z
  .object({
    enabled: z.boolean().default(true),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8737),
    /**
     * Bearer token for mutating endpoints; read from this file, or AACSEED_HTTP_TOKEN. Empty: read-only API.
     */
    token_file: z.string().default(''),
    /** Per-torrent series on /metrics (three per torrent: mind the cardinality). */
    per_torrent_metrics: z.boolean().default(false),
    /** How often the dashboard refreshes itself, in seconds. */
    refresh_seconds: z.number().int().min(1).max(3600).default(10),
  })
  .strict()
  .default({})

const log = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  })
  .strict()
  .default({})

const tracker = z
  .object({
    /** Run an embedded BitTorrent tracker (HTTP and UDP) inside `aacseed serve`. */
    enabled: z.boolean().default(false),
    /** Address it listens on; 127.0.0.1 serves this machine only. */
    host: z.string().default('127.0.0.1'),
    /** Port for HTTP and UDP announces (`http://HOST:PORT/announce`, `udp://HOST:PORT`). */
    port: z.number().int().min(1).max(65535).default(6969),
    /** Answer UDP announces (BEP 15) too. */
    udp: z.boolean().default(true),
    /**
     * The host name or address peers and seedboxes reach this tracker at, written into the
     * torrents' announce URLs when `torrents.announce` is empty; '' is `host` (127.0.0.1 when
     * `host` is every address).
     */
    announce_host: z
      .string()
      .regex(/^[^\s/@?#]*$/, 'a host name or address, without scheme, port or path')
      .default(''),
  })
  .strict()
  .default({})

export const configSchema = z
  .object({
    catalog,
    torrents,
    engine,
    jobs,
    fleet,
    scrape,
    mirror,
    http,
    tracker,
    log,
  })
  .strict()

export type Config = z.infer<typeof configSchema>
export type ConfigInput = z.input<typeof configSchema>
