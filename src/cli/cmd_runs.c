/*
 * cmd_runs.c — `keel runs …`: create, inspect, log to, search and end runs.
 */
#include "cli.h"

#include <keel/buf.h>
#include <keel/json.h>
#include <keel/tracking.h>
#include <keel/util.h>

#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH_FILE_MAX (16u << 20)

static int parse_tags(struct cli_ctx *ctx, const char *opt, keel_kv **out, size_t *out_n)
{
    size_t n = 0;
    const char **raw = cli_multi(ctx, opt, &n);
    keel_kv *kv = keel_arena_alloc(&ctx->arena, (n + 1) * sizeof *kv);
    if (kv == NULL)
        return keel_errf(&ctx->err, KEEL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "--%s", opt);
        if (cli_parse_kv(ctx, what, raw[i], &kv[i].key, &kv[i].value) != KEEL_OK)
            return ctx->err.code;
    }
    *out = kv;
    *out_n = n;
    return KEEL_OK;
}

static int cmd_create(struct cli_ctx *ctx)
{
    keel_run_create_opts opts = { 0 };
    keel_kv *tags;
    if (parse_tags(ctx, "tag", &tags, &opts.n_tags) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    opts.tags = tags;
    opts.run_name = cli_opt(ctx, "name");
    const char *start = cli_opt(ctx, "start-time");
    if (start != NULL) {
        long long v;
        if (cli_parse_int64(ctx, "--start-time", start, &v) != KEEL_OK)
            return cli_usage_error(ctx, "%s", ctx->err.msg);
        opts.start_time = v;
    }
    const char *experiment = cli_opt(ctx, "experiment");
    if (keel_experiment_resolve(ctx->ws->store, experiment != NULL ? experiment : "0",
                                &opts.experiment_id, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    /* Like MLflow's client, the CLI records who ran it as mlflow.user. */
    keel_kv *all = keel_arena_alloc(&ctx->arena, (opts.n_tags + 1) * sizeof *all);
    if (opts.n_tags > 0)
        memcpy(all, tags, opts.n_tags * sizeof *all);
    const char *user = getenv("USER");
    if (user == NULL) {
        struct passwd *pw = getpwuid(getuid());
        user = pw != NULL ? pw->pw_name : "unknown";
    }
    all[opts.n_tags++] = (keel_kv){ "mlflow.user", user };
    opts.tags = all;
    opts.user_id = user;
    const char *run_id = NULL;
    if (keel_run_create(ctx->ws->store, &opts, &ctx->arena, &run_id, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (!cli_flag(ctx, "no-git")) {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd) != NULL &&
            keel_run_record_git(ctx->ws->store, run_id, cwd, &ctx->err) != KEEL_OK)
            fprintf(stderr, "keel: warning: source lineage not recorded: %s\n", ctx->err.msg);
    }
    if (ctx->json) {
        keel_run run;
        if (keel_run_get(ctx->ws->store, run_id, &ctx->arena, &run, &ctx->err) != KEEL_OK)
            return cli_fail(ctx);
        cli_print_json(json_pack("{s:o}", "run", keel_run_to_json(&run)));
    } else {
        printf("%s\n", run_id);
    }
    return CLI_EXIT_OK;
}

static void print_kv_section(struct cli_ctx *ctx, const char *title, const keel_kv *kv, size_t n)
{
    printf("\n%s:\n", title);
    static const char *const header[] = { "KEY", "VALUE" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 2, header);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = { kv[i].key, kv[i].value };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
}

static void print_run(struct cli_ctx *ctx, const keel_run *r)
{
    const keel_run_info *in = &r->info;
    printf("run:         %s\nname:        %s\nexperiment:  %lld\nstatus:      %s\n"
           "lifecycle:   %s\nstarted:     %s\nended:       %s\nuser:        %s\n"
           "artifacts:   %s\n",
           in->run_id, in->run_name, (long long)in->experiment_id, in->status,
           in->lifecycle_stage, cli_fmt_time(&ctx->arena, in->start_time),
           cli_fmt_time(&ctx->arena, in->end_time), in->user_id, in->artifact_uri);
    print_kv_section(ctx, "params", r->params, r->n_params);
    printf("\nmetrics:\n");
    static const char *const header[] = { "KEY", "VALUE", "STEP", "TIMESTAMP" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 4, header);
    for (size_t i = 0; i < r->n_metrics; i++) {
        const keel_metric *m = &r->metrics[i];
        const char *row[] = { m->key, cli_fmt_double(&ctx->arena, m->value),
                              cli_fmt_int(&ctx->arena, m->step),
                              cli_fmt_time(&ctx->arena, m->timestamp) };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    print_kv_section(ctx, "tags", r->tags, r->n_tags);
    if (r->n_inputs > 0) {
        printf("\ninputs:\n");
        for (size_t i = 0; i < r->n_inputs; i++)
            printf("  %s  sha256:%s  %s\n", r->inputs[i].dataset.name,
                   r->inputs[i].dataset.digest,
                   r->inputs[i].dataset.source != NULL ? r->inputs[i].dataset.source : "");
    }
}

static int cmd_get(struct cli_ctx *ctx)
{
    keel_run run;
    if (keel_run_get(ctx->ws->store, ctx->args[0], &ctx->arena, &run, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json)
        cli_print_json(json_pack("{s:o}", "run", keel_run_to_json(&run)));
    else
        print_run(ctx, &run);
    return CLI_EXIT_OK;
}

/* "acc=0.91, loss=0.3" for the table, at most 60 characters. */
static const char *metric_summary(struct cli_ctx *ctx, const keel_run *r)
{
    keel_buf b;
    keel_buf_init(&b, 4096);
    for (size_t i = 0; i < r->n_metrics; i++)
        keel_buf_printf(&b, "%s%s=%s", i > 0 ? ", " : "", r->metrics[i].key,
                        cli_fmt_double(&ctx->arena, r->metrics[i].value));
    const char *text = b.data != NULL ? b.data : "";
    const char *out = strlen(text) > 60 ? keel_arena_sprintf(&ctx->arena, "%.57s...", text)
                                        : keel_arena_strdup(&ctx->arena, text);
    keel_buf_free(&b);
    return out;
}

static int search(struct cli_ctx *ctx, const char *filter)
{
    keel_run_search q = { 0 };
    size_t n_exp = 0;
    const char **exps = cli_multi(ctx, "experiment", &n_exp);
    int64_t *ids = keel_arena_alloc(&ctx->arena, (n_exp + 1) * sizeof *ids);
    for (size_t i = 0; i < n_exp; i++) {
        if (keel_experiment_resolve(ctx->ws->store, exps[i], &ids[i], &ctx->err) != KEEL_OK)
            return cli_fail(ctx);
    }
    q.experiment_ids = ids;
    q.n_experiment_ids = n_exp;
    q.filter = filter;
    q.order_by = cli_multi(ctx, "order-by", &q.n_order_by);
    q.page_token = cli_opt(ctx, "page-token");
    const char *view = cli_opt(ctx, "view");
    if (view != NULL && keel_view_type_parse(view, &q.view, &ctx->err) != KEEL_OK)
        return cli_usage_error(ctx, "--view: %s", ctx->err.msg);
    const char *max = cli_opt(ctx, "max-results");
    if (max != NULL) {
        long long v;
        if (cli_parse_int64(ctx, "--max-results", max, &v) != KEEL_OK)
            return cli_usage_error(ctx, "%s", ctx->err.msg);
        q.max_results = v;
    }
    keel_run *runs = NULL;
    size_t n = 0;
    const char *next = NULL;
    if (keel_run_search_run(ctx->ws->store, &q, &ctx->arena, &runs, &n, &next, &ctx->err) !=
        KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, keel_run_to_json(&runs[i]));
        json_t *o = json_pack("{s:o}", "runs", arr);
        if (next != NULL)
            json_object_set_new(o, "next_page_token", json_string(next));
        cli_print_json(o);
        return CLI_EXIT_OK;
    }
    static const char *const header[] = { "RUN ID", "NAME", "STATUS", "STARTED", "METRICS" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 5, header);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = { runs[i].info.run_id, runs[i].info.run_name, runs[i].info.status,
                              cli_fmt_time(&ctx->arena, runs[i].info.start_time),
                              metric_summary(ctx, &runs[i]) };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    if (next != NULL)
        printf("more: --page-token %s\n", next);
    return CLI_EXIT_OK;
}

static int cmd_list(struct cli_ctx *ctx)
{
    return search(ctx, NULL);
}

static int cmd_search(struct cli_ctx *ctx)
{
    return search(ctx, cli_opt(ctx, "filter"));
}

static int cmd_log_param(struct cli_ctx *ctx)
{
    if (keel_run_log_param(ctx->ws->store, ctx->args[0], ctx->args[1], ctx->args[2],
                           &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static int cmd_log_metric(struct cli_ctx *ctx)
{
    double value;
    long long step = 0, timestamp = 0;
    const char *step_text = cli_opt(ctx, "step");
    const char *ts_text = cli_opt(ctx, "timestamp");
    if (cli_parse_double(ctx, "VALUE", ctx->args[2], &value) != KEEL_OK ||
        (step_text != NULL && cli_parse_int64(ctx, "--step", step_text, &step) != KEEL_OK) ||
        (ts_text != NULL && cli_parse_int64(ctx, "--timestamp", ts_text, &timestamp) != KEEL_OK))
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    if (keel_run_log_metric(ctx->ws->store, ctx->args[0], ctx->args[1], value, timestamp, step,
                            &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static int batch_from_file(struct cli_ctx *ctx, const char *path, keel_batch *b)
{
    char *text = NULL;
    size_t len = 0;
    if (keel_read_file(path, BATCH_FILE_MAX, &text, &len, &ctx->err) != KEEL_OK)
        return ctx->err.code;
    json_t *root = NULL;
    int rc = keel_json_parse(text, len, KEEL_JSON_MAX_DEPTH, &root, &ctx->err);
    free(text);
    if (rc == KEEL_OK && !json_is_object(root))
        rc = keel_errf(&ctx->err, KEEL_EINVAL, "the batch must be a JSON object");
    if (rc == KEEL_OK)
        rc = keel_batch_from_json(root, &ctx->arena, b, &ctx->err);
    json_decref(root);
    if (rc != KEEL_OK)
        keel_err_prefix(&ctx->err, "%s", path);
    return rc;
}

/* --metric KEY=VALUE[@STEP] */
static int batch_from_options(struct cli_ctx *ctx, keel_batch *b)
{
    size_t n = 0;
    const char **raw = cli_multi(ctx, "metric", &n);
    b->metrics = keel_arena_alloc(&ctx->arena, (n + 1) * sizeof *b->metrics);
    for (size_t i = 0; i < n; i++) {
        const char *key, *value;
        if (cli_parse_kv(ctx, "--metric", raw[i], &key, &value) != KEEL_OK)
            return ctx->err.code;
        long long step = 0;
        char *at = strchr(value, '@');
        if (at != NULL) {
            *at = '\0';
            if (cli_parse_int64(ctx, "--metric step", at + 1, &step) != KEEL_OK)
                return ctx->err.code;
        }
        double v;
        if (cli_parse_double(ctx, "--metric value", value, &v) != KEEL_OK)
            return ctx->err.code;
        b->metrics[b->n_metrics++] = (keel_metric){ key, v, 0, step };
    }
    if (parse_tags(ctx, "param", &b->params, &b->n_params) != KEEL_OK)
        return ctx->err.code;
    return parse_tags(ctx, "tag", &b->tags, &b->n_tags);
}

static int cmd_log_batch(struct cli_ctx *ctx)
{
    keel_batch b = { 0 };
    const char *file = cli_opt(ctx, "file");
    if (file != NULL) {
        size_t n_metric, n_param, n_tag;
        cli_multi(ctx, "metric", &n_metric);
        cli_multi(ctx, "param", &n_param);
        cli_multi(ctx, "tag", &n_tag);
        if (n_metric + n_param + n_tag > 0)
            return cli_usage_error(ctx, "--file cannot be combined with --metric/--param/--tag");
        if (batch_from_file(ctx, file, &b) != KEEL_OK)
            return cli_fail(ctx);
    } else if (batch_from_options(ctx, &b) != KEEL_OK) {
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    }
    if (keel_run_log_batch(ctx->ws->store, ctx->args[0], b.metrics, b.n_metrics, b.params,
                           b.n_params, b.tags, b.n_tags, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (!ctx->json)
        printf("Logged %zu metrics, %zu params, %zu tags\n", b.n_metrics, b.n_params, b.n_tags);
    return CLI_EXIT_OK;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

static int cmd_log_input(struct cli_ctx *ctx)
{
    const char *path = ctx->args[1];
    char digest[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    if (keel_sha256_file(path, digest, &size, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    char *abs = realpath(path, NULL);
    keel_dataset_input in = { 0 };
    in.dataset.name = cli_opt(ctx, "name") != NULL ? cli_opt(ctx, "name") : base_name(path);
    in.dataset.digest = digest;
    in.dataset.source_type = "local";
    in.dataset.source = keel_arena_strdup(&ctx->arena, abs != NULL ? abs : path);
    free(abs);
    in.dataset.profile = keel_arena_sprintf(&ctx->arena, "{\"size_bytes\": %lld}",
                                            (long long)size);
    keel_kv context = { "mlflow.data.context",
                        cli_opt(ctx, "context") != NULL ? cli_opt(ctx, "context") : "training" };
    in.tags = &context;
    in.n_tags = 1;
    if (keel_run_log_inputs(ctx->ws->store, ctx->args[0], &in, 1, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json)
        cli_print_json(json_pack("{s:s, s:s}", "name", in.dataset.name, "digest", digest));
    else
        printf("Recorded input %s (sha256:%s)\n", in.dataset.name, digest);
    return CLI_EXIT_OK;
}

static int cmd_set_tag(struct cli_ctx *ctx)
{
    if (keel_run_set_tag(ctx->ws->store, ctx->args[0], ctx->args[1], ctx->args[2], &ctx->err) !=
        KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static int cmd_delete_tag(struct cli_ctx *ctx)
{
    if (keel_run_delete_tag(ctx->ws->store, ctx->args[0], ctx->args[1], &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static int cmd_end(struct cli_ctx *ctx)
{
    const char *status = cli_opt(ctx, "status");
    if (keel_run_update(ctx->ws->store, ctx->args[0], status != NULL ? status : "FINISHED", 0,
                        NULL, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static int cmd_delete(struct cli_ctx *ctx)
{
    if (keel_run_delete(ctx->ws->store, ctx->args[0], &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static int cmd_restore(struct cli_ctx *ctx)
{
    if (keel_run_restore(ctx->ws->store, ctx->args[0], &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static int cmd_metric_history(struct cli_ctx *ctx)
{
    keel_metric *list = NULL;
    size_t n = 0;
    const char *next = NULL;
    if (keel_run_metric_history(ctx->ws->store, ctx->args[0], ctx->args[1], 0, NULL,
                                &ctx->arena, &list, &n, &next, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, keel_metric_to_json(&list[i]));
        cli_print_json(json_pack("{s:o}", "metrics", arr));
        return CLI_EXIT_OK;
    }
    static const char *const header[] = { "STEP", "VALUE", "TIMESTAMP" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 3, header);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = { cli_fmt_int(&ctx->arena, list[i].step),
                              cli_fmt_double(&ctx->arena, list[i].value),
                              cli_fmt_time(&ctx->arena, list[i].timestamp) };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    return CLI_EXIT_OK;
}

static const struct cli_opt create_opts[] = {
    { "experiment", CLI_VALUE, "ID|NAME", "experiment to create the run in (Default)" },
    { "name", CLI_VALUE, "NAME", "run name (generated when omitted)" },
    { "tag", CLI_MULTI, "KEY=VALUE", "run tag (repeatable)" },
    { "start-time", CLI_VALUE, "MS", "start time in epoch milliseconds (now)" },
    { "no-git", CLI_FLAG, NULL, "do not record the git commit of the working directory" },
    { NULL },
};

static const struct cli_opt search_opts[] = {
    { "experiment", CLI_MULTI, "ID|NAME", "experiment(s) to search (all when omitted)" },
    { "filter", CLI_VALUE, "FILTER", "e.g. \"metrics.acc > 0.9 and params.lr = '0.1'\"" },
    { "order-by", CLI_MULTI, "KEY [ASC|DESC]", "e.g. \"metrics.acc DESC\" (repeatable)" },
    { "max-results", CLI_VALUE, "N", "page size (1000)" },
    { "page-token", CLI_VALUE, "TOKEN", "continue a previous search" },
    { "view", CLI_VALUE, "ACTIVE_ONLY|DELETED_ONLY|ALL", "lifecycle stages (ACTIVE_ONLY)" },
    { NULL },
};

static const struct cli_opt metric_opts[] = {
    { "step", CLI_VALUE, "N", "training step (0)" },
    { "timestamp", CLI_VALUE, "MS", "epoch milliseconds (now)" },
    { NULL },
};

static const struct cli_opt batch_opts[] = {
    { "metric", CLI_MULTI, "KEY=VALUE[@STEP]", "metric point (repeatable)" },
    { "param", CLI_MULTI, "KEY=VALUE", "param (repeatable)" },
    { "tag", CLI_MULTI, "KEY=VALUE", "tag (repeatable)" },
    { "file", CLI_VALUE, "BATCH.json", "MLflow log-batch JSON body {metrics, params, tags}" },
    { NULL },
};

static const struct cli_opt input_opts[] = {
    { "name", CLI_VALUE, "NAME", "dataset name (the file's name)" },
    { "context", CLI_VALUE, "CONTEXT", "how the run used it: training, validation… (training)" },
    { NULL },
};

static const struct cli_opt end_opts[] = {
    { "status", CLI_VALUE, "FINISHED|FAILED|KILLED", "final status (FINISHED)" },
    { NULL },
};

static const struct cli_opt no_opts[] = { { NULL } };

const struct cli_cmd cli_run_cmds[] = {
    { "runs", "create", "", 0, 0, create_opts, cmd_create,
      "start a run (records the git commit of the working directory)", true },
    { "runs", "get", "RUN", 1, 1, no_opts, cmd_get, "show a run with its data", true },
    { "runs", "list", "", 0, 0, search_opts, cmd_list, "list runs, newest first", true },
    { "runs", "search", "", 0, 0, search_opts, cmd_search,
      "search runs with MLflow's filter grammar", true },
    { "runs", "log-param", "RUN KEY VALUE", 3, 3, no_opts, cmd_log_param,
      "log a parameter (immutable)", true },
    { "runs", "log-metric", "RUN KEY VALUE", 3, 3, metric_opts, cmd_log_metric,
      "log a metric value", true },
    { "runs", "log-batch", "RUN", 1, 1, batch_opts, cmd_log_batch,
      "log metrics, params and tags atomically", true },
    { "runs", "log-input", "RUN FILE", 2, 2, input_opts, cmd_log_input,
      "record a dataset file (by content hash) as an input of the run", true },
    { "runs", "set-tag", "RUN KEY VALUE", 3, 3, no_opts, cmd_set_tag, "set a run tag", true },
    { "runs", "delete-tag", "RUN KEY", 2, 2, no_opts, cmd_delete_tag, "remove a run tag", true },
    { "runs", "end", "RUN", 1, 1, end_opts, cmd_end, "end a run with a final status", true },
    { "runs", "delete", "RUN", 1, 1, no_opts, cmd_delete, "mark a run deleted", true },
    { "runs", "restore", "RUN", 1, 1, no_opts, cmd_restore, "restore a deleted run", true },
    { "runs", "metric-history", "RUN KEY", 2, 2, no_opts, cmd_metric_history,
      "every logged value of a metric", true },
    { NULL },
};
