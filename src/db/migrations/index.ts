import type { Migration } from '../index.js'

/** Numbered migrations, applied in order; never edit one that has shipped, add the next number. */
export const migrations: Migration[] = []
