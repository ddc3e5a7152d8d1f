import type { Migration } from '../migration.js'
import { migration001 } from './001-catalog.js'
import { migration002 } from './002-torrents.js'
import { migration003 } from './003-jobs.js'
import { migration004 } from './004-engine-status.js'
import { migration005 } from './005-fleet.js'
import { migration006 } from './006-mirror.js'
import { migration007 } from './007-copy-states.js'
import { migration008 } from './008-opaque.js'
import { migration009 } from './009-leases.js'
import { migration010 } from './010-upstream-flags.js'
import { migration011 } from './011-mirror-other.js'
import { migration012 } from './012-compact-records.js'
import { migration013 } from './013-copy-native-state.js'
import { migration014 } from './014-upstream-name-index.js'
import { migration015 } from './015-record-folder-ids.js'

/** Numbered migrations, applied in order; never edit one that has shipped, add the next number. */
export const migrations: Migration[] = [
  migration001,
  migration002,
  migration003,
  migration004,
  migration005,
  migration006,
  migration007,
  migration008,
  migration009,
  migration010,
  migration011,
  migration012,
  migration013,
  migration014,
  migration015,
]

/** The schema version this aacseed writes: the newest migration's number. */
export const SCHEMA_VERSION = Math.max(...migrations.map((m) => m.version))
