/*
 * main.c — the keel program: finds the subcommand in the tables, parses its
 * options once, opens the workspace if the command needs it, runs it.
 */
#include "cli.h"

#include <keel/util.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct cli_cmd *const command_tables[] = {
    cli_init_cmds, cli_experiment_cmds, cli_run_cmds, cli_artifact_cmds, cli_data_cmds,
    cli_train_cmds, cli_model_cmds, cli_serve_cmds, cli_predict_cmds, cli_server_cmds,
    cli_pipeline_cmds, cli_monitor_cmds, cli_monitor_drift_cmds, cli_features_cmds,
    cli_features_online_cmds, cli_features_training_cmds,
};

#define N_TABLES (sizeof command_tables / sizeof command_tables[0])

static const struct cli_opt common_opts[] = {
    { "json", CLI_FLAG, NULL, "print JSON instead of a table" },
    { "help", CLI_FLAG, NULL, "show this help" },
};

static void print_version(void)
{
    printf("keel %s\n", KEEL_VERSION);
}

static void print_overview(FILE *out)
{
    fprintf(out,
            "keel %s — an MLOps platform in one program\n\n"
            "usage: keel <noun> <verb> [arguments] [options]\n\n"
            "commands:\n", KEEL_VERSION);
    for (size_t t = 0; t < N_TABLES; t++) {
        for (const struct cli_cmd *c = command_tables[t]; c->verb != NULL; c++) {
            char name[64];
            snprintf(name, sizeof name, "%s%s%s", c->noun != NULL ? c->noun : "",
                     c->noun != NULL ? " " : "", c->verb);
            fprintf(out, "  %-26s %s\n", name, c->summary);
        }
    }
    fprintf(out, "\nRun 'keel <noun> <verb> --help' for a command's options.\n"
                 "Environment: KEEL_HOME (the .keel directory), KEEL_STORE_URI (metadata "
                 "store), KEEL_LOG (debug|info|warn|error).\n");
}

static void print_noun_help(FILE *out, const char *noun)
{
    fprintf(out, "usage: keel %s <verb> [arguments] [options]\n\nverbs:\n", noun);
    for (size_t t = 0; t < N_TABLES; t++) {
        for (const struct cli_cmd *c = command_tables[t]; c->verb != NULL; c++) {
            if (c->noun != NULL && strcmp(c->noun, noun) == 0)
                fprintf(out, "  %-16s %s\n", c->verb, c->summary);
        }
    }
}

static void print_cmd_help(FILE *out, const struct cli_cmd *c)
{
    fprintf(out, "usage: keel %s%s%s%s%s [options]\n\n%s\n\noptions:\n",
            c->noun != NULL ? c->noun : "", c->noun != NULL ? " " : "", c->verb,
            c->args[0] != '\0' ? " " : "", c->args, c->summary);
    for (const struct cli_opt *o = c->opts; o != NULL && o->name != NULL; o++) {
        char left[64];
        char short_form[8] = "";
        if (o->short_name)
            snprintf(short_form, sizeof short_form, "-%c, ", o->short_name);
        snprintf(left, sizeof left, "%s--%s%s%s%s", short_form, o->name,
                 o->metavar != NULL ? " " : "", o->metavar != NULL ? o->metavar : "",
                 o->kind == CLI_MULTI ? " …" : "");
        fprintf(out, "  %-28s %s\n", left, o->help);
    }
    for (size_t i = 0; i < sizeof common_opts / sizeof common_opts[0]; i++) {
        char left[64];
        snprintf(left, sizeof left, "--%s", common_opts[i].name);
        fprintf(out, "  %-28s %s\n", left, common_opts[i].help);
    }
}

static const struct cli_cmd *find_cmd(const char *noun, const char *verb, bool *out_noun_known)
{
    *out_noun_known = false;
    for (size_t t = 0; t < N_TABLES; t++) {
        for (const struct cli_cmd *c = command_tables[t]; c->verb != NULL; c++) {
            if (c->noun == NULL) {
                if (strcmp(c->verb, noun) == 0)
                    return c;
                continue;
            }
            if (strcmp(c->noun, noun) != 0)
                continue;
            *out_noun_known = true;
            if (verb != NULL && strcmp(c->verb, verb) == 0)
                return c;
        }
    }
    return NULL;
}

static int opt_index(const struct cli_cmd *c, const char *name)
{
    for (int i = 0; c->opts != NULL && c->opts[i].name != NULL; i++) {
        if (strcmp(c->opts[i].name, name) == 0)
            return i;
    }
    return -1;
}

static int short_index(const struct cli_cmd *c, char letter)
{
    for (int i = 0; c->opts != NULL && c->opts[i].name != NULL; i++)
        if (c->opts[i].short_name != 0 && c->opts[i].short_name == letter)
            return i;
    return -1;
}

const char *cli_opt(const struct cli_ctx *ctx, const char *name)
{
    int i = opt_index(ctx->cmd, name);
    return i >= 0 ? ctx->values[i] : NULL;
}

bool cli_flag(const struct cli_ctx *ctx, const char *name)
{
    int i = opt_index(ctx->cmd, name);
    return i >= 0 && ctx->flags[i];
}

const char **cli_multi(const struct cli_ctx *ctx, const char *name, size_t *out_n)
{
    int i = opt_index(ctx->cmd, name);
    *out_n = i >= 0 ? ctx->n_multi[i] : 0;
    return i >= 0 ? ctx->multi[i] : NULL;
}

int cli_fail(struct cli_ctx *ctx)
{
    fprintf(stderr, "keel: %s\n", ctx->err.msg[0] != '\0' ? ctx->err.msg
                                                          : keel_rc_text(ctx->err.code));
    return CLI_EXIT_FAIL;
}

int cli_usage_error(struct cli_ctx *ctx, const char *fmt, ...)
{
    char msg[KEEL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "keel: %s\n", msg);
    if (ctx != NULL && ctx->cmd != NULL)
        fprintf(stderr, "Run 'keel %s%s%s --help' for usage.\n",
                ctx->cmd->noun != NULL ? ctx->cmd->noun : "", ctx->cmd->noun != NULL ? " " : "",
                ctx->cmd->verb);
    return CLI_EXIT_USAGE;
}

/* Fills ctx from argv (after noun and verb). Returns -1 when parsing
 * succeeded, else the exit code to return. */
static int parse_args(struct cli_ctx *ctx, int argc, char **argv)
{
    const struct cli_cmd *c = ctx->cmd;
    ctx->args = keel_arena_alloc(&ctx->arena, (size_t)(argc + 1) * sizeof *ctx->args);
    if (ctx->args == NULL)
        return cli_usage_error(ctx, "out of memory");
    bool only_positional = false;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        if (only_positional || a[0] != '-' || a[1] == '\0' ||
            (a[1] != '-' && (a[1] == '.' || (a[1] >= '0' && a[1] <= '9')))) {
            ctx->args[ctx->n_args++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_positional = true;
            continue;
        }
        char *name = a + 2;
        char *inline_value = NULL;
        if (a[1] != '-') {
            int s = short_index(c, a[1]);
            if (s < 0)
                return cli_usage_error(ctx, "unknown option '%s'", a);
            name = (char *)c->opts[s].name;
            inline_value = a[2] != '\0' ? a + 2 : NULL;
        } else if ((inline_value = strchr(name, '=')) != NULL) {
            *inline_value++ = '\0';
        }
        if (strcmp(name, "help") == 0) {
            print_cmd_help(stdout, c);
            return CLI_EXIT_OK;
        }
        if (strcmp(name, "json") == 0) {
            ctx->json = true;
            continue;
        }
        int idx = opt_index(c, name);
        if (idx < 0)
            return cli_usage_error(ctx, "unknown option '--%s'", name);
        const struct cli_opt *o = &c->opts[idx];
        if (o->kind == CLI_FLAG) {
            if (inline_value != NULL)
                return cli_usage_error(ctx, "option '--%s' takes no value", name);
            ctx->flags[idx] = true;
            continue;
        }
        const char *value = inline_value;
        if (value == NULL) {
            if (i + 1 >= argc)
                return cli_usage_error(ctx, "option '--%s' needs a value (%s)", name,
                                       o->metavar != NULL ? o->metavar : "VALUE");
            value = argv[++i];
        }
        if (o->kind == CLI_VALUE) {
            if (ctx->values[idx] != NULL)
                return cli_usage_error(ctx, "option '--%s' given twice", name);
            ctx->values[idx] = value;
            continue;
        }
        if (ctx->n_multi[idx] >= CLI_MAX_MULTI)
            return cli_usage_error(ctx, "option '--%s' given more than %d times", name,
                                   CLI_MAX_MULTI);
        if (ctx->multi[idx] == NULL) {
            ctx->multi[idx] = keel_arena_alloc(&ctx->arena, CLI_MAX_MULTI * sizeof(char *));
            if (ctx->multi[idx] == NULL)
                return cli_usage_error(ctx, "out of memory");
        }
        ctx->multi[idx][ctx->n_multi[idx]++] = value;
    }
    if (ctx->n_args < c->min_args || ctx->n_args > c->max_args) {
        if (c->min_args == c->max_args)
            return cli_usage_error(ctx, "expected %d argument%s (%s), got %d", c->min_args,
                                   c->min_args == 1 ? "" : "s", c->args, ctx->n_args);
        return cli_usage_error(ctx, "expected %d to %d arguments (%s), got %d", c->min_args,
                               c->max_args, c->args, ctx->n_args);
    }
    return -1;
}

/* XGBoost's OpenMP threads spin while they wait for work. When another
 * process holds a core (a server, a test, a second training job) that turns
 * a 1.5 s training into 6-20 s (measured on adult, 2 cores). Commands that
 * run models therefore start with OMP_WAIT_POLICY=PASSIVE unless the user
 * chose a policy: the process re-executes itself once with it set, because
 * libgomp reads the variable when it is loaded, before main runs. */
static void prefer_passive_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") != NULL || getenv("GOMP_SPINCOUNT") != NULL)
        return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    /* Still here: run as we are, the policy just won't apply. */
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_overview(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        print_version();
        return CLI_EXIT_OK;
    }
    bool noun_known = false;
    const char *verb = argc > 2 ? argv[2] : NULL;
    const struct cli_cmd *c = find_cmd(argv[1], verb, &noun_known);
    if (c == NULL) {
        if (!noun_known) {
            fprintf(stderr, "keel: unknown command '%s'\n", argv[1]);
            print_overview(stderr);
            return CLI_EXIT_USAGE;
        }
        if (verb == NULL || strcmp(verb, "--help") == 0 || strcmp(verb, "help") == 0) {
            print_noun_help(verb == NULL ? stderr : stdout, argv[1]);
            return verb == NULL ? CLI_EXIT_USAGE : CLI_EXIT_OK;
        }
        fprintf(stderr, "keel: unknown command '%s %s'\n", argv[1], verb);
        print_noun_help(stderr, argv[1]);
        return CLI_EXIT_USAGE;
    }
    int consumed = c->noun != NULL ? 3 : 2;
    if (c->runs_models)
        prefer_passive_openmp(argv);

    struct cli_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.cmd = c;
    keel_arena_init(&ctx.arena, 0);
    int code = parse_args(&ctx, argc - consumed, argv + consumed);
    if (code < 0 && c->needs_workspace) {
        if (keel_workspace_open(&ctx.ws, &ctx.err) != KEEL_OK)
            code = cli_fail(&ctx);
    }
    if (code < 0)
        code = c->run(&ctx);
    keel_workspace_close(ctx.ws);
    keel_arena_free(&ctx.arena);
    return code;
}
