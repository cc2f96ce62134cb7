/*
 * registry_uri.c — names everywhere: models:/ URIs resolved to versions,
 * and version sources ("runs:/RUN/PATH", "mlflow-artifacts:/EXP/RUN/
 * artifacts/PATH") split into a run and a path inside its artifacts.
 * Parsing works on the NUL-terminated strings given and never writes into
 * them; results are arena copies.
 */
#include "registry_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MODELS_SCHEME "models:/"
#define RUNS_SCHEME "runs:/"
#define ARTIFACTS_SCHEME "mlflow-artifacts:"

/* Where the pieces of a run source are, as offsets into it. */
typedef struct source_parts {
    size_t run, run_len;  /* run id */
    size_t path;          /* path after the run's artifact root; len = rest */
    bool has_path;
} source_parts;

static bool split_source(const char *source, source_parts *out)
{
    if (source == NULL)
        return false;
    memset(out, 0, sizeof *out);
    size_t n = strlen(source);
    if (strncmp(source, RUNS_SCHEME, strlen(RUNS_SCHEME)) == 0) {
        size_t at = strlen(RUNS_SCHEME);
        const char *slash = strchr(source + at, '/');
        out->run = at;
        out->run_len = slash != NULL ? (size_t)(slash - source) - at : n - at;
        if (slash != NULL) {
            out->path = (size_t)(slash - source) + 1;
            out->has_path = true;
        }
        return out->run_len > 0;
    }
    if (strncmp(source, ARTIFACTS_SCHEME, strlen(ARTIFACTS_SCHEME)) != 0)
        return false;
    size_t at = strlen(ARTIFACTS_SCHEME);
    if (strncmp(source + at, "//", 2) == 0) {  /* mlflow-artifacts://host:port/… */
        const char *slash = strchr(source + at + 2, '/');
        if (slash == NULL)
            return false;
        at = (size_t)(slash - source);
    }
    if (source[at] != '/')
        return false;
    at++;
    /* EXP / RUN / artifacts [/ PATH] */
    const char *exp_end = strchr(source + at, '/');
    if (exp_end == NULL || exp_end == source + at)
        return false;
    size_t run = (size_t)(exp_end - source) + 1;
    const char *run_end = strchr(source + run, '/');
    if (run_end == NULL || run_end == source + run)
        return false;
    const char *root = run_end + 1;
    static const char artifacts[] = "artifacts";
    if (strncmp(root, artifacts, sizeof artifacts - 1) != 0 ||
        (root[sizeof artifacts - 1] != '\0' && root[sizeof artifacts - 1] != '/'))
        return false;
    out->run = run;
    out->run_len = (size_t)(run_end - source) - run;
    if (root[sizeof artifacts - 1] == '/') {
        out->path = (size_t)(root - source) + sizeof artifacts;
        out->has_path = true;
    }
    return true;
}

bool registry_source_has_run(const char *source)
{
    source_parts p;
    return split_source(source, &p);
}

int registry_source_split(const char *source, keel_arena *a, const char **out_run_id,
                          const char **out_path, keel_err *err)
{
    source_parts p;
    if (!split_source(source, &p))
        return keel_errf(err, KEEL_EINVAL,
                         "source '%s' is not a run's artifact location (runs:/RUN/PATH or "
                         "mlflow-artifacts:/EXP/RUN/artifacts/PATH)", source != NULL ? source : "");
    char *run = keel_arena_strndup(a, source + p.run, p.run_len);
    char *path = keel_arena_strdup(a, p.has_path ? source + p.path : "");
    if (run == NULL || path == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    keel_err why;
    if (keel_validate_run_id(run, &why) != KEEL_OK)
        return keel_errf(err, KEEL_EINVAL, "source '%s': '%s' is not a run id (32 hex digits)",
                         source, run);
    /* a trailing '/' names the same directory */
    size_t n = strlen(path);
    while (n > 0 && path[n - 1] == '/')
        path[--n] = '\0';
    *out_run_id = run;
    *out_path = path;
    return KEEL_OK;
}

int keel_model_version_artifacts(const keel_model_version *v, keel_arena *a,
                                 const char **out_run_id, const char **out_path, keel_err *err)
{
    if (v == NULL)
        return keel_errf(err, KEEL_EINVAL, "no model version");
    int rc = registry_source_split(v->source, a, out_run_id, out_path, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "model '%s' version %lld", v->name != NULL ? v->name : "",
                               (long long)v->version);
    return KEEL_OK;
}

static bool all_digits(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* The highest version number in stage (NULL: any stage) into *out, 0 when
 * there is none. */
static int newest_version(keel_store *s, const char *name, const char *stage, int64_t *out,
                          keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, stage == NULL
        ? "SELECT MAX(version) FROM model_versions WHERE name = ? "
          "AND current_stage <> '" REGISTRY_STAGE_DELETED "'"
        : "SELECT MAX(version) FROM model_versions WHERE name = ? AND current_stage = ?",
        true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_text(st, 1, name, -1);
    if (stage != NULL)
        keel_stmt_bind_text(st, 2, stage, -1);
    enum keel_step r = keel_stmt_step(st, err);
    *out = r == KEEL_STEP_ROW && !keel_stmt_is_null(st, 0) ? keel_stmt_int64(st, 0) : 0;
    keel_stmt_release(st);
    return r == KEEL_STEP_ERROR ? err->code : KEEL_OK;
}

int keel_model_uri_resolve(keel_store *s, const char *uri, keel_arena *a,
                           keel_model_version *out, keel_err *err)
{
    static const char forms[] =
        "models:/NAME/VERSION, models:/NAME@ALIAS, models:/NAME/STAGE or models:/NAME/latest";
    if (uri == NULL || strncmp(uri, MODELS_SCHEME, strlen(MODELS_SCHEME)) != 0)
        return keel_errf(err, KEEL_EINVAL, "model URI '%s' is not one of %s",
                         uri != NULL ? uri : "", forms);
    const char *rest = uri + strlen(MODELS_SCHEME);
    const char *slash = strchr(rest, '/');
    const char *at = strrchr(rest, '@');
    char *name;
    const char *suffix;
    bool by_alias = false;
    if (slash != NULL) {
        if (strchr(slash + 1, '/') != NULL || slash[1] == '\0')
            return keel_errf(err, KEEL_EINVAL, "model URI '%s' is not one of %s", uri, forms);
        name = keel_arena_strndup(a, rest, (size_t)(slash - rest));
        suffix = slash + 1;
    } else if (at != NULL && at[1] != '\0') {
        name = keel_arena_strndup(a, rest, (size_t)(at - rest));
        suffix = at + 1;
        by_alias = true;
    } else {
        return keel_errf(err, KEEL_EINVAL, "model URI '%s' is not one of %s", uri, forms);
    }
    if (name == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    int rc = registry_check_model_name(name, err);
    if (rc != KEEL_OK)
        return keel_err_prefix(err, "model URI '%s'", uri);
    if (by_alias)
        return keel_model_alias_get(s, name, suffix, a, out, err);
    if (all_digits(suffix)) {
        int64_t version = 0;
        if (strlen(suffix) > 18 || sscanf(suffix, "%lld", (long long *)&version) != 1 ||
            version < 1)
            return keel_errf(err, KEEL_EINVAL, "model URI '%s': bad version '%s'", uri, suffix);
        return keel_model_version_get(s, name, version, a, out, err);
    }
    const char *stage = NULL;
    if (strcasecmp(suffix, "latest") != 0) {
        stage = registry_stage_canonical(suffix);
        if (stage == NULL)
            return keel_errf(err, KEEL_EINVAL,
                             "model URI '%s': '%s' is not a version, a stage (None, Staging, "
                             "Production, Archived) or 'latest'", uri, suffix);
    }
    if ((rc = registry_model_require(s, name, err)) != KEEL_OK)
        return rc;
    int64_t version = 0;
    if ((rc = newest_version(s, name, stage, &version, err)) != KEEL_OK)
        return rc;
    if (version == 0) {
        if (stage == NULL)
            return keel_errf(err, KEEL_ENOTFOUND, "model '%s' has no versions (URI '%s')", name,
                             uri);
        return keel_errf(err, KEEL_ENOTFOUND, "model '%s' has no version in stage %s (URI '%s')",
                         name, stage, uri);
    }
    return registry_version_load(s, name, version, a, out, err);
}
