import type { Migration } from '../migration.js'

/**
 * The job run log. The table is owned by src/jobs/runs.ts, which holds every query on it and
 * documents each column; this file only creates it (and stays as written once shipped).
 */
export const migration003: Migration = {
  version: 3,
  name: 'jobs',
  up(db) {
    db.exec(`
      CREATE TABLE job_runs (
        id INTEGER PRIMARY KEY,
        job TEXT NOT NULL,
        trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual', 'startup')),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'skipped', 'interrupted')),
        counts TEXT,
        error TEXT
      );

      CREATE INDEX job_runs_job_started ON job_runs (job, started_at);
    `)
  },
}
