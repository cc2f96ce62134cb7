/*
 * cmd_features_online.c — the online half of `keel features`:
 *
 *   keel features materialize [--start T] --end T [-f FILE] [--store URI]
 *   keel features materialize-incremental --end T [-f FILE] [--store URI]
 *   keel features get --entity KEY=VALUE … --features REFS [-f FILE] [--store URI]
 *
 * Times are "YYYY-MM-DD[ HH:MM[:SS]]" (UTC, as the sources' datetimes) or
 * "now". The online store is --store, else KEEL_ONLINE_STORE, else the keel
 * home's LMDB (<home>/online). Exit codes: 0 ok, 1 failure, 2 usage.
 */
#include "cli.h"

#include <keel/features.h>
#include <keel/util.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *repo_path(struct cli_ctx *ctx)
{
    const char *f = cli_opt(ctx, "file");
    return f != NULL ? f : "features.yaml";
}

static int parse_time(struct cli_ctx *ctx, const char *what, const char *text, int64_t *out)
{
    double v;
    if (strcmp(text, "now") == 0) {
        *out = keel_now_ms();
        return KEEL_OK;
    }
    if (keel_value_parse(KEEL_COL_DATETIME, text, strlen(text), &v)) {
        *out = (int64_t)v * 1000;
        return KEEL_OK;
    }
    if (keel_value_parse(KEEL_COL_DATE, text, strlen(text), &v)) {
        *out = (int64_t)v * 86400000;
        return KEEL_OK;
    }
    return cli_usage_error(ctx, "%s: expected YYYY-MM-DD[ HH:MM[:SS]] or now, not '%s'", what,
                           text);
}

static const char *time_text(keel_arena *a, int64_t ms)
{
    char buf[64];
    if (ms == INT64_MIN)
        return "beginning";
    keel_format_time(ms, buf, sizeof buf);
    return keel_arena_strdup(a, buf);
}

static int materialize(struct cli_ctx *ctx, bool incremental)
{
    keel_materialize_opts o = { .start_ms = INT64_MIN, .incremental = incremental };
    /* parse_time answers a usage error itself (exit 2). */
    int usage = parse_time(ctx, "--end", cli_opt(ctx, "end"), &o.end_ms);
    if (usage == KEEL_OK && !incremental && cli_opt(ctx, "start") != NULL)
        usage = parse_time(ctx, "--start", cli_opt(ctx, "start"), &o.start_ms);
    if (usage != KEEL_OK)
        return usage;
    keel_feature_repo *repo = NULL;
    keel_online_store *st = NULL;
    if (keel_feature_repo_load(repo_path(ctx), &repo, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (keel_online_store_open(cli_opt(ctx, "store"), ctx->ws->home, &st, &ctx->err) != KEEL_OK) {
        keel_feature_repo_free(repo);
        return cli_fail(ctx);
    }
    keel_materialize_view_result *res = NULL;
    size_t n = 0;
    int64_t t0 = keel_monotonic_ns();
    int rc = keel_features_materialize(ctx->ws, repo, st, &o, &ctx->arena, &res, &n, &ctx->err);
    double total = (double)(keel_monotonic_ns() - t0) / 1e9;
    size_t rows_total = 0;
    for (size_t i = 0; i < n; i++)
        rows_total += res[i].rows_read;
    if (rc == KEEL_OK && ctx->json) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, json_pack(
                "{s:s, s:o, s:I, s:I, s:I, s:I, s:f, s:f}", "view",
                repo->views[res[i].view].name, "start",
                res[i].start_ms == INT64_MIN ? json_null() : json_integer(res[i].start_ms),
                "end", (json_int_t)res[i].end_ms, "rows_read", (json_int_t)res[i].rows_read,
                "entities", (json_int_t)res[i].entities, "written",
                (json_int_t)res[i].written, "seconds", res[i].seconds, "rows_per_second",
                res[i].seconds > 0 ? res[i].rows_read / res[i].seconds : 0.0));
        cli_print_json(json_pack("{s:s, s:s, s:o, s:f, s:f}", "project", repo->project, "store",
                                 keel_online_store_uri(st), "views", list, "seconds", total,
                                 "rows_per_second", total > 0 ? rows_total / total : 0.0));
    } else if (rc == KEEL_OK) {
        for (size_t i = 0; i < n; i++)
            printf("%s: (%s, %s]: %zu rows read, %zu entities, %zu written in %.3f s "
                   "(%.0f rows/s)\n", repo->views[res[i].view].name,
                   time_text(&ctx->arena, res[i].start_ms), time_text(&ctx->arena, res[i].end_ms),
                   res[i].rows_read, res[i].entities, res[i].written, res[i].seconds,
                   res[i].seconds > 0 ? res[i].rows_read / res[i].seconds : 0.0);
        if (n == 0)
            printf("no online feature views in %s\n", repo->file);
        else
            printf("into %s: %zu rows (summed over views) in %.3f s, sources read included "
                   "(%.0f rows/s)\n",
                   keel_online_store_uri(st), rows_total, total,
                   total > 0 ? rows_total / total : 0.0);
    }
    keel_online_store_close(st);
    keel_feature_repo_free(repo);
    return rc == KEEL_OK ? CLI_EXIT_OK : cli_fail(ctx);
}

static int cmd_materialize(struct cli_ctx *ctx)
{
    return materialize(ctx, false);
}

static int cmd_materialize_incremental(struct cli_ctx *ctx)
{
    return materialize(ctx, true);
}


static const char *value_text(keel_arena *a, const keel_feature_value *v)
{
    if (v->missing)
        return "-";
    switch (v->type) {
    case KEEL_COL_INT:
        return keel_arena_sprintf(a, "%" PRId64, v->i64);
    case KEEL_COL_FLOAT:
        return cli_fmt_double(a, v->f64);
    case KEEL_COL_BOOL:
        return v->i64 ? "true" : "false";
    default:
        return keel_arena_strndup(a, v->str, v->len);
    }
}

static int cmd_get(struct cli_ctx *ctx)
{
    size_t n_entities = 0;
    const char **entities = cli_multi(ctx, "entity", &n_entities);
    if (n_entities == 0)
        return cli_usage_error(ctx, "give the entity as --entity KEY=VALUE (once per join key)");
    const char **names = keel_arena_alloc(&ctx->arena, n_entities * sizeof *names);
    const char **values = keel_arena_alloc(&ctx->arena, n_entities * sizeof *values);
    for (size_t i = 0; i < n_entities; i++)
        if (cli_parse_kv(ctx, "--entity", entities[i], &names[i], &values[i]) != KEEL_OK)
            return cli_fail(ctx);
    keel_feature_repo *repo = NULL;
    keel_online_store *st = NULL;
    if (keel_feature_repo_load(repo_path(ctx), &repo, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    keel_feature_ref *refs = NULL;
    size_t n_refs = 0;
    int rc = keel_feature_refs_parse(repo, cli_opt(ctx, "features"), &ctx->arena, &refs,
                                     &n_refs, &ctx->err);
    if (rc == KEEL_OK)
        rc = keel_online_store_open(cli_opt(ctx, "store"), ctx->ws->home, &st, &ctx->err);
    keel_feature_answer *ans = keel_arena_alloc(&ctx->arena, (n_refs + 1) * sizeof *ans);
    if (rc == KEEL_OK)
        rc = keel_features_get(st, repo, refs, n_refs, names, n_entities, values, 1,
                               keel_now_ms(), &ctx->arena, ans, &ctx->err);
    if (rc == KEEL_OK && ctx->json) {
        json_t *o = json_object();
        for (size_t r = 0; r < n_refs; r++) {
            const keel_feature_view *fv = &repo->views[refs[r].view];
            char *ref = keel_arena_sprintf(&ctx->arena, "%s:%s", fv->name,
                                           fv->features[refs[r].feature].name);
            json_object_set_new(o, ref, json_pack("{s:o, s:s, s:o}", "value",
                                                  keel_feature_value_json(&ans[r].value), "status",
                                                  keel_feature_status_name(ans[r].status),
                                                  "event_timestamp",
                                                  ans[r].event_ms ? json_integer(ans[r].event_ms)
                                                                  : json_null()));
        }
        cli_print_json(o);
    } else if (rc == KEEL_OK) {
        struct cli_table t;
        static const char *const header[] = { "FEATURE", "VALUE", "STATUS", "EVENT TIME" };
        cli_table_init(&t, &ctx->arena, 4, header);
        for (size_t r = 0; r < n_refs; r++) {
            const keel_feature_view *fv = &repo->views[refs[r].view];
            const char *cells[] = {
                keel_arena_sprintf(&ctx->arena, "%s:%s", fv->name,
                                   fv->features[refs[r].feature].name),
                value_text(&ctx->arena, &ans[r].value), keel_feature_status_name(ans[r].status),
                ans[r].event_ms ? cli_fmt_time(&ctx->arena, ans[r].event_ms) : "-",
            };
            cli_table_row(&t, cells);
        }
        cli_table_print(&t);
    }
    keel_online_store_close(st);
    keel_feature_repo_free(repo);
    return rc == KEEL_OK ? CLI_EXIT_OK : cli_fail(ctx);
}

static const struct cli_opt materialize_opts[] = {
    { "file", CLI_VALUE, "FILE", "the feature definitions (features.yaml)", 'f' },
    { "start", CLI_VALUE, "T", "exclusive start of event time (the beginning)" },
    { "end", CLI_VALUE, "T", "inclusive end of event time (required; 'now' allowed)" },
    { "store", CLI_VALUE, "URI", "online store: redis://HOST:PORT[/DB] or a directory "
                                 "(KEEL_ONLINE_STORE, else the keel home's online/)" },
    { NULL },
};

static const struct cli_opt incremental_opts[] = {
    { "file", CLI_VALUE, "FILE", "the feature definitions (features.yaml)", 'f' },
    { "end", CLI_VALUE, "T", "inclusive end of event time (required; 'now' allowed)" },
    { "store", CLI_VALUE, "URI", "online store (as for materialize)" },
    { NULL },
};

static const struct cli_opt get_opts[] = {
    { "file", CLI_VALUE, "FILE", "the feature definitions (features.yaml)", 'f' },
    { "entity", CLI_MULTI, "KEY=VALUE", "a join key and its value (repeatable)", 'e' },
    { "features", CLI_VALUE, "REFS", "view:feature,… to answer" },
    { "store", CLI_VALUE, "URI", "online store (as for materialize)" },
    { NULL },
};

static int cmd_materialize_checked(struct cli_ctx *ctx)
{
    if (cli_opt(ctx, "end") == NULL)
        return cli_usage_error(ctx, "--end T is required");
    return cmd_materialize(ctx);
}

static int cmd_incremental_checked(struct cli_ctx *ctx)
{
    if (cli_opt(ctx, "end") == NULL)
        return cli_usage_error(ctx, "--end T is required");
    return cmd_materialize_incremental(ctx);
}

static int cmd_get_checked(struct cli_ctx *ctx)
{
    if (cli_opt(ctx, "features") == NULL)
        return cli_usage_error(ctx, "--features view:feature,… is required");
    return cmd_get(ctx);
}

const struct cli_cmd cli_features_online_cmds[] = {
    { "features", "materialize", "", 0, 0, materialize_opts, cmd_materialize_checked,
      "load the newest values per entity in (start, end] into the online store", true },
    { "features", "materialize-incremental", "", 0, 0, incremental_opts,
      cmd_incremental_checked, "materialize from each view's last end up to --end", true },
    { "features", "get", "", 0, 0, get_opts, cmd_get_checked,
      "answer features for one entity from the online store", true },
    { NULL },
};
