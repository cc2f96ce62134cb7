/*
 * keel/registry.h — the model registry: registered models, their versions,
 * aliases and MLflow's stages, with an audit log of every change.
 *
 * Semantics follow MLflow's model registry so the REST layer maps 1:1:
 * versions are numbered 1, 2, … per model; a version's source is the model's
 * artifact location ("runs:/RUN/PATH", "mlflow-artifacts:/EXP/RUN/artifacts/
 * PATH", or any URI); aliases (any name, e.g. "production", "candidate")
 * point at one version each; stages are None, Staging, Production, Archived.
 *
 * Every write takes an `actor` (who: a user name, "api", …) and, where a
 * human decision is involved, a `reason`; both land in the audit log with the
 * old and new value. Memory: returned structs and strings come from the
 * caller's arena.
 */
#ifndef KEEL_REGISTRY_H
#define KEEL_REGISTRY_H

#include <keel/arena.h>
#include <keel/error.h>
#include <keel/store.h>
#include <keel/tracking.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_MODEL_NAME_MAX 256

typedef struct keel_model_alias {
    const char *alias;
    int64_t version;
} keel_model_alias;

typedef struct keel_model_version {
    const char *name;
    int64_t version;
    int64_t creation_time;
    int64_t last_updated_time;
    const char *description;      /* "" when none */
    const char *user_id;
    const char *current_stage;    /* "None" "Staging" "Production" "Archived" */
    const char *source;
    const char *run_id;           /* "" when the version has no run */
    const char *run_link;
    const char *status;           /* "READY" (keel registers synchronously) */
    const char *status_message;
    const char *signature;        /* JSON text of inputs/outputs, or NULL */
    keel_kv *tags;
    size_t n_tags;
    const char **aliases;
    size_t n_aliases;
} keel_model_version;

typedef struct keel_registered_model {
    const char *name;
    int64_t creation_time;
    int64_t last_updated_time;
    const char *description;
    keel_kv *tags;
    size_t n_tags;
    keel_model_alias *aliases;
    size_t n_aliases;
    keel_model_version *latest_versions;  /* newest version per stage, as MLflow lists them */
    size_t n_latest_versions;
} keel_registered_model;

/* ---- registered models ---- */

/* KEEL_EINVAL naming the problem when NAME cannot be a registered model's
 * name (empty, too long, '/', control characters). */
int keel_model_name_check(const char *name, keel_err *err);

int keel_model_create(keel_store *s, const char *name, const char *description,
                      const keel_kv *tags, size_t n_tags, const char *actor, keel_err *err);
int keel_model_get(keel_store *s, const char *name, keel_arena *a, keel_registered_model *out,
                   keel_err *err);
int keel_model_rename(keel_store *s, const char *name, const char *new_name, const char *actor,
                      keel_err *err);
int keel_model_update(keel_store *s, const char *name, const char *description,
                      const char *actor, keel_err *err);
/* Deletes the model with its versions, tags and aliases (the audit log keeps
 * the record). */
int keel_model_delete(keel_store *s, const char *name, const char *actor, keel_err *err);
int keel_model_set_tag(keel_store *s, const char *name, const char *key, const char *value,
                       const char *actor, keel_err *err);
int keel_model_delete_tag(keel_store *s, const char *name, const char *key, const char *actor,
                          keel_err *err);

typedef struct keel_model_search {
    const char *filter;           /* "name LIKE 'fraud%'", "tags.team = 'risk'", … (AND) */
    const char *order_by;         /* "name ASC" (default), "last_updated_timestamp DESC" */
    int64_t max_results;          /* 0 = 100 */
    const char *page_token;
} keel_model_search;

int keel_model_search_run(keel_store *s, const keel_model_search *q, keel_arena *a,
                          keel_registered_model **out, size_t *out_n,
                          const char **out_next_page_token, keel_err *err);

/* ---- versions ---- */

typedef struct keel_model_version_create {
    const char *name;
    const char *source;           /* required */
    const char *run_id;           /* NULL: taken from a runs:/ or mlflow-artifacts:/ source */
    const char *run_link;
    const char *description;
    const char *signature;        /* JSON text, or NULL: read from the bundle's keel.json */
    const keel_kv *tags;
    size_t n_tags;
    const char *user_id;          /* NULL: the actor; "" records none (MLflow's REST API) */
} keel_model_version_create;

/* Creates the next version (the model must exist). The new version number
 * goes to *out_version. */
int keel_model_version_create_run(keel_store *s, const keel_model_version_create *c,
                                  const char *actor, int64_t *out_version, keel_err *err);
int keel_model_version_get(keel_store *s, const char *name, int64_t version, keel_arena *a,
                           keel_model_version *out, keel_err *err);
int keel_model_version_update(keel_store *s, const char *name, int64_t version,
                              const char *description, const char *actor, keel_err *err);
/* Deletes the version and any alias pointing at it. */
int keel_model_version_delete(keel_store *s, const char *name, int64_t version,
                              const char *actor, keel_err *err);
int keel_model_version_set_tag(keel_store *s, const char *name, int64_t version,
                               const char *key, const char *value, const char *actor,
                               keel_err *err);
int keel_model_version_delete_tag(keel_store *s, const char *name, int64_t version,
                                  const char *key, const char *actor, keel_err *err);

/* Moves a version to stage ("None", "Staging", "Production", "Archived";
 * case-insensitive); with archive_existing, the other versions in that stage
 * become Archived. */
int keel_model_version_transition(keel_store *s, const char *name, int64_t version,
                                  const char *stage, bool archive_existing, const char *actor,
                                  keel_err *err);

typedef struct keel_model_version_search {
    const char *filter;           /* "name = 'fraud'", "run_id = '…'", "tags.k = 'v'" (AND) */
    const char *order_by;         /* default: name ASC, version DESC */
    int64_t max_results;          /* 0 = 10000 */
    const char *page_token;
} keel_model_version_search;

int keel_model_version_search_run(keel_store *s, const keel_model_version_search *q,
                                  keel_arena *a, keel_model_version **out, size_t *out_n,
                                  const char **out_next_page_token, keel_err *err);

/* The newest version in each of stages (all stages when n_stages is 0). */
int keel_model_latest_versions(keel_store *s, const char *name, const char *const *stages,
                               size_t n_stages, keel_arena *a, keel_model_version **out,
                               size_t *out_n, keel_err *err);

/* ---- aliases ---- */

/* Points alias at version (which must exist); the move is audited with the
 * previous version and reason. "latest" is reserved, as in MLflow. */
int keel_model_alias_set(keel_store *s, const char *name, const char *alias, int64_t version,
                         const char *actor, const char *reason, keel_err *err);
int keel_model_alias_delete(keel_store *s, const char *name, const char *alias,
                            const char *actor, keel_err *err);
int keel_model_alias_get(keel_store *s, const char *name, const char *alias, keel_arena *a,
                         keel_model_version *out, keel_err *err);

/* Moves alias only if it still points at expected_version (0 = unset): the
 * compare-and-set behind promotion, so two concurrent promotions cannot both
 * win. KEEL_ECONFLICT when someone else moved it first. */
int keel_model_alias_move(keel_store *s, const char *name, const char *alias,
                          int64_t expected_version, int64_t new_version, const char *actor,
                          const char *reason, keel_err *err);

/* ---- names everywhere ---- */

/* Resolves "models:/NAME/VERSION", "models:/NAME@ALIAS", "models:/NAME/STAGE"
 * (newest version in that stage) or "models:/NAME/latest" to a version. */
int keel_model_uri_resolve(keel_store *s, const char *uri, keel_arena *a,
                           keel_model_version *out, keel_err *err);

/* Where a version's files are, as a run and a path inside its artifacts
 * ("runs:/RUN/PATH" and "mlflow-artifacts:/E/RUN/artifacts/PATH" sources).
 * KEEL_EINVAL for other sources. */
int keel_model_version_artifacts(const keel_model_version *v, keel_arena *a,
                                 const char **out_run_id, const char **out_path, keel_err *err);

/* ---- audit and lineage ---- */

typedef struct keel_audit_entry {
    int64_t time;
    const char *actor;
    const char *action;           /* "create_model", "alias_set", "transition", … */
    const char *model;
    int64_t version;              /* 0 when not about a version */
    const char *field;            /* alias name, stage, tag key … or "" */
    const char *old_value;
    const char *new_value;
    const char *reason;
} keel_audit_entry;

/* Every change to the model, oldest first. */
int keel_model_history(keel_store *s, const char *name, keel_arena *a, keel_audit_entry **out,
                       size_t *out_n, keel_err *err);

/* Appends one audit entry (for changes decided outside this module, such as
 * a gate failure or a forced promotion). */
int keel_model_audit(keel_store *s, const char *actor, const char *action, const char *model,
                     int64_t version, const char *field, const char *old_value,
                     const char *new_value, const char *reason, keel_err *err);

/* A version traced back: {"model", "version", "source", "run": {run_id,
 * experiment_id, status, start_time, git_commit, git_dirty}, "datasets":
 * [{name, digest, source, context}], "params": {…}, "metrics": {…}}. New
 * reference. */
int keel_model_lineage(keel_store *s, const char *name, int64_t version, keel_arena *a,
                       struct json_t **out, keel_err *err);

/* MLflow JSON shapes (new references). */
struct json_t *keel_registered_model_to_json(const keel_registered_model *m);
struct json_t *keel_model_version_to_json(const keel_model_version *v);

#endif
