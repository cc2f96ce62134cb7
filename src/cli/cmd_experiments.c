/*
 * cmd_experiments.c — `keel experiments create|list|get|rename|delete|restore|set-tag`.
 */
#include "cli.h"

#include <keel/tracking.h>

#include <stdio.h>
#include <string.h>

static void print_experiment_table(struct cli_ctx *ctx, const keel_experiment *list, size_t n)
{
    static const char *const header[] = { "ID", "NAME", "STAGE", "CREATED", "ARTIFACTS" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 5, header);
    for (size_t i = 0; i < n; i++) {
        const keel_experiment *e = &list[i];
        const char *row[] = { cli_fmt_int(&ctx->arena, e->experiment_id), e->name,
                              e->lifecycle_stage, cli_fmt_time(&ctx->arena, e->creation_time),
                              e->artifact_location };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
}

static int cmd_create(struct cli_ctx *ctx)
{
    size_t n_tags = 0;
    const char **raw = cli_multi(ctx, "tag", &n_tags);
    keel_kv *tags = keel_arena_alloc(&ctx->arena, (n_tags + 1) * sizeof *tags);
    for (size_t i = 0; i < n_tags; i++) {
        if (cli_parse_kv(ctx, "--tag", raw[i], &tags[i].key, &tags[i].value) != KEEL_OK)
            return cli_usage_error(ctx, "%s", ctx->err.msg);
    }
    int64_t id = 0;
    if (keel_experiment_create(ctx->ws->store, ctx->args[0], cli_opt(ctx, "artifact-location"),
                               tags, n_tags, &id, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)id);
        cli_print_json(json_pack("{s:s}", "experiment_id", text));
    } else {
        printf("Created experiment '%s' with id %lld\n", ctx->args[0], (long long)id);
    }
    return CLI_EXIT_OK;
}

static int parse_view(struct cli_ctx *ctx, enum keel_view_type *out)
{
    const char *view = cli_opt(ctx, "view");
    *out = KEEL_VIEW_ACTIVE_ONLY;
    if (view == NULL)
        return KEEL_OK;
    static const struct { const char *name; enum keel_view_type view; } names[] = {
        { "active", KEEL_VIEW_ACTIVE_ONLY }, { "deleted", KEEL_VIEW_DELETED_ONLY },
        { "all", KEEL_VIEW_ALL } };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(view, names[i].name) == 0) {
            *out = names[i].view;
            return KEEL_OK;
        }
    }
    return keel_view_type_parse(view, out, &ctx->err);
}

static int cmd_list(struct cli_ctx *ctx)
{
    keel_experiment_search q = { 0 };
    if (parse_view(ctx, &q.view) != KEEL_OK)
        return cli_usage_error(ctx, "--view: %s", ctx->err.msg);
    q.filter = cli_opt(ctx, "filter");
    q.order_by = cli_multi(ctx, "order-by", &q.n_order_by);
    q.page_token = cli_opt(ctx, "page-token");
    const char *max = cli_opt(ctx, "max-results");
    if (max != NULL) {
        long long v;
        if (cli_parse_int64(ctx, "--max-results", max, &v) != KEEL_OK)
            return cli_usage_error(ctx, "%s", ctx->err.msg);
        q.max_results = v;
    }
    keel_experiment *list = NULL;
    size_t n = 0;
    const char *next = NULL;
    if (keel_experiment_search_run(ctx->ws->store, &q, &ctx->arena, &list, &n, &next,
                                   &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, keel_experiment_to_json(&list[i]));
        json_t *o = json_pack("{s:o}", "experiments", arr);
        if (next != NULL)
            json_object_set_new(o, "next_page_token", json_string(next));
        cli_print_json(o);
        return CLI_EXIT_OK;
    }
    print_experiment_table(ctx, list, n);
    if (next != NULL)
        printf("more: --page-token %s\n", next);
    return CLI_EXIT_OK;
}

static int get_experiment(struct cli_ctx *ctx, const char *ref, keel_experiment *out)
{
    int64_t id;
    if (keel_experiment_resolve(ctx->ws->store, ref, &id, &ctx->err) != KEEL_OK)
        return ctx->err.code;
    return keel_experiment_get(ctx->ws->store, id, &ctx->arena, out, &ctx->err);
}

static int cmd_get(struct cli_ctx *ctx)
{
    keel_experiment e;
    if (get_experiment(ctx, ctx->args[0], &e) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        cli_print_json(json_pack("{s:o}", "experiment", keel_experiment_to_json(&e)));
        return CLI_EXIT_OK;
    }
    print_experiment_table(ctx, &e, 1);
    for (size_t i = 0; i < e.n_tags; i++)
        printf("tag %s = %s\n", e.tags[i].key, e.tags[i].value);
    return CLI_EXIT_OK;
}

static int cmd_rename(struct cli_ctx *ctx)
{
    int64_t id;
    if (keel_experiment_resolve(ctx->ws->store, ctx->args[0], &id, &ctx->err) != KEEL_OK ||
        keel_experiment_rename(ctx->ws->store, id, ctx->args[1], &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (!ctx->json)
        printf("Renamed experiment %lld to '%s'\n", (long long)id, ctx->args[1]);
    return CLI_EXIT_OK;
}

static int lifecycle(struct cli_ctx *ctx, bool deleted)
{
    int64_t id;
    if (keel_experiment_resolve(ctx->ws->store, ctx->args[0], &id, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    int rc = deleted ? keel_experiment_delete(ctx->ws->store, id, &ctx->err)
                     : keel_experiment_restore(ctx->ws->store, id, &ctx->err);
    if (rc != KEEL_OK)
        return cli_fail(ctx);
    if (!ctx->json)
        printf("%s experiment %lld\n", deleted ? "Deleted" : "Restored", (long long)id);
    return CLI_EXIT_OK;
}

static int cmd_delete(struct cli_ctx *ctx)
{
    return lifecycle(ctx, true);
}

static int cmd_restore(struct cli_ctx *ctx)
{
    return lifecycle(ctx, false);
}

static int cmd_set_tag(struct cli_ctx *ctx)
{
    int64_t id;
    if (keel_experiment_resolve(ctx->ws->store, ctx->args[0], &id, &ctx->err) != KEEL_OK ||
        keel_experiment_set_tag(ctx->ws->store, id, ctx->args[1], ctx->args[2], &ctx->err) !=
            KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static const struct cli_opt create_opts[] = {
    { "artifact-location", CLI_VALUE, "URI", "where the experiment's artifacts go" },
    { "tag", CLI_MULTI, "KEY=VALUE", "experiment tag (repeatable)" },
    { NULL },
};

static const struct cli_opt list_opts[] = {
    { "view", CLI_VALUE, "active|deleted|all", "which lifecycle stages to list (active)" },
    { "filter", CLI_VALUE, "FILTER", "e.g. \"name LIKE 'fraud%'\" or \"tags.team = 'risk'\"" },
    { "order-by", CLI_MULTI, "KEY [ASC|DESC]", "e.g. \"name ASC\"; repeat for ties "
                                               "(last_update_time DESC)" },
    { "max-results", CLI_VALUE, "N", "page size (1000)" },
    { "page-token", CLI_VALUE, "TOKEN", "continue a previous listing" },
    { NULL },
};

static const struct cli_opt no_opts[] = { { NULL } };

const struct cli_cmd cli_experiment_cmds[] = {
    { "experiments", "create", "NAME", 1, 1, create_opts, cmd_create,
      "create an experiment", true },
    { "experiments", "list", "", 0, 0, list_opts, cmd_list, "list or search experiments", true },
    { "experiments", "get", "ID|NAME", 1, 1, no_opts, cmd_get, "show one experiment", true },
    { "experiments", "rename", "ID|NAME NEW_NAME", 2, 2, no_opts, cmd_rename,
      "rename an experiment", true },
    { "experiments", "delete", "ID|NAME", 1, 1, no_opts, cmd_delete,
      "mark an experiment and its runs deleted", true },
    { "experiments", "restore", "ID|NAME", 1, 1, no_opts, cmd_restore,
      "restore a deleted experiment and its runs", true },
    { "experiments", "set-tag", "ID|NAME KEY VALUE", 3, 3, no_opts, cmd_set_tag,
      "set an experiment tag", true },
    { NULL },
};
