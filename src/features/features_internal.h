/*
 * features_internal.h — what the feature-store files share: the text a repo
 * was read from, lookups by name, the check of dataset sources against a
 * workspace, and the stored versions of a project's definitions.
 */
#ifndef KEEL_FEATURES_INTERNAL_H
#define KEEL_FEATURES_INTERNAL_H

#include <keel/features.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEATURE_REPO_MAX_BYTES (4u << 20)

/* keel_feature_repo_parse with the source-column checks optional: off for
 * stored definitions, whose CSV files may have changed since they were
 * applied (keel features diff). Everything else is checked as usual. */
int feature_repo_parse_opts(const char *path, const char *text, size_t len, bool check_columns,
                            keel_feature_repo **out, keel_err *err);

/* The features.yaml text repo was read from (borrowed from repo; its
 * SHA-256 is repo->digest). repo must come from keel_feature_repo_load or
 * _parse. */
const char *feature_repo_text(const keel_feature_repo *repo, size_t *out_len);

/* Index by name, or -1. */
long feature_entity_index(const keel_feature_repo *repo, const char *name);
long feature_source_index(const keel_feature_repo *repo, const char *name);

/* Checks that the columns of source `source` (columns[0..n_columns), read
 * from `where`: a path or "dataset NAME@V") include its timestamps, and the
 * join keys and features of every view reading it. Errors are
 * "file:line:column: …" at the source or the view. */
int feature_source_check_columns(const keel_feature_repo *repo, size_t source,
                                 const char *const *columns, size_t n_columns, const char *where,
                                 keel_err *err);

/* Checks every dataset source against ws: the dataset version exists, and
 * its schema has the timestamp columns, the join keys of the views reading
 * it and their features. Errors are "file:line:column: …" at the source or
 * the view (keel_feature_repo_load cannot do this: it has no workspace). */
int feature_repo_check_datasets(keel_workspace *ws, const keel_feature_repo *repo,
                                keel_err *err);

/* A TTL for humans: "forever", "3h", "90m", "1500ms" (arena string). */
const char *feature_ttl_text(keel_arena *a, int64_t ttl_ms);

/* ---- stored definitions (feature_registry.c) ---- */

typedef struct feature_definitions {
    const char *project;
    int64_t version;
    const char *digest;
    const char *text;                 /* the features.yaml text */
    int64_t created_time;             /* epoch ms */
} feature_definitions;

/* Version `version` of project's definitions (0 = the newest); arena
 * strings. KEEL_ENOTFOUND when there is none. */
int feature_registry_get(keel_store *s, const char *project, int64_t version, keel_arena *a,
                         feature_definitions *out, keel_err *err);

/* The file a source's rows are read from: its CSV path, or the object of
 * its dataset version in the workspace's store (verified first). *out_file
 * and *out_shown ("path" or "NAME@V", for messages) are arena strings. A
 * dataset source needs ws (KEEL_EINVAL saying so without one). */
int feature_source_file(keel_workspace *ws, const keel_feature_source *src, keel_arena *a,
                        const char **out_file, const char **out_shown, keel_err *err);

#endif
