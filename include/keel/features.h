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

#endif
