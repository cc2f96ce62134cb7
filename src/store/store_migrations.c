/*
 * store_migrations.c — the metadata schema, one append-only list of steps.
 *
 * Never edit a released step: add a new one. Table and column names follow
 * MLflow's SQL store where an MLflow concept exists, so people who know that
 * schema can read this one.
 *
 * Tables keyed by (run, key) are WITHOUT ROWID in SQLite: the primary key is
 * the clustered B-tree, so a lookup by run and key is one search, and a
 * secondary index on (key, value) carries the run id (it covers the search
 * filters). The PostgreSQL backend drops the clause (store.c).
 */
#include "store_backend.h"

const struct keel_migration keel_migrations[] = {
    {
        1, "experiments, runs, params, metrics, tags",
        "CREATE TABLE experiments ("
        "  experiment_id INTEGER PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  artifact_location TEXT,"
        "  lifecycle_stage TEXT NOT NULL DEFAULT 'active',"
        "  creation_time BIGINT,"
        "  last_update_time BIGINT);"
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage,"
        "  creation_time, last_update_time) VALUES (0, 'Default', 'mlflow-artifacts:/0',"
        "  'active', 0, 0);"
        "CREATE TABLE experiment_tags ("
        "  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),"
        "  key TEXT NOT NULL, value TEXT,"
        "  PRIMARY KEY (experiment_id, key)) WITHOUT ROWID;"
        "CREATE TABLE runs ("
        "  run_uuid TEXT PRIMARY KEY,"
        "  name TEXT,"
        "  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),"
        "  user_id TEXT,"
        "  status TEXT NOT NULL,"
        "  start_time BIGINT,"
        "  end_time BIGINT,"
        "  lifecycle_stage TEXT NOT NULL DEFAULT 'active',"
        "  artifact_uri TEXT,"
        "  deleted_time BIGINT) WITHOUT ROWID;"
        "CREATE INDEX runs_experiment_start ON runs (experiment_id, start_time);"
        "CREATE TABLE params ("
        "  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid),"
        "  key TEXT NOT NULL, value TEXT NOT NULL,"
        "  PRIMARY KEY (run_uuid, key)) WITHOUT ROWID;"
        "CREATE INDEX params_key_value ON params (key, value);"
        "CREATE TABLE tags ("
        "  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid),"
        "  key TEXT NOT NULL, value TEXT,"
        "  PRIMARY KEY (run_uuid, key)) WITHOUT ROWID;"
        "CREATE INDEX tags_key_value ON tags (key, value);"
        /* The metric history is the hot table: one B-tree clustered by run,
         * key and step (no separate index), duplicates of a point collapse as
         * in MLflow's schema, and no per-row foreign-key probe (a run's
         * existence and state are checked once per batch). */
        "CREATE TABLE metrics ("
        "  run_uuid TEXT NOT NULL,"
        "  key TEXT NOT NULL,"
        "  value DOUBLE PRECISION NOT NULL,"
        "  timestamp BIGINT NOT NULL,"
        "  step BIGINT NOT NULL DEFAULT 0,"
        "  is_nan SMALLINT NOT NULL DEFAULT 0,"
        "  PRIMARY KEY (run_uuid, key, step, timestamp, value, is_nan)) WITHOUT ROWID;"
        "CREATE TABLE latest_metrics ("
        "  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid),"
        "  key TEXT NOT NULL,"
        "  value DOUBLE PRECISION NOT NULL,"
        "  timestamp BIGINT NOT NULL,"
        "  step BIGINT NOT NULL,"
        "  is_nan SMALLINT NOT NULL,"
        "  PRIMARY KEY (run_uuid, key)) WITHOUT ROWID;"
        "CREATE INDEX latest_metrics_key_value ON latest_metrics (key, is_nan, value);",
        NULL,
    },
    {
        2, "datasets and run inputs (lineage)",
        "CREATE TABLE datasets ("
        "  dataset_uuid TEXT PRIMARY KEY,"
        "  experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),"
        "  name TEXT NOT NULL,"
        "  digest TEXT NOT NULL,"
        "  source_type TEXT, source TEXT, schema TEXT, profile TEXT,"
        "  UNIQUE (experiment_id, name, digest));"
        "CREATE TABLE inputs ("
        "  input_uuid TEXT PRIMARY KEY,"
        "  source_type TEXT NOT NULL, source_id TEXT NOT NULL,"
        "  destination_type TEXT NOT NULL, destination_id TEXT NOT NULL,"
        "  UNIQUE (source_type, source_id, destination_type, destination_id));"
        "CREATE INDEX inputs_destination ON inputs (destination_type, destination_id);"
        "CREATE TABLE input_tags ("
        "  input_uuid TEXT NOT NULL REFERENCES inputs(input_uuid),"
        "  name TEXT NOT NULL, value TEXT NOT NULL,"
        "  PRIMARY KEY (input_uuid, name)) WITHOUT ROWID;",
        NULL,
    },
    {
        3, "run artifact trees (path -> content-addressed object)",
        "CREATE TABLE run_artifacts ("
        "  run_uuid TEXT NOT NULL REFERENCES runs(run_uuid),"
        "  path TEXT NOT NULL,"
        "  object_hash TEXT NOT NULL,"
        "  size BIGINT NOT NULL,"
        "  created_time BIGINT NOT NULL,"
        "  PRIMARY KEY (run_uuid, path));"
        "CREATE INDEX run_artifacts_object ON run_artifacts (object_hash);",
        NULL,
    },
    {
        4, "dataset versions",
        "CREATE TABLE dataset_versions ("
        "  name TEXT NOT NULL,"
        "  version BIGINT NOT NULL,"
        "  digest TEXT NOT NULL,"
        "  source TEXT,"
        "  size_bytes BIGINT NOT NULL,"
        "  n_rows BIGINT NOT NULL,"
        "  n_cols BIGINT NOT NULL,"
        "  schema TEXT NOT NULL,"
        "  profile TEXT NOT NULL,"
        "  created_time BIGINT NOT NULL,"
        "  PRIMARY KEY (name, version),"
        "  UNIQUE (name, digest)) WITHOUT ROWID;",
        NULL,
    },
    {
        5, "model registry: models, versions, aliases, tags, audit log",
        "CREATE TABLE registered_models ("
        "  name TEXT PRIMARY KEY,"
        "  creation_time BIGINT NOT NULL,"
        "  last_updated_time BIGINT NOT NULL,"
        "  description TEXT) WITHOUT ROWID;"
        "CREATE TABLE registered_model_tags ("
        "  name TEXT NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE,"
        "  key TEXT NOT NULL, value TEXT,"
        "  PRIMARY KEY (name, key)) WITHOUT ROWID;"
        "CREATE TABLE model_versions ("
        "  name TEXT NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE,"
        "  version BIGINT NOT NULL,"
        "  creation_time BIGINT NOT NULL,"
        "  last_updated_time BIGINT NOT NULL,"
        "  description TEXT,"
        "  user_id TEXT,"
        "  current_stage TEXT NOT NULL DEFAULT 'None',"
        "  source TEXT NOT NULL,"
        "  run_id TEXT,"
        "  run_link TEXT,"
        "  status TEXT NOT NULL DEFAULT 'READY',"
        "  status_message TEXT,"
        "  signature TEXT,"
        "  PRIMARY KEY (name, version)) WITHOUT ROWID;"
        "CREATE INDEX model_versions_run ON model_versions (run_id);"
        "CREATE TABLE model_version_tags ("
        "  name TEXT NOT NULL,"
        "  version BIGINT NOT NULL,"
        "  key TEXT NOT NULL, value TEXT,"
        "  PRIMARY KEY (name, version, key),"
        "  FOREIGN KEY (name, version) REFERENCES model_versions(name, version)"
        "    ON UPDATE CASCADE) WITHOUT ROWID;"
        "CREATE TABLE registered_model_aliases ("
        "  name TEXT NOT NULL REFERENCES registered_models(name) ON UPDATE CASCADE,"
        "  alias TEXT NOT NULL,"
        "  version BIGINT NOT NULL,"
        "  PRIMARY KEY (name, alias)) WITHOUT ROWID;"
        "CREATE TABLE registry_audit ("
        "  time BIGINT NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  model TEXT NOT NULL,"
        "  version BIGINT NOT NULL DEFAULT 0,"
        "  field TEXT NOT NULL DEFAULT '',"
        "  old_value TEXT,"
        "  new_value TEXT,"
        "  reason TEXT);"
        "CREATE INDEX registry_audit_model ON registry_audit (model, time);",
        NULL,
    },
    {
        6, "webhooks and their deliveries",
        "CREATE TABLE webhooks ("
        "  id INTEGER PRIMARY KEY,"
        "  url TEXT NOT NULL,"
        "  events TEXT NOT NULL,"
        "  secret TEXT,"
        "  created_time BIGINT NOT NULL);"
        "CREATE TABLE webhook_deliveries ("
        "  webhook_id BIGINT NOT NULL,"
        "  event TEXT NOT NULL,"
        "  time BIGINT NOT NULL,"
        "  status BIGINT NOT NULL,"
        "  attempts BIGINT NOT NULL,"
        "  delivered SMALLINT NOT NULL,"
        "  error TEXT,"
        "  payload TEXT);"
        "CREATE INDEX webhook_deliveries_time ON webhook_deliveries (time);",
        "CREATE TABLE webhooks (id BIGSERIAL PRIMARY KEY, url TEXT NOT NULL, events TEXT NOT NULL,"
        "  secret TEXT, created_time BIGINT NOT NULL);"
        "CREATE TABLE webhook_deliveries (webhook_id BIGINT NOT NULL, event TEXT NOT NULL,"
        "  time BIGINT NOT NULL, status BIGINT NOT NULL, attempts BIGINT NOT NULL,"
        "  delivered SMALLINT NOT NULL, error TEXT, payload TEXT);"
        "CREATE INDEX webhook_deliveries_time ON webhook_deliveries (time);",
    },
    {
        7, "pipelines: runs, steps, the step cache, lineage edges, file digests, schedules",
        "CREATE TABLE pipeline_runs ("
        "  run_id TEXT PRIMARY KEY,"           /* also the id of its tracking run */
        "  pipeline TEXT NOT NULL,"
        "  spec_file TEXT NOT NULL,"
        "  params TEXT NOT NULL,"
        "  executor TEXT NOT NULL,"
        "  status TEXT NOT NULL,"
        "  trigger TEXT NOT NULL,"
        "  start_time BIGINT NOT NULL,"
        "  end_time BIGINT,"
        "  pid BIGINT,"
        "  host TEXT) WITHOUT ROWID;"
        "CREATE INDEX pipeline_runs_name ON pipeline_runs (pipeline, start_time);"
        "CREATE TABLE pipeline_steps ("
        "  run_id TEXT NOT NULL,"
        "  step TEXT NOT NULL,"
        "  seq BIGINT NOT NULL,"
        "  step_run_id TEXT,"
        "  status TEXT NOT NULL,"
        "  cache_key TEXT,"
        "  attempts BIGINT NOT NULL DEFAULT 0,"
        "  exit_code BIGINT,"
        "  job_id TEXT,"
        "  executor TEXT,"
        "  start_time BIGINT,"
        "  end_time BIGINT,"
        "  reason TEXT,"
        "  PRIMARY KEY (run_id, step)) WITHOUT ROWID;"
        "CREATE TABLE pipeline_cache ("
        "  cache_key TEXT PRIMARY KEY,"
        "  pipeline TEXT NOT NULL,"
        "  step TEXT NOT NULL,"
        "  outs TEXT NOT NULL,"
        "  step_run_id TEXT,"
        "  created_time BIGINT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE pipeline_step_inputs ("
        "  pipeline TEXT NOT NULL,"
        "  step TEXT NOT NULL,"
        "  cache_key TEXT NOT NULL,"
        "  inputs TEXT NOT NULL,"
        "  PRIMARY KEY (pipeline, step)) WITHOUT ROWID;"
        "CREATE TABLE lineage_edges ("
        "  step_run_id TEXT NOT NULL,"
        "  direction TEXT NOT NULL,"           /* 'in' (dep) or 'out' */
        "  path TEXT NOT NULL,"
        "  digest TEXT NOT NULL,"
        "  PRIMARY KEY (step_run_id, direction, path)) WITHOUT ROWID;"
        "CREATE INDEX lineage_edges_digest ON lineage_edges (digest, direction);"
        "CREATE INDEX lineage_edges_path ON lineage_edges (path, direction);"
        "CREATE TABLE file_digests ("
        "  path TEXT PRIMARY KEY,"
        "  size BIGINT NOT NULL,"
        "  mtime_ns BIGINT NOT NULL,"
        "  ctime_ns BIGINT NOT NULL,"
        "  inode BIGINT NOT NULL,"
        "  recorded_ns BIGINT NOT NULL,"
        "  digest TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE pipeline_schedules ("
        "  pipeline TEXT PRIMARY KEY,"
        "  last_check BIGINT NOT NULL,"        /* epoch seconds */
        "  missed BIGINT NOT NULL DEFAULT 0,"
        "  last_run_id TEXT) WITHOUT ROWID;",
        NULL,
    },
    {
        8, "monitoring: drift per window, rolling performance, alert events",
        "CREATE TABLE monitor_drift ("
        "  model TEXT NOT NULL,"
        "  version TEXT NOT NULL,"
        "  feature TEXT NOT NULL,"
        "  measure TEXT NOT NULL,"
        "  window_end BIGINT NOT NULL,"
        "  value DOUBLE PRECISION,"
        "  rows BIGINT NOT NULL,"
        "  PRIMARY KEY (model, feature, measure, window_end, version)) WITHOUT ROWID;"
        "CREATE TABLE monitor_perf ("
        "  model TEXT NOT NULL,"
        "  version TEXT NOT NULL,"
        "  measure TEXT NOT NULL,"
        "  time BIGINT NOT NULL,"
        "  value DOUBLE PRECISION,"
        "  n BIGINT NOT NULL,"
        "  PRIMARY KEY (model, measure, time, version)) WITHOUT ROWID;"
        "CREATE TABLE monitor_events ("
        "  id INTEGER PRIMARY KEY,"
        "  time BIGINT NOT NULL,"
        "  rule TEXT NOT NULL,"
        "  model TEXT NOT NULL,"
        "  version TEXT NOT NULL,"
        "  state TEXT NOT NULL,"
        "  value DOUBLE PRECISION,"
        "  evidence TEXT,"
        "  actions TEXT);"
        "CREATE INDEX monitor_events_model ON monitor_events (model, time);",
        "CREATE TABLE monitor_drift (model TEXT NOT NULL, version TEXT NOT NULL, feature TEXT NOT "
        "  NULL, measure TEXT NOT NULL, window_end BIGINT NOT NULL, value DOUBLE PRECISION, rows "
        "  BIGINT NOT NULL, PRIMARY KEY (model, feature, measure, window_end, version));"
        "CREATE TABLE monitor_perf (model TEXT NOT NULL, version TEXT NOT NULL, measure TEXT NOT "
        "  NULL, time BIGINT NOT NULL, value DOUBLE PRECISION, n BIGINT NOT NULL, PRIMARY KEY "
        "  (model, measure, time, version));"
        "CREATE TABLE monitor_events (id BIGSERIAL PRIMARY KEY, time BIGINT NOT NULL, rule TEXT "
        "  NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, state TEXT NOT NULL, value "
        "  DOUBLE PRECISION, evidence TEXT, actions TEXT);"
        "CREATE INDEX monitor_events_model ON monitor_events (model, time);",
    },
    {
        9, "feature store: versions of each project's feature definitions",
        /* definitions is the features.yaml text itself, so any version can
         * be read back and compared (keel features diff). */
        "CREATE TABLE feature_registry ("
        "  project TEXT NOT NULL,"
        "  version BIGINT NOT NULL,"
        "  digest TEXT NOT NULL,"              /* SHA-256 of definitions */
        "  definitions TEXT NOT NULL,"
        "  created_time BIGINT NOT NULL,"
        "  PRIMARY KEY (project, version)) WITHOUT ROWID;"
        "CREATE INDEX feature_registry_digest ON feature_registry (digest);",
        NULL,
    },
    {
        10, "feature store: materializations into the online store",
        /* One row per view and run; materialize-incremental starts each view
         * at its newest end_time. */
        "CREATE TABLE feature_materializations ("
        "  project TEXT NOT NULL,"
        "  view TEXT NOT NULL,"
        "  end_time BIGINT NOT NULL,"           /* epoch ms, inclusive */
        "  start_time BIGINT,"                  /* epoch ms, exclusive; NULL = beginning */
        "  rows BIGINT NOT NULL,"               /* entities written */
        "  store TEXT NOT NULL,"                /* online store URI */
        "  created_time BIGINT NOT NULL,"
        "  PRIMARY KEY (project, view, end_time, created_time)) WITHOUT ROWID;",
        "CREATE TABLE feature_materializations (project TEXT NOT NULL, view TEXT NOT NULL, "
        "  end_time BIGINT NOT NULL, start_time BIGINT, rows BIGINT NOT NULL, store TEXT NOT "
        "  NULL, created_time BIGINT NOT NULL, PRIMARY KEY (project, view, end_time, "
        "  created_time));",
    },
};

const int keel_migration_count = (int)(sizeof keel_migrations / sizeof keel_migrations[0]);
