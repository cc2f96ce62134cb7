/*
 * cmd_artifacts.c — `keel artifacts log|ls|get`: a run's files, stored once
 * by content hash.
 */
#include "cli.h"

#include <keel/artifacts.h>

#include <stdio.h>

static int cmd_log(struct cli_ctx *ctx)
{
    if (keel_artifacts_log(ctx->ws->store, ctx->ws->cas, ctx->args[0], ctx->args[1],
                           cli_opt(ctx, "artifact-path"), &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (!ctx->json)
        printf("Logged %s\n", ctx->args[1]);
    return CLI_EXIT_OK;
}

static int cmd_ls(struct cli_ctx *ctx)
{
    const char *path = ctx->n_args > 1 ? ctx->args[1] : NULL;
    keel_artifact_entry *list = NULL;
    size_t n = 0;
    if (keel_artifacts_list(ctx->ws->store, ctx->args[0], path, &ctx->arena, &list, &n,
                            &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *files = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *f = json_pack("{s:s, s:b}", "path", list[i].path, "is_dir", list[i].is_dir);
            if (!list[i].is_dir)
                json_object_set_new(f, "file_size", json_integer(list[i].size));
            if (list[i].hash != NULL)
                json_object_set_new(f, "sha256", json_string(list[i].hash));
            json_array_append_new(files, f);
        }
        cli_print_json(json_pack("{s:s, s:o}", "root_uri", ctx->args[0], "files", files));
        return CLI_EXIT_OK;
    }
    static const char *const header[] = { "PATH", "SIZE", "SHA256" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 3, header);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = {
            list[i].is_dir ? keel_arena_sprintf(&ctx->arena, "%s/", list[i].path) : list[i].path,
            cli_fmt_int(&ctx->arena, list[i].size),
            list[i].hash != NULL ? keel_arena_sprintf(&ctx->arena, "%.12s", list[i].hash) : "" };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    return CLI_EXIT_OK;
}

static int cmd_get(struct cli_ctx *ctx)
{
    const char *out = cli_opt(ctx, "out");
    if (keel_artifacts_get(ctx->ws->store, ctx->ws->cas, ctx->args[0], ctx->args[1],
                           out != NULL ? out : ".", &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (!ctx->json)
        printf("Fetched %s into %s\n", ctx->args[1], out != NULL ? out : ".");
    return CLI_EXIT_OK;
}

static const struct cli_opt log_opts[] = {
    { "artifact-path", CLI_VALUE, "DIR", "directory inside the run's artifacts (the root)" },
    { NULL },
};

static const struct cli_opt get_opts[] = {
    { "out", CLI_VALUE, "DIR", "destination directory (.)" },
    { NULL },
};

static const struct cli_opt no_opts[] = { { NULL } };

const struct cli_cmd cli_artifact_cmds[] = {
    { "artifacts", "log", "RUN PATH", 2, 2, log_opts, cmd_log,
      "store a file or directory as run artifacts", true },
    { "artifacts", "ls", "RUN [PATH]", 1, 2, no_opts, cmd_ls, "list a run's artifacts", true },
    { "artifacts", "get", "RUN PATH", 2, 2, get_opts, cmd_get,
      "fetch artifacts back (every object is verified)", true },
    { NULL },
};
