/*
 * cmd_features_training.c — `keel features training-set`: a point-in-time
 * correct training set from label rows and the feature views of
 * features.yaml (src/features/training_set.c does the join).
 *
 * The features are --features "view:f1,view:f2" or a --service's list, not
 * both. A keel workspace is opened only when it is needed: a source that is
 * a dataset version, or --dataset, which records the output as a dataset
 * version. Exit codes: 0 ok, 1 failure (bad definitions, a bad label row
 * under --on-bad-row fail, I/O), 2 usage.
 */
#include "cli.h"

#include <keel/dataset.h>
#include <keel/tracking.h>
#include <keel/util.h>
#include <keel/features.h>

#include <stdio.h>
#include <string.h>

static int parse_policy(struct cli_ctx *ctx, enum keel_bad_row_policy *out)
{
    static const struct {
        const char *name;
        enum keel_bad_row_policy policy;
    } policies[] = { { "fail", KEEL_BAD_ROW_FAIL }, { "skip", KEEL_BAD_ROW_SKIP } };
    const char *text = cli_opt(ctx, "on-bad-row");
    *out = KEEL_BAD_ROW_FAIL;
    if (text == NULL)
        return KEEL_OK;
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        if (strcmp(text, policies[i].name) == 0) {
            *out = policies[i].policy;
            return KEEL_OK;
        }
    }
    return keel_errf(&ctx->err, KEEL_EINVAL, "--on-bad-row must be fail or skip, not '%s'",
                     text);
}

/* The requested features: --features or else --service. Malformed
 * references are EINVAL (usage), unknown ones ENOTFOUND. */
static int requested(struct cli_ctx *ctx, const keel_feature_repo *repo,
                     const keel_feature_ref **out, size_t *out_n)
{
    const char *features = cli_opt(ctx, "features");
    const char *service = cli_opt(ctx, "service");
    if (features != NULL) {
        keel_feature_ref *refs = NULL;
        int rc = keel_feature_refs_parse(repo, features, &ctx->arena, &refs, out_n, &ctx->err);
        *out = refs;
        return rc;
    }
    long s = keel_feature_service_index(repo, service);
    if (s < 0)
        return keel_errf(&ctx->err, KEEL_ENOTFOUND, "%s has no feature service '%s'", repo->file,
                         service);
    *out = repo->services[s].features;
    *out_n = repo->services[s].n_features;
    return KEEL_OK;
}

static bool needs_workspace(const keel_feature_repo *repo, const keel_feature_ref *refs,
                            size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (repo->sources[repo->views[refs[i].view].source].dataset != NULL)
            return true;
    return false;
}

/* The lineage of a training set: a tracking run in experiment
 * "features:PROJECT" with the requested features as params, the label file
 * and every source read as dataset inputs (with their SHA-256), the
 * definitions' digest, and the output's digest (and dataset version) as
 * tags. Returns the run id (arena) or NULL when it could not be recorded
 * (the training set itself is written either way). */
static const char *record_lineage(struct cli_ctx *ctx, const keel_feature_repo *repo,
                                  const keel_training_set_opts *o,
                                  const keel_training_set_result *res,
                                  const keel_dataset_version *v)
{
    keel_arena *a = &ctx->arena;
    keel_store *s = ctx->ws->store;
    keel_err err;
    int64_t exp = 0;
    const char *exp_name = keel_arena_sprintf(a, "features:%s", repo->project);
    if (keel_experiment_resolve(s, exp_name, &exp, &err) == KEEL_ENOTFOUND &&
        keel_experiment_create(s, exp_name, NULL, NULL, 0, &exp, &err) != KEEL_OK)
        return NULL;
    char out_sha[KEEL_SHA256_HEX_LEN + 1], labels_sha[KEEL_SHA256_HEX_LEN + 1];
    if (keel_sha256_file(o->out_path, out_sha, NULL, &err) != KEEL_OK ||
        keel_sha256_file(o->entities_path, labels_sha, NULL, &err) != KEEL_OK)
        return NULL;
    const char *features = "";
    for (size_t i = 0; i < o->n_features; i++) {
        const keel_feature_view *fv = &repo->views[o->features[i].view];
        features = keel_arena_sprintf(a, "%s%s%s:%s", features, i ? "," : "", fv->name,
                                      fv->features[o->features[i].feature].name);
    }
    keel_kv tags[] = {
        { "keel.kind", "training-set" }, { "keel.features.project", repo->project },
        { "keel.features.digest", repo->digest }, { "keel.output", o->out_path },
        { "keel.output.sha256", out_sha },
        { "keel.dataset", v != NULL ? keel_arena_sprintf(a, "%s@%lld", v->name,
                                                         (long long)v->version) : "" },
    };
    keel_run_create_opts ro = { .experiment_id = exp, .run_name = "training-set", .tags = tags,
                                .n_tags = v != NULL ? 6 : 5 };
    const char *run = NULL;
    if (keel_run_create(s, &ro, a, &run, &err) != KEEL_OK)
        return NULL;
    keel_kv params[] = {
        { "features", keel_arena_strndup(a, features, strnlen(features, KEEL_MAX_PARAM_VALUE_LEN)) },
        { "timestamp_column", o->timestamp_column != NULL ? o->timestamp_column
                                                          : "event_timestamp" },
        { "on_bad_row", o->bad_rows == KEEL_BAD_ROW_SKIP ? "skip" : "fail" },
    };
    keel_metric metrics[] = { { "rows", (double)res->rows, keel_now_ms(), 0 },
                              { "skipped", (double)res->skipped, keel_now_ms(), 0 } };
    keel_run_log_batch(s, run, metrics, 2, params, 3, NULL, 0, &err);
    /* Inputs: the label rows and each source read (once). */
    keel_dataset_input *in = keel_arena_alloc(a, (repo->n_sources + 2) * sizeof *in);
    keel_kv *ctx_labels = keel_arena_alloc(a, sizeof *ctx_labels);
    *ctx_labels = (keel_kv){ "mlflow.data.context", "labels" };
    size_t n_in = 0;
    in[n_in++] = (keel_dataset_input){ { "labels", keel_arena_strdup(a, labels_sha), "local",
                                         o->entities_path, NULL, NULL }, ctx_labels, 1 };
    keel_kv *ctx_src = keel_arena_alloc(a, sizeof *ctx_src);
    *ctx_src = (keel_kv){ "mlflow.data.context", "feature-source" };
    for (size_t src = 0; src < repo->n_sources; src++) {
        bool used = false;
        for (size_t i = 0; i < o->n_features && !used; i++)
            used = repo->views[o->features[i].view].source == src;
        const keel_feature_source *fs = &repo->sources[src];
        char digest[KEEL_SHA256_HEX_LEN + 1] = "";
        if (!used || (fs->path != NULL &&
                      keel_sha256_file(fs->path, digest, NULL, &err) != KEEL_OK))
            continue;
        in[n_in++] = (keel_dataset_input){ { fs->name, keel_arena_strdup(a, digest[0] ? digest
                                                                          : fs->dataset),
                                             fs->path != NULL ? "local" : "keel",
                                             fs->path != NULL ? fs->path : fs->dataset, NULL,
                                             NULL }, ctx_src, 1 };
    }
    keel_run_log_inputs(s, run, in, n_in, &err);
    keel_run_update(s, run, "FINISHED", 0, NULL, &err);
    return run;
}

static int cmd_training_set(struct cli_ctx *ctx)
{
    const char *file = cli_opt(ctx, "file") != NULL ? cli_opt(ctx, "file") : "features.yaml";
    keel_training_set_opts o = {
        .entities_path = cli_opt(ctx, "entities"),
        .timestamp_column = cli_opt(ctx, "timestamp-column"),
        .out_path = cli_opt(ctx, "out"),
    };
    if (o.entities_path == NULL || o.out_path == NULL)
        return cli_usage_error(ctx, "--entities FILE and --out FILE are required");
    if ((cli_opt(ctx, "features") == NULL) == (cli_opt(ctx, "service") == NULL))
        return cli_usage_error(ctx, "give --features VIEW:FEATURE,… or --service NAME (one "
                               "of them)");
    if (parse_policy(ctx, &o.bad_rows) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    const char *dataset = cli_opt(ctx, "dataset");

    keel_feature_repo *repo = NULL;
    if (keel_feature_repo_load(file, &repo, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    int code = CLI_EXIT_OK;
    keel_training_set_result res;
    keel_dataset_version v;
    bool existed = false;
    if (requested(ctx, repo, &o.features, &o.n_features) != KEEL_OK) {
        code = ctx->err.code == KEEL_EINVAL ? cli_usage_error(ctx, "%s", ctx->err.msg)
                                            : cli_fail(ctx);
        goto done;
    }
    if ((dataset != NULL || needs_workspace(repo, o.features, o.n_features)) &&
        ctx->ws == NULL && keel_workspace_open(&ctx->ws, &ctx->err) != KEEL_OK) {
        code = cli_fail(ctx);
        goto done;
    }
    if (keel_training_set_build(ctx->ws, repo, &o, &ctx->arena, &res, &ctx->err) != KEEL_OK ||
        (dataset != NULL && keel_dataset_add(ctx->ws, o.out_path, dataset, &ctx->arena, &v,
                                             &existed, &ctx->err) != KEEL_OK)) {
        code = cli_fail(ctx);
        goto done;
    }
    /* Lineage needs a keel home; without one the training set stands alone. */
    keel_err no_home;
    const char *lineage_run = NULL;
    if (ctx->ws != NULL || keel_workspace_open(&ctx->ws, &no_home) == KEEL_OK)
        lineage_run = record_lineage(ctx, repo, &o, &res, dataset != NULL ? &v : NULL);
    if (ctx->json) {
        json_t *feats = json_array();
        for (size_t i = 0; i < o.n_features; i++) {
            const keel_feature_view *fv = &repo->views[o.features[i].view];
            json_array_append_new(feats, json_pack(
                "{s:s++, s:I}", "name", fv->name, "__", fv->features[o.features[i].feature].name,
                "found", (json_int_t)res.found[i]));
        }
        json_t *obj = json_pack("{s:s, s:I, s:I, s:o}", "out", o.out_path, "rows",
                                (json_int_t)res.rows, "skipped", (json_int_t)res.skipped,
                                "features", feats);
        if (lineage_run != NULL)
            json_object_set_new(obj, "lineage_run", json_string(lineage_run));
        if (dataset != NULL)
            json_object_set_new(obj, "dataset", json_pack("{s:s, s:I, s:s, s:b}", "name", v.name,
                                                          "version", (json_int_t)v.version,
                                                          "digest", v.digest, "existed",
                                                          existed));
        cli_print_json(obj);
        goto done;
    }
    printf("Wrote %s: %s rows, %s skipped\n", o.out_path,
           cli_fmt_int(&ctx->arena, (long long)res.rows),
           cli_fmt_int(&ctx->arena, (long long)res.skipped));
    static const char *const header[] = { "FEATURE", "FOUND", "RATE" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 3, header);
    for (size_t i = 0; i < o.n_features; i++) {
        const keel_feature_view *fv = &repo->views[o.features[i].view];
        const char *row[] = {
            keel_arena_sprintf(&ctx->arena, "%s__%s", fv->name,
                               fv->features[o.features[i].feature].name),
            cli_fmt_int(&ctx->arena, (long long)res.found[i]),
            keel_arena_sprintf(&ctx->arena, "%.1f%%",
                               res.rows ? 100.0 * (double)res.found[i] / (double)res.rows : 0.0),
        };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    if (lineage_run != NULL)
        printf("lineage: run %s (experiment features:%s): label rows, sources and definitions "
               "with their digests\n", lineage_run, repo->project);
    if (dataset != NULL)
        printf("%s dataset %s@%lld (sha256 %.12s)\n",
               existed ? "Already stored as" : "Recorded as", v.name, (long long)v.version,
               v.digest);
done:
    keel_feature_repo_free(repo);
    return code;
}

static const struct cli_opt training_set_opts[] = {
    { "entities", CLI_VALUE, "FILE", "label rows: join keys, an event timestamp, labels (CSV)" },
    { "features", CLI_VALUE, "VIEW:F,…", "the features to join" },
    { "service", CLI_VALUE, "NAME", "a feature service's features instead of --features" },
    { "out", CLI_VALUE, "FILE", "the training set written (CSV: label columns, view__feature)" },
    { "file", CLI_VALUE, "FILE", "the feature definitions (features.yaml)", 'f' },
    { "timestamp-column", CLI_VALUE, "NAME", "the label rows' event time (event_timestamp)" },
    { "on-bad-row", CLI_VALUE, "fail|skip",
      "a label row without a join key or timestamp: stop (fail) or leave it out (skip)" },
    { "dataset", CLI_VALUE, "NAME", "also record the output as a version of dataset NAME" },
    { NULL },
};

const struct cli_cmd cli_features_training_cmds[] = {
    { "features", "training-set", "", 0, 0, training_set_opts, cmd_training_set,
      "join feature values as of each label row's timestamp into a training CSV", false },
    { NULL },
};
