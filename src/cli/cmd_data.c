/*
 * cmd_data.c — `keel data add|list|show|profile|validate`: versioned
 * datasets and the data-validation gate.
 */
#include "cli.h"

#include <keel/dataset.h>
#include <keel/json.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *version_json(const keel_dataset_version *v, bool with_profile)
{
    json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:I, s:I}", "name", v->name, "version",
                          (json_int_t)v->version, "digest", v->digest, "source",
                          v->source != NULL ? v->source : "", "size_bytes",
                          (json_int_t)v->size_bytes, "rows", (json_int_t)v->n_rows, "columns",
                          (json_int_t)v->n_cols, "created_time", (json_int_t)v->created_time);
    json_t *schema = json_loads(v->schema_json, 0, NULL);
    if (schema != NULL)
        json_object_set_new(o, "schema", schema);
    if (with_profile) {
        json_t *profile = json_loads(v->profile_json, 0, NULL);
        if (profile != NULL)
            json_object_set_new(o, "profile", profile);
    }
    return o;
}

static int cmd_add(struct cli_ctx *ctx)
{
    keel_dataset_version v;
    bool existed = false;
    if (keel_dataset_add(ctx->ws, ctx->args[0], cli_opt(ctx, "name"), &ctx->arena, &v, &existed,
                         &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *o = version_json(&v, false);
        json_object_set_new(o, "existed", json_boolean(existed));
        cli_print_json(o);
    } else {
        printf("%s %s@%lld: %lld rows x %lld columns, sha256 %s\n",
               existed ? "Already stored as" : "Added", v.name, (long long)v.version,
               (long long)v.n_rows, (long long)v.n_cols, v.digest);
    }
    return CLI_EXIT_OK;
}

static int cmd_list(struct cli_ctx *ctx)
{
    keel_dataset_version *list = NULL;
    size_t n = 0;
    if (keel_dataset_list(ctx->ws->store, &ctx->arena, &list, &n, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, version_json(&list[i], false));
        cli_print_json(json_pack("{s:o}", "datasets", arr));
        return CLI_EXIT_OK;
    }
    static const char *const header[] = { "NAME", "VERSION", "ROWS", "COLUMNS", "SHA256", "ADDED" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 6, header);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = { list[i].name, cli_fmt_int(&ctx->arena, list[i].version),
                              cli_fmt_int(&ctx->arena, list[i].n_rows),
                              cli_fmt_int(&ctx->arena, list[i].n_cols),
                              keel_arena_sprintf(&ctx->arena, "%.12s", list[i].digest),
                              cli_fmt_time(&ctx->arena, list[i].created_time) };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    return CLI_EXIT_OK;
}

static const char *stat_text(struct cli_ctx *ctx, const json_t *col, const char *key)
{
    const json_t *v = json_object_get(col, key);
    double d;
    if (v == NULL || keel_json_to_double(v, key, &d, NULL) != KEEL_OK)
        return "";
    return cli_fmt_double(&ctx->arena, d);
}

static void print_profile(struct cli_ctx *ctx, const json_t *profile)
{
    static const char *const header[] = { "COLUMN", "TYPE", "MISSING", "MIN", "MEDIAN", "MAX",
                                          "MEAN", "DISTINCT / TOP" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 8, header);
    const char *name;
    const json_t *col;
    json_object_foreach((json_t *)json_object_get(profile, "columns"), name, col) {
        const char *type = json_string_value(json_object_get(col, "type"));
        const char *top = "";
        if (type != NULL && strcmp(type, "string") == 0) {
            const char *first = NULL;
            const json_t *count;
            json_object_foreach((json_t *)json_object_get(col, "top"), first, count) {
                break;
            }
            top = keel_arena_sprintf(&ctx->arena, "%lld / %.24s",
                                     (long long)json_integer_value(json_object_get(col, "distinct")),
                                     first != NULL ? first : "");
        }
        const char *row[] = { name, type, stat_text(ctx, col, "missing_rate"),
                              stat_text(ctx, col, "min"),
                              stat_text(ctx, json_object_get(col, "quantiles"), "0.5"),
                              stat_text(ctx, col, "max"), stat_text(ctx, col, "mean"), top };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
}

static int show(struct cli_ctx *ctx, bool profile)
{
    keel_dataset_version v;
    if (keel_dataset_get(ctx->ws->store, ctx->args[0], &ctx->arena, &v, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        cli_print_json(version_json(&v, profile));
        return CLI_EXIT_OK;
    }
    printf("dataset:   %s@%lld\nsha256:    %s\nsource:    %s\nrows:      %lld\ncolumns:   "
           "%lld\nadded:     %s\n\n",
           v.name, (long long)v.version, v.digest, v.source, (long long)v.n_rows,
           (long long)v.n_cols, cli_fmt_time(&ctx->arena, v.created_time));
    json_t *p = json_loads(v.profile_json, 0, NULL);
    if (p != NULL)
        print_profile(ctx, p);
    json_decref(p);
    return CLI_EXIT_OK;
}

static int cmd_show(struct cli_ctx *ctx)
{
    return show(ctx, false);
}

static int cmd_profile(struct cli_ctx *ctx)
{
    return show(ctx, true);
}

static int parse_limit(struct cli_ctx *ctx, const char *opt, double *out)
{
    const char *text = cli_opt(ctx, opt);
    if (text == NULL)
        return KEEL_OK;
    char what[48];
    snprintf(what, sizeof what, "--%s", opt);
    if (cli_parse_double(ctx, what, text, out) != KEEL_OK || !(*out >= 0 && *out <= 1))
        return keel_errf(&ctx->err, KEEL_EINVAL, "%s must be a number from 0 to 1", what);
    return KEEL_OK;
}

static int cmd_validate(struct cli_ctx *ctx)
{
    keel_validate_limits lim = { 0.05, 0.01, 0.01 };
    if (parse_limit(ctx, "max-missing-increase", &lim.max_missing_increase) != KEEL_OK ||
        parse_limit(ctx, "max-out-of-range", &lim.max_out_of_range) != KEEL_OK ||
        parse_limit(ctx, "max-unseen", &lim.max_unseen) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    const char *against = cli_opt(ctx, "against");
    if (against == NULL)
        return cli_usage_error(ctx, "--against DATASET is required");
    keel_dataset_version v;
    keel_frame *f = NULL;
    json_t *report = NULL;
    json_t *profile = NULL;
    if (keel_dataset_get(ctx->ws->store, against, &ctx->arena, &v, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    profile = json_loads(v.profile_json, 0, NULL);
    if (keel_csv_read(ctx->args[0], NULL, &f, &ctx->err) != KEEL_OK ||
        keel_data_validate(f, profile, &lim, &report, &ctx->err) != KEEL_OK) {
        json_decref(profile);
        keel_frame_destroy(f);
        return cli_fail(ctx);
    }
    json_decref(profile);
    keel_frame_destroy(f);
    json_int_t errors = json_integer_value(json_object_get(report, "errors"));
    if (ctx->json) {
        cli_print_json(report);
        return errors > 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
    }
    static const char *const header[] = { "SEVERITY", "COLUMN", "CHECK", "DETAIL" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 4, header);
    const json_t *list = json_object_get(report, "anomalies");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *an = json_array_get(list, i);
        const char *row[] = { json_string_value(json_object_get(an, "severity")),
                              json_string_value(json_object_get(an, "column")),
                              json_string_value(json_object_get(an, "check")),
                              json_string_value(json_object_get(an, "message")) };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    printf("%s against %s@%lld: %lld errors, %lld warnings\n", ctx->args[0], v.name,
           (long long)v.version, (long long)errors,
           (long long)json_integer_value(json_object_get(report, "warnings")));
    json_decref(report);
    return errors > 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}


static const struct cli_opt add_opts[] = {
    { "name", CLI_VALUE, "NAME", "dataset name (the file's base name)" },
    { NULL },
};

static const struct cli_opt validate_opts[] = {
    { "against", CLI_VALUE, "DATASET[@V]", "the dataset version whose profile is the reference" },
    { "max-missing-increase", CLI_VALUE, "X", "allowed rise in a column's missing rate (0.05)" },
    { "max-out-of-range", CLI_VALUE, "X", "allowed share of numbers outside the seen range (0.01)" },
    { "max-unseen", CLI_VALUE, "X", "allowed share of unseen categories (0.01)" },
    { NULL },
};

static const struct cli_opt no_opts[] = { { NULL } };

const struct cli_cmd cli_data_cmds[] = {
    { "data", "add", "FILE", 1, 1, add_opts, cmd_add,
      "store a CSV file as a new dataset version (schema and profile recorded)", true },
    { "data", "list", "", 0, 0, no_opts, cmd_list, "list dataset versions", true },
    { "data", "show", "NAME[@V]", 1, 1, no_opts, cmd_show, "show a dataset version", true },
    { "data", "profile", "NAME[@V]", 1, 1, no_opts, cmd_profile,
      "a dataset version's column profile", true },
    { "data", "validate", "FILE", 1, 1, validate_opts, cmd_validate,
      "check a file against a dataset's schema and profile (exit 1 on errors)", true },
    { NULL },
};
