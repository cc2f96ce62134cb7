/*
 * keel/features.h — the feature store: definitions (features.yaml),
 * point-in-time-correct training sets (offline) and the online store.
 *
 * features.yaml (kept in git; docs/features.md):
 *
 *   project: air
 *   entities:
 *     station:                       # an entity and its join keys with types
 *       join_keys: {station: string}
 *   sources:
 *     beijing:
 *       path: ../data/beijing.csv.gz   # a CSV (relative to this file) …
 *       # dataset: beijing@1           # … or a dataset version
 *       timestamp: datetime            # event-time column
 *       created_timestamp: loaded_at   # optional: the latest correction wins
 *   feature_views:
 *     weather:
 *       entities: [station]
 *       source: beijing
 *       ttl: 3h                        # older values are missing (0 / absent = forever)
 *       online: true                   # materialized to the online store
 *       features: {TEMP: float, PRES: float, wd: string}
 *   feature_services:
 *     pm25: [weather:TEMP, weather:PRES, pollution:PM10]
 *
 * Feature references are "view:feature". Types: int, float, string, bool.
 *
 * Memory: a loaded repo owns everything it points to (one arena); free it
 * with keel_feature_repo_free. Strings passed in are borrowed.
 */
#ifndef KEEL_FEATURES_H
#define KEEL_FEATURES_H

#include <keel/arena.h>
#include <keel/data.h>
#include <keel/error.h>
#include <keel/workspace.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct keel_entity {
    const char *name;
    const char **join_keys;           /* column names */
    enum keel_col_type *key_types;    /* KEEL_COL_INT or KEEL_COL_STRING */
    size_t n_join_keys;
    size_t line, column;              /* where it is declared */
} keel_entity;

typedef struct keel_feature_source {
    const char *name;
    const char *path;                 /* absolute CSV path, or NULL */
    const char *dataset;              /* dataset version "NAME[@V]", or NULL */
    const char *timestamp;            /* event-time column */
    const char *created_timestamp;    /* or NULL */
    size_t line, column;
} keel_feature_source;

typedef struct keel_feature {
    const char *name;
    enum keel_col_type type;          /* INT, FLOAT, STRING or BOOL */
} keel_feature;

typedef struct keel_feature_view {
    const char *name;
    size_t *entities;                 /* indexes into repo->entities */
    size_t n_entities;
    size_t source;                    /* index into repo->sources */
    keel_feature *features;
    size_t n_features;
    int64_t ttl_ms;                   /* 0 = values never expire */
    bool online;
    size_t line, column;
} keel_feature_view;

typedef struct keel_feature_ref {
    size_t view;                      /* index into repo->views */
    size_t feature;                   /* index into that view's features */
} keel_feature_ref;

typedef struct keel_feature_service {
    const char *name;
    keel_feature_ref *features;
    size_t n_features;
    size_t line, column;
} keel_feature_service;

typedef struct keel_feature_repo {
    keel_arena arena;
    const char *file;                 /* as given */
    const char *dir;                  /* absolute directory of the file */
    const char *project;
    keel_entity *entities;            size_t n_entities;
    keel_feature_source *sources;     size_t n_sources;
    keel_feature_view *views;         size_t n_views;
    keel_feature_service *services;   size_t n_services;
    char digest[65];                  /* SHA-256 of the file's bytes */
} keel_feature_repo;

/* Reads and checks a features.yaml: unknown keys, duplicate names, views
 * referring to unknown entities or sources, bad types and durations — all as
 * "file:line:column: message". Source columns are checked against the
 * source's header (CSV sources): the timestamp, the join keys of the view's
 * entities and every feature must exist. */
int keel_feature_repo_load(const char *path, keel_feature_repo **out, keel_err *err);
int keel_feature_repo_parse(const char *path, const char *text, size_t len,
                            keel_feature_repo **out, keel_err *err);
void keel_feature_repo_free(keel_feature_repo *repo);

/* Index of a view, entity, source or service by name, or -1. */
long keel_feature_view_index(const keel_feature_repo *repo, const char *name);
long keel_feature_service_index(const keel_feature_repo *repo, const char *name);

/* Resolves "view:feature" references (comma-separated in text, or a
 * service's list); errors name the unknown view or feature. Arena array. */
int keel_feature_refs_parse(const keel_feature_repo *repo, const char *text, keel_arena *a,
                            keel_feature_ref **out, size_t *out_n, keel_err *err);

/* ---- the registry of definitions (metadata store) ---- */

/* Records repo as the next version of its project's definitions (the same
 * bytes again return the existing version; *out_created says which). */
int keel_feature_repo_apply(keel_workspace *ws, const keel_feature_repo *repo,
                            int64_t *out_version, bool *out_created, keel_err *err);

/* ---- offline: point-in-time-correct training sets ---- */

enum keel_bad_row_policy { KEEL_BAD_ROW_FAIL, KEEL_BAD_ROW_SKIP };

typedef struct keel_training_set_opts {
    const char *entities_path;        /* label rows: join keys, an event timestamp, anything else */
    const char *timestamp_column;     /* in the label rows (default "event_timestamp") */
    const keel_feature_ref *features;
    size_t n_features;
    const char *out_path;             /* CSV written: the label columns, then view__feature */
    enum keel_bad_row_policy bad_rows;
} keel_training_set_opts;

typedef struct keel_training_set_result {
    size_t rows, skipped;
    size_t *found;                    /* per feature: rows with a value (arena) */
} keel_training_set_result;

/* For each label row, the latest value of each feature at or before its
 * timestamp and within its view's TTL (missing otherwise), all views in one
 * pass; output in label-row order. No joined value is from after its row's
 * timestamp. Bad label rows (missing key, unparseable timestamp) fail with
 * their line number or are skipped and counted. */
int keel_training_set_build(keel_workspace *ws, const keel_feature_repo *repo,
                            const keel_training_set_opts *o, keel_arena *a,
                            keel_training_set_result *out, keel_err *err);

/* ---- online ----
 *
 * The online store holds, per (project, view, entity key), the newest
 * values of the view's features and their event timestamp (epoch ms).
 * Backends: LMDB (embedded; one environment at <keel home>/online/, keys
 * prefixed by project and view) and Redis ("redis://host:port[/db]", a hash
 * per key written by a script so that the newest event wins there too).
 * The URI is the caller's choice: KEEL_ONLINE_STORE or a flag, else the
 * keel home's LMDB. A store handle may be shared by threads. */

typedef struct keel_online_store keel_online_store;

/* One feature value as stored and answered (strings borrowed from the
 * caller when writing; arena copies when read). */
typedef struct keel_feature_value {
    bool missing;
    enum keel_col_type type;          /* INT, FLOAT, BOOL or STRING */
    int64_t i64;                      /* INT, BOOL */
    double f64;                       /* FLOAT */
    const char *str;                  /* STRING (counted) */
    size_t len;
} keel_feature_value;

/* One entity's values of one view: key_values[i] is the text of the view's
 * i-th join key (entities in view order, their join keys in order: ints in
 * decimal), values[view->n_features]. Borrowed. */
typedef struct keel_online_row {
    const char *const *key_values;
    int64_t event_ms;
    const keel_feature_value *values;
} keel_online_row;

enum keel_feature_status { KEEL_FEATURE_PRESENT, KEEL_FEATURE_NOT_FOUND,
                           KEEL_FEATURE_OUTSIDE_MAX_AGE };
/* A value as JSON: null when missing, else a number, bool or string (new
 * reference). */
json_t *keel_feature_value_json(const keel_feature_value *v);

/* "PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE" (Feast's names). */
const char *keel_feature_status_name(enum keel_feature_status s);

/* Opens the online store at uri: "redis://host:port[/db]", "lmdb:DIR", or
 * a directory (LMDB). NULL uri = KEEL_ONLINE_STORE, else home/online.
 * Redis connects lazily and reconnects per call, so a server outlives a
 * Redis restart; its errors name the URI. Close with
 * keel_online_store_close. */
int keel_online_store_open(const char *uri, const char *home, keel_online_store **out,
                           keel_err *err);
void keel_online_store_close(keel_online_store *st);
/* The URI the store was opened with (borrowed). */
const char *keel_online_store_uri(const keel_online_store *st);

/* Writes rows[0..n) of view `view` in one transaction (LMDB) or one
 * pipeline (Redis). An entity whose stored event timestamp is newer than
 * the row's keeps its values (equal timestamps: the write wins).
 * *out_written (may be NULL) counts rows actually stored. Values must match
 * the view's feature types (KEEL_EINVAL naming the feature otherwise). */
int keel_online_write(keel_online_store *st, const keel_feature_repo *repo, size_t view,
                      const keel_online_row *rows, size_t n, size_t *out_written,
                      keel_err *err);

/* One entity's stored record of one view: *out_found false when there is
 * none; values[view->n_features] and strings are arena copies. */
typedef struct keel_online_record {
    bool found;
    int64_t event_ms;
    keel_feature_value *values;
} keel_online_record;

/* Reads the records of views[0..n_views) for one entity (key_values per
 * view as in keel_online_row: key_values[v] for views[v]). */
int keel_online_get(keel_online_store *st, const keel_feature_repo *repo, const size_t *views,
                    size_t n_views, const char *const *const *key_values, keel_arena *a,
                    keel_online_record *out, keel_err *err);

/* The answer for one feature of one entity. */
typedef struct keel_feature_answer {
    keel_feature_value value;         /* missing unless PRESENT */
    enum keel_feature_status status;
    int64_t event_ms;                 /* 0 when NOT_FOUND */
} keel_feature_answer;

/* Answers refs[0..n_refs) for n_rows entities: key_names[0..n_keys) are
 * join key names and key_values[row * n_keys + k] their texts. Every view
 * referred to must find its join keys among key_names (KEEL_EINVAL naming
 * the key and the view). out[row * n_refs + r], arena strings. A value
 * older than its view's TTL at now_ms is OUTSIDE_MAX_AGE (value missing). */
int keel_features_get(keel_online_store *st, const keel_feature_repo *repo,
                      const keel_feature_ref *refs, size_t n_refs, const char *const *key_names,
                      size_t n_keys, const char *const *key_values, size_t n_rows,
                      int64_t now_ms, keel_arena *a, keel_feature_answer *out, keel_err *err);

/* What the store knows of a view's freshness: the newest event timestamp
 * written and when (epoch ms; 0 when nothing has been written). */
typedef struct keel_online_freshness {
    int64_t max_event_ms;
    int64_t written_ms;
    int64_t rows;                     /* rows stored by the last write */
} keel_online_freshness;
int keel_online_freshness_get(keel_online_store *st, const keel_feature_repo *repo,
                              size_t view, keel_online_freshness *out, keel_err *err);

/* ---- materialization ---- */

typedef struct keel_materialize_opts {
    int64_t start_ms;                 /* exclusive; INT64_MIN = from the beginning */
    int64_t end_ms;                   /* inclusive */
    bool incremental;                 /* start per view = its last materialized end */
} keel_materialize_opts;

typedef struct keel_materialize_view_result {
    size_t view;
    int64_t start_ms, end_ms;
    size_t rows_read, entities, written;
    double seconds;
} keel_materialize_view_result;

/* For each online view: the newest row per entity with event time in
 * (start, end] from its source, written to st; each view's end recorded in
 * the metadata store (feature_materializations). CSV sources only (a
 * dataset source is KEEL_EINVAL saying so). out[repo->n_views] (arena);
 * *out_n views done. */
int keel_features_materialize(keel_workspace *ws, const keel_feature_repo *repo,
                              keel_online_store *st, const keel_materialize_opts *o,
                              keel_arena *a, keel_materialize_view_result **out, size_t *out_n,
                              keel_err *err);

/* Converts one cell of a frame column to a value of type t (missing cells,
 * and cells that do not fit, are missing: *out_fits false for the latter). */
void keel_feature_value_from_cell(const keel_column *c, size_t row, enum keel_col_type t,
                                  keel_feature_value *out, bool *out_fits);

#endif
