/*
 * cmd_init.c — `keel init [DIR]`: create a keel home.
 */
#include "cli.h"

#include <stdio.h>

static int cmd_init(struct cli_ctx *ctx)
{
    char home[PATH_MAX];
    const char *dir = ctx->n_args > 0 ? ctx->args[0] : NULL;
    if (keel_workspace_init(dir, home, sizeof home, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        cli_print_json(json_pack("{s:s}", "home", home));
    } else {
        printf("Initialized keel home in %s\n", home);
    }
    return CLI_EXIT_OK;
}

static const struct cli_opt no_opts[] = { { NULL } };

const struct cli_cmd cli_init_cmds[] = {
    { NULL, "init", "[DIR]", 0, 1, no_opts, cmd_init,
      "create a keel home (.keel/) in DIR or the working directory", false },
    { NULL },
};
