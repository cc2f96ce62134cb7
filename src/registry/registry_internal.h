/*
 * registry_internal.h — helpers shared by the files of src/registry/.
 *
 * Invariants every file keeps:
 *  - a deleted version stays in model_versions with current_stage
 *    REGISTRY_STAGE_DELETED (MLflow's "Deleted_Internal") and its fields
 *    redacted, so version numbers keep increasing after deletions; every read
 *    outside this module's numbering skips such rows;
 *  - every write runs in one store transaction that also appends its
 *    registry_audit rows, so a change and its record land together or not at
 *    all.
 * Functions here that write take no transaction of their own: callers hold
 * one.
 */
#ifndef KEEL_REGISTRY_INTERNAL_H
#define KEEL_REGISTRY_INTERNAL_H

#include <keel/registry.h>

/* Limits: MLflow's where it has one (alias 255, tag value 5000, search
 * max_results 1000 / 200000), keel's own otherwise. */
#define REGISTRY_ALIAS_MAX          255
#define REGISTRY_TAG_VALUE_MAX      5000
#define REGISTRY_DESCRIPTION_MAX    (64 * 1024)
#define REGISTRY_SOURCE_MAX         (4 * 1024)
#define REGISTRY_MODELS_MAX_RESULTS 1000
#define REGISTRY_MODELS_DEFAULT_MAX 100
#define REGISTRY_VERSIONS_MAX_RESULTS 200000
#define REGISTRY_VERSIONS_DEFAULT_MAX 10000

#define REGISTRY_STAGE_DELETED "Deleted_Internal"

/* Columns of a version row, read by registry_version_read (alias mv). */
#define REGISTRY_VERSION_COLUMNS                                                       \
    "mv.name, mv.version, mv.creation_time, mv.last_updated_time, mv.description, "    \
    "mv.user_id, mv.current_stage, mv.source, mv.run_id, mv.run_link, mv.status, "     \
    "mv.status_message, mv.signature"

/* Columns of a model row, read by registry_model_read (alias rm). */
#define REGISTRY_MODEL_COLUMNS "rm.name, rm.creation_time, rm.last_updated_time, rm.description"

/* ---- validation (registry_validate.c) ---- */

/* A model name: non-empty, at most KEEL_MODEL_NAME_MAX bytes, no '/' (it
 * would not survive a models:/ URI) and no control characters. */
int registry_check_model_name(const char *name, keel_err *err);

/* A version number: 1 or more. */
int registry_check_version(const char *name, int64_t version, keel_err *err);

/* MLflow's alias rule: 1..255 of [A-Za-z0-9_-], not "latest" (any case),
 * not v<digits> (V<digits>). */
int registry_check_alias(const char *alias, keel_err *err);

/* A tag key by MLflow's key rule and its value by length (NULL is ""). */
int registry_check_tag(const char *key, const char *value, keel_err *err);

/* Optional text (description, run_link …) by length; NULL is fine. */
int registry_check_text(const char *what, const char *text, size_t max, keel_err *err);

/* The canonical spelling of a stage given in any case ("production" ->
 * "Production"), or NULL when it is not one of None, Staging, Production,
 * Archived. */
const char *registry_stage_canonical(const char *stage);

/* The actor recorded for a NULL or empty one. */
const char *registry_actor(const char *actor);

/* ---- reads shared by the files ---- */

/* KEEL_OK when the model exists, else KEEL_ENOTFOUND naming it. */
int registry_model_require(keel_store *s, const char *name, keel_err *err);

/* KEEL_OK when the version exists (and is not deleted), else KEEL_ENOTFOUND
 * naming model and version. Its stage is copied into stage_buf (may be NULL)
 * of stage_size bytes. */
int registry_version_require(keel_store *s, const char *name, int64_t version, char *stage_buf,
                             size_t stage_size, keel_err *err);

/* Reads the current row of a statement selecting REGISTRY_VERSION_COLUMNS
 * (from column first on) into out, strings copied to a; tags and aliases
 * left empty. */
int registry_version_read(keel_stmt *st, int first, keel_arena *a, keel_model_version *out,
                          keel_err *err);

/* Loads a version's tags and the aliases pointing at it into v. */
int registry_version_load_extras(keel_store *s, keel_arena *a, keel_model_version *v,
                                 keel_err *err);

/* The full version (tags and aliases too); KEEL_ENOTFOUND naming it. */
int registry_version_load(keel_store *s, const char *name, int64_t version, keel_arena *a,
                          keel_model_version *out, keel_err *err);

/* Reads the current row of a statement selecting REGISTRY_MODEL_COLUMNS
 * (from column 0) into out; tags, aliases and latest versions left empty. */
int registry_model_read(keel_stmt *st, keel_arena *a, keel_registered_model *out,
                        keel_err *err);

/* The newest version in each of stages (canonical names; all stages when
 * n_stages is 0), in stage order None, Staging, Production, Archived, with
 * tags and aliases. The model must exist (not checked). */
int registry_latest_versions(keel_store *s, const char *name, const char *const *stages,
                             size_t n_stages, keel_arena *a, keel_model_version **out,
                             size_t *out_n, keel_err *err);

/* Loads a model's tags, aliases and latest versions into m. */
int registry_model_load_extras(keel_store *s, keel_arena *a, keel_registered_model *m,
                               keel_err *err);

/* ---- writes shared by the files (no transaction of their own) ---- */

/* Appends one registry_audit row stamped now. Values may be NULL. */
int registry_audit_append(keel_store *s, const char *actor, const char *action,
                          const char *model, int64_t version, const char *field,
                          const char *old_value, const char *new_value, const char *reason,
                          keel_err *err);

/* Sets the model's last_updated_time to now_ms. */
int registry_model_touch(keel_store *s, const char *name, int64_t now_ms, keel_err *err);

/* Removes every alias pointing at the version, auditing each. */
int registry_aliases_drop_for_version(keel_store *s, const char *name, int64_t version,
                                      const char *actor, const char *reason, keel_err *err);

/* ---- sources (registry_uri.c) ---- */

/* Splits "runs:/RUN[/PATH]" or "mlflow-artifacts:[//HOST]/EXP/RUN/artifacts[/PATH]"
 * into the run id and the path inside its artifacts (arena copies; path ""
 * for the root). KEEL_EINVAL when source is neither form; a run id that is
 * not 32 hex digits is KEEL_EINVAL naming the source. */
int registry_source_split(const char *source, keel_arena *a, const char **out_run_id,
                          const char **out_path, keel_err *err);

/* Whether source has one of the forms registry_source_split reads. */
bool registry_source_has_run(const char *source);

/* Decimal text of v in buf (audit old and new values); returns buf. */
const char *registry_i64(char buf[24], int64_t v);

#endif
