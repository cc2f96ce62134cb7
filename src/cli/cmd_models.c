/*
 * cmd_models.c — `keel models …` (the registry, promotion, rollback) and
 * `keel ci check` (the same gate report as an exit code for any CI system).
 */
#include "cli.h"

#include <keel/buf.h>
#include <keel/gate.h>
#include <keel/json.h>
#include <keel/registry.h>
#include <keel/train.h>
#include <keel/webhook.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *actor(void)
{
    const char *user = getenv("USER");
    if (user != NULL && user[0] != '\0')
        return user;
    struct passwd *pw = getpwuid(getuid());
    return pw != NULL ? pw->pw_name : "unknown";
}

static int parse_version(struct cli_ctx *ctx, const char *text, int64_t *out)
{
    long long v;
    if (cli_parse_int64(ctx, "VERSION", text, &v) != KEEL_OK || v < 1)
        return keel_errf(&ctx->err, KEEL_EINVAL, "VERSION must be a positive integer, got '%s'",
                         text);
    *out = v;
    return KEEL_OK;
}

static int tags_from(struct cli_ctx *ctx, keel_kv **out, size_t *out_n)
{
    const char **raw = cli_multi(ctx, "tag", out_n);
    *out = keel_arena_alloc(&ctx->arena, (*out_n + 1) * sizeof **out);
    for (size_t i = 0; i < *out_n; i++) {
        if (cli_parse_kv(ctx, "--tag", raw[i], &(*out)[i].key, &(*out)[i].value) != KEEL_OK)
            return ctx->err.code;
    }
    return KEEL_OK;
}

static void print_versions(struct cli_ctx *ctx, const keel_model_version *v, size_t n)
{
    static const char *const header[] = { "NAME", "VERSION", "STAGE", "ALIASES", "RUN", "CREATED",
                                          "SOURCE" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 7, header);
    for (size_t i = 0; i < n; i++) {
        keel_buf b;
        keel_buf_init(&b, 1024);
        for (size_t k = 0; k < v[i].n_aliases; k++)
            keel_buf_printf(&b, "%s@%s", k > 0 ? " " : "", v[i].aliases[k]);
        const char *aliases = keel_arena_strdup(&ctx->arena, b.data != NULL ? b.data : "");
        keel_buf_free(&b);
        const char *row[] = { v[i].name, cli_fmt_int(&ctx->arena, v[i].version),
                              v[i].current_stage, aliases, v[i].run_id,
                              cli_fmt_time(&ctx->arena, v[i].creation_time), v[i].source };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
}

static int cmd_create(struct cli_ctx *ctx)
{
    keel_kv *tags;
    size_t n_tags;
    if (tags_from(ctx, &tags, &n_tags) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    if (keel_model_create(ctx->ws->store, ctx->args[0], cli_opt(ctx, "description"), tags, n_tags,
                          actor(), &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (!ctx->json)
        printf("Created model '%s'\n", ctx->args[0]);
    return CLI_EXIT_OK;
}

static int cmd_list(struct cli_ctx *ctx)
{
    keel_model_search q = { .filter = cli_opt(ctx, "filter"), .order_by = cli_opt(ctx, "order-by"),
                            .page_token = cli_opt(ctx, "page-token") };
    keel_registered_model *list = NULL;
    size_t n = 0;
    const char *next = NULL;
    if (keel_model_search_run(ctx->ws->store, &q, &ctx->arena, &list, &n, &next, &ctx->err) !=
        KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, keel_registered_model_to_json(&list[i]));
        json_t *o = json_pack("{s:o}", "registered_models", arr);
        if (next != NULL)
            json_object_set_new(o, "next_page_token", json_string(next));
        cli_print_json(o);
        return CLI_EXIT_OK;
    }
    static const char *const header[] = { "NAME", "ALIASES", "UPDATED", "DESCRIPTION" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 4, header);
    for (size_t i = 0; i < n; i++) {
        keel_buf b;
        keel_buf_init(&b, 1024);
        for (size_t k = 0; k < list[i].n_aliases; k++)
            keel_buf_printf(&b, "%s@%s=%lld", k > 0 ? " " : "", list[i].aliases[k].alias,
                            (long long)list[i].aliases[k].version);
        const char *row[] = { list[i].name,
                              keel_arena_strdup(&ctx->arena, b.data != NULL ? b.data : ""),
                              cli_fmt_time(&ctx->arena, list[i].last_updated_time),
                              list[i].description };
        keel_buf_free(&b);
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    return CLI_EXIT_OK;
}

static int cmd_get(struct cli_ctx *ctx)
{
    keel_registered_model m;
    if (keel_model_get(ctx->ws->store, ctx->args[0], &ctx->arena, &m, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        cli_print_json(json_pack("{s:o}", "registered_model", keel_registered_model_to_json(&m)));
        return CLI_EXIT_OK;
    }
    printf("model:       %s\ndescription: %s\nupdated:     %s\n", m.name, m.description,
           cli_fmt_time(&ctx->arena, m.last_updated_time));
    for (size_t i = 0; i < m.n_aliases; i++)
        printf("alias:       @%s -> version %lld\n", m.aliases[i].alias,
               (long long)m.aliases[i].version);
    for (size_t i = 0; i < m.n_tags; i++)
        printf("tag:         %s = %s\n", m.tags[i].key, m.tags[i].value);
    keel_model_version_search q = { .filter = keel_arena_sprintf(&ctx->arena, "name = '%s'",
                                                                 m.name) };
    keel_model_version *v = NULL;
    size_t n = 0;
    const char *next = NULL;
    if (keel_model_version_search_run(ctx->ws->store, &q, &ctx->arena, &v, &n, &next,
                                      &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    printf("\n");
    print_versions(ctx, v, n);
    return CLI_EXIT_OK;
}

int cli_register_run_model(struct cli_ctx *ctx, const char *name, const char *run,
                           const char *path, const char *description, const keel_kv *tags,
                           size_t n_tags, int64_t *out_version)
{
    keel_bundle *b = NULL;
    if (keel_bundle_open(ctx->ws, run, path, &b, &ctx->err) != KEEL_OK)
        return ctx->err.code;
    char *signature = keel_json_dumps(json_object_get(keel_bundle_manifest(b), "signature"), false);
    keel_bundle_close(b);
    keel_registered_model existing;
    keel_err probe;
    int rc = keel_model_get(ctx->ws->store, name, &ctx->arena, &existing, &probe);
    if (rc == KEEL_ENOTFOUND)
        rc = keel_model_create(ctx->ws->store, name, NULL, NULL, 0, actor(), &ctx->err);
    else if (rc != KEEL_OK)
        ctx->err = probe;
    keel_model_version_create c = {
        .name = name,
        .source = keel_arena_sprintf(&ctx->arena, "runs:/%s/%s", run, path),
        .run_id = run,
        .description = description,
        .signature = signature,
        .tags = (keel_kv *)tags,
        .n_tags = n_tags,
    };
    if (rc == KEEL_OK)
        rc = keel_model_version_create_run(ctx->ws->store, &c, actor(), out_version, &ctx->err);
    free(signature);
    if (rc != KEEL_OK)
        return rc;
    keel_webhooks_fire(ctx->ws->store, "version_created",
                       json_pack("{s:s, s:I, s:s}", "model", name, "version",
                                 (json_int_t)*out_version, "source", c.source));
    return KEEL_OK;
}

/* models register NAME --run RUN [--path model]: the model is created when
 * new, as MLflow's register_model does; the signature comes from the
 * bundle's keel.json. */
static int cmd_register(struct cli_ctx *ctx)
{
    const char *run = cli_opt(ctx, "run");
    const char *path = cli_opt(ctx, "path") != NULL ? cli_opt(ctx, "path") : "model";
    if (run == NULL)
        return cli_usage_error(ctx, "--run RUN is required");
    keel_kv *tags;
    size_t n_tags;
    if (tags_from(ctx, &tags, &n_tags) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    int64_t version = 0;
    if (cli_register_run_model(ctx, ctx->args[0], run, path, cli_opt(ctx, "description"), tags,
                               n_tags, &version) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json)
        cli_print_json(json_pack("{s:s, s:I}", "name", ctx->args[0], "version", (json_int_t)version));
    else
        printf("Registered %s version %lld (runs:/%s/%s)\n", ctx->args[0], (long long)version, run,
               path);
    return CLI_EXIT_OK;
}

static int cmd_versions(struct cli_ctx *ctx)
{
    keel_model_version_search q = { .filter = keel_arena_sprintf(&ctx->arena, "name = '%s'",
                                                                 ctx->args[0]) };
    keel_model_version *v = NULL;
    size_t n = 0;
    const char *next = NULL;
    if (strchr(ctx->args[0], '\'') != NULL)
        return cli_usage_error(ctx, "model names cannot contain quotes");
    if (keel_model_version_search_run(ctx->ws->store, &q, &ctx->arena, &v, &n, &next,
                                      &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, keel_model_version_to_json(&v[i]));
        cli_print_json(json_pack("{s:o}", "model_versions", arr));
        return CLI_EXIT_OK;
    }
    print_versions(ctx, v, n);
    return CLI_EXIT_OK;
}

/* models alias set NAME ALIAS VERSION | delete NAME ALIAS | get NAME ALIAS */
static int cmd_alias(struct cli_ctx *ctx)
{
    const char *action = ctx->args[0];
    int rc;
    if (strcmp(action, "set") == 0 && ctx->n_args == 4) {
        int64_t version = 0;
        if (parse_version(ctx, ctx->args[3], &version) != KEEL_OK)
            return cli_usage_error(ctx, "%s", ctx->err.msg);
        rc = keel_model_alias_set(ctx->ws->store, ctx->args[1], ctx->args[2], version, actor(),
                                  cli_opt(ctx, "reason"), &ctx->err);
        if (rc == KEEL_OK)
            keel_webhooks_fire(ctx->ws->store, "alias_moved",
                               json_pack("{s:s, s:s, s:I}", "model", ctx->args[1], "alias",
                                         ctx->args[2], "version", (json_int_t)version));
        if (rc == KEEL_OK && !ctx->json)
            printf("%s@%s -> version %lld\n", ctx->args[1], ctx->args[2], (long long)version);
    } else if (strcmp(action, "delete") == 0 && ctx->n_args == 3) {
        rc = keel_model_alias_delete(ctx->ws->store, ctx->args[1], ctx->args[2], actor(),
                                     &ctx->err);
    } else if (strcmp(action, "get") == 0 && ctx->n_args == 3) {
        keel_model_version v;
        rc = keel_model_alias_get(ctx->ws->store, ctx->args[1], ctx->args[2], &ctx->arena, &v,
                                  &ctx->err);
        if (rc == KEEL_OK && ctx->json)
            cli_print_json(json_pack("{s:o}", "model_version", keel_model_version_to_json(&v)));
        else if (rc == KEEL_OK)
            print_versions(ctx, &v, 1);
    } else {
        return cli_usage_error(ctx, "expected: alias set NAME ALIAS VERSION | alias delete NAME "
                                    "ALIAS | alias get NAME ALIAS");
    }
    return rc == KEEL_OK ? CLI_EXIT_OK : cli_fail(ctx);
}

static int cmd_transition(struct cli_ctx *ctx)
{
    int64_t version = 0;
    if (parse_version(ctx, ctx->args[1], &version) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    if (keel_model_version_transition(ctx->ws->store, ctx->args[0], version, ctx->args[2],
                                      cli_flag(ctx, "archive-existing"), actor(),
                                      &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static int print_gate_report(struct cli_ctx *ctx, const char *model, int64_t version,
                             const keel_gate_result *r, size_t n, bool passed)
{
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:b, s:s, s:s, s:i}", "gate",
                                                 r[i].gate->label, "passed", r[i].passed,
                                                 "observed", r[i].observed, "detail",
                                                 r[i].detail, "line", r[i].gate->line));
        cli_print_json(json_pack("{s:s, s:I, s:b, s:o}", "model", model, "version",
                                 (json_int_t)version, "passed", passed, "gates", arr));
        return passed ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    }
    static const char *const header[] = { "GATE", "RESULT", "OBSERVED", "DETAIL" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 4, header);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = { r[i].gate->label, r[i].passed ? "pass" : "FAIL", r[i].observed,
                              r[i].detail };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    printf("%s version %lld: %s\n", model, (long long)version,
           passed ? "all gates passed" : "gates FAILED");
    return passed ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static int load_policy(struct cli_ctx *ctx, keel_gate_policy **out)
{
    *out = NULL;
    const char *path = cli_opt(ctx, "policy");
    if (path == NULL)
        return KEEL_OK;
    return keel_gate_policy_load(path, out, &ctx->err);
}

static int cmd_promote(struct cli_ctx *ctx)
{
    keel_promotion p = { .model = ctx->args[0], .alias = cli_opt(ctx, "to"),
                         .force = cli_flag(ctx, "force"), .reason = cli_opt(ctx, "reason"),
                         .actor = actor() };
    if (parse_version(ctx, ctx->args[1], &p.version) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    if (p.force && p.reason == NULL)
        return cli_usage_error(ctx, "--force needs --reason TEXT (it is audited)");
    keel_gate_policy *policy = NULL;
    if (load_policy(ctx, &policy) != KEEL_OK)
        return cli_fail(ctx);
    p.policy = policy;
    keel_gate_result *r = NULL;
    size_t n = 0;
    int rc = keel_model_promote(ctx->ws, &p, &ctx->arena, &r, &n, &ctx->err);
    bool passed = true;
    for (size_t i = 0; i < n; i++)
        passed &= r[i].passed;
    if (n > 0 && !ctx->json)
        print_gate_report(ctx, p.model, p.version, r, n, passed);
    keel_gate_policy_free(policy);
    if (rc != KEEL_OK)
        return cli_fail(ctx);
    const char *alias = p.alias != NULL ? p.alias : "production";
    if (ctx->json)
        cli_print_json(json_pack("{s:s, s:s, s:I, s:b}", "model", p.model, "alias", alias,
                                 "version", (json_int_t)p.version, "forced", p.force && !passed));
    else
        printf("%s@%s -> version %lld%s\n", p.model, alias, (long long)p.version,
               p.force && !passed ? " (forced; audited)" : "");
    return CLI_EXIT_OK;
}

static int cmd_rollback(struct cli_ctx *ctx)
{
    int64_t to = 0, version = 0;
    if (cli_opt(ctx, "to") != NULL && parse_version(ctx, cli_opt(ctx, "to"), &to) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    const char *alias = cli_opt(ctx, "alias") != NULL ? cli_opt(ctx, "alias") : "production";
    if (keel_model_rollback(ctx->ws, ctx->args[0], alias, to, actor(), cli_opt(ctx, "reason"),
                            &version, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json)
        cli_print_json(json_pack("{s:s, s:s, s:I}", "model", ctx->args[0], "alias", alias,
                                 "version", (json_int_t)version));
    else
        printf("%s@%s rolled back to version %lld\n", ctx->args[0], alias, (long long)version);
    return CLI_EXIT_OK;
}

static int cmd_lineage(struct cli_ctx *ctx)
{
    int64_t version = 0;
    if (parse_version(ctx, ctx->args[1], &version) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    json_t *lineage = NULL;
    if (keel_model_lineage(ctx->ws->store, ctx->args[0], version, &ctx->arena, &lineage,
                           &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        cli_print_json(lineage);
        return CLI_EXIT_OK;
    }
    const json_t *run = json_object_get(lineage, "run");
    printf("model:    %s version %lld\nsource:   %s\n", ctx->args[0], (long long)version,
           json_string_value(json_object_get(lineage, "source")));
    if (run != NULL) {
        printf("run:      %s (experiment %s, %s)\ncommit:   %s%s\n",
               json_string_value(json_object_get(run, "run_id")),
               json_string_value(json_object_get(run, "experiment_id")),
               json_string_value(json_object_get(run, "status")),
               json_string_value(json_object_get(run, "git_commit")) != NULL
                   ? json_string_value(json_object_get(run, "git_commit")) : "(not recorded)",
               json_is_true(json_object_get(run, "git_dirty")) ? " (dirty working tree)" : "");
    }
    const json_t *datasets = json_object_get(lineage, "datasets");
    for (size_t i = 0; i < json_array_size(datasets); i++) {
        const json_t *d = json_array_get(datasets, i);
        printf("data:     %s sha256:%s (%s)\n", json_string_value(json_object_get(d, "name")),
               json_string_value(json_object_get(d, "digest")),
               json_string_value(json_object_get(d, "context")) != NULL
                   ? json_string_value(json_object_get(d, "context")) : "input");
    }
    json_decref(lineage);
    return CLI_EXIT_OK;
}

static int cmd_history(struct cli_ctx *ctx)
{
    keel_audit_entry *h = NULL;
    size_t n = 0;
    if (keel_model_history(ctx->ws->store, ctx->args[0], &ctx->arena, &h, &n, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:I, s:s, s:s?, s:s?, s:s?}",
                                                 "time", (json_int_t)h[i].time, "actor",
                                                 h[i].actor, "action", h[i].action, "version",
                                                 (json_int_t)h[i].version, "field", h[i].field,
                                                 "old", h[i].old_value, "new", h[i].new_value,
                                                 "reason", h[i].reason));
        cli_print_json(json_pack("{s:s, s:o}", "model", ctx->args[0], "history", arr));
        return CLI_EXIT_OK;
    }
    static const char *const header[] = { "TIME", "ACTOR", "ACTION", "VERSION", "FIELD", "OLD",
                                          "NEW", "REASON" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 8, header);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = { cli_fmt_time(&ctx->arena, h[i].time), h[i].actor, h[i].action,
                              h[i].version > 0 ? cli_fmt_int(&ctx->arena, h[i].version) : "",
                              h[i].field, h[i].old_value, h[i].new_value, h[i].reason };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    return CLI_EXIT_OK;
}

static int cmd_delete(struct cli_ctx *ctx)
{
    if (keel_model_delete(ctx->ws->store, ctx->args[0], actor(), &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static int cmd_resolve(struct cli_ctx *ctx)
{
    keel_model_version v;
    if (keel_model_uri_resolve(ctx->ws->store, ctx->args[0], &ctx->arena, &v, &ctx->err) !=
        KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json)
        cli_print_json(json_pack("{s:o}", "model_version", keel_model_version_to_json(&v)));
    else
        printf("%s version %lld: %s\n", v.name, (long long)v.version, v.source);
    return CLI_EXIT_OK;
}

static int cmd_ci_check(struct cli_ctx *ctx)
{
    int64_t version = 0;
    if (parse_version(ctx, ctx->args[1], &version) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    if (cli_opt(ctx, "policy") == NULL)
        return cli_usage_error(ctx, "--policy FILE is required");
    keel_gate_policy *policy = NULL;
    if (load_policy(ctx, &policy) != KEEL_OK)
        return cli_fail(ctx);
    keel_gate_result *r = NULL;
    size_t n = 0;
    bool passed = false;
    int rc = keel_gate_check(ctx->ws, policy, ctx->args[0], version, &ctx->arena, &r, &n, &passed,
                             &ctx->err);
    int code = rc == KEEL_OK ? print_gate_report(ctx, ctx->args[0], version, r, n, passed)
                             : cli_fail(ctx);
    if (rc == KEEL_OK && !passed) {
        keel_err audit_err;
        keel_model_audit(ctx->ws->store, actor(), "ci_check_failed", ctx->args[0], version, "",
                         NULL, NULL, policy->path, &audit_err);
        keel_webhooks_fire(ctx->ws->store, "gate_failed",
                           json_pack("{s:s, s:I, s:s}", "model", ctx->args[0], "version",
                                     (json_int_t)version, "policy", policy->path));
    }
    keel_gate_policy_free(policy);
    return code;
}

static int cmd_webhook_add(struct cli_ctx *ctx)
{
    int64_t id = 0;
    if (keel_webhook_add(ctx->ws->store, ctx->args[0], cli_opt(ctx, "events"),
                         cli_opt(ctx, "secret"), &id, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json)
        cli_print_json(json_pack("{s:I}", "id", (json_int_t)id));
    else
        printf("Added webhook %lld\n", (long long)id);
    return CLI_EXIT_OK;
}

static int cmd_webhook_list(struct cli_ctx *ctx)
{
    keel_webhook *list = NULL;
    size_t n = 0;
    if (keel_webhook_list(ctx->ws->store, &ctx->arena, &list, &n, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    static const char *const header[] = { "ID", "URL", "EVENTS", "SIGNED", "ADDED" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 5, header);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = { cli_fmt_int(&ctx->arena, list[i].id), list[i].url, list[i].events,
                              list[i].has_secret ? "yes" : "no",
                              cli_fmt_time(&ctx->arena, list[i].created_time) };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    return CLI_EXIT_OK;
}

static int cmd_webhook_remove(struct cli_ctx *ctx)
{
    long long id;
    if (cli_parse_int64(ctx, "ID", ctx->args[0], &id) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    if (keel_webhook_remove(ctx->ws->store, id, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static int cmd_webhook_deliveries(struct cli_ctx *ctx)
{
    keel_webhook_delivery *list = NULL;
    size_t n = 0;
    if (keel_webhook_deliveries(ctx->ws->store, 100, &ctx->arena, &list, &n, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:I, s:s, s:I, s:I, s:I, s:b, s:s}", "webhook",
                                                 (json_int_t)list[i].webhook_id, "event",
                                                 list[i].event, "time", (json_int_t)list[i].time,
                                                 "status", (json_int_t)list[i].status, "attempts",
                                                 (json_int_t)list[i].attempts, "delivered",
                                                 list[i].delivered, "error", list[i].error));
        cli_print_json(json_pack("{s:o}", "deliveries", arr));
        return CLI_EXIT_OK;
    }
    static const char *const header[] = { "TIME", "WEBHOOK", "EVENT", "STATUS", "ATTEMPTS",
                                          "DELIVERED", "ERROR" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 7, header);
    for (size_t i = 0; i < n; i++) {
        const char *row[] = { cli_fmt_time(&ctx->arena, list[i].time),
                              cli_fmt_int(&ctx->arena, list[i].webhook_id), list[i].event,
                              cli_fmt_int(&ctx->arena, list[i].status),
                              cli_fmt_int(&ctx->arena, list[i].attempts),
                              list[i].delivered ? "yes" : "no", list[i].error };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    return CLI_EXIT_OK;
}

static const struct cli_opt webhook_opts[] = {
    { "events", CLI_VALUE, "LIST", "version_created,alias_moved,gate_failed or * (all)" },
    { "secret", CLI_VALUE, "SECRET", "HMAC-SHA256 key for X-Keel-Signature" },
    { NULL },
};

static const struct cli_opt create_opts[] = {
    { "description", CLI_VALUE, "TEXT", "what the model is for" },
    { "tag", CLI_MULTI, "KEY=VALUE", "tag (repeatable)" },
    { NULL },
};

static const struct cli_opt list_opts[] = {
    { "filter", CLI_VALUE, "FILTER", "e.g. \"name LIKE 'fraud%'\" or \"tags.team = 'risk'\"" },
    { "order-by", CLI_VALUE, "KEY [ASC|DESC]", "name (default) or last_updated_timestamp" },
    { "page-token", CLI_VALUE, "TOKEN", "continue a listing" },
    { NULL },
};

static const struct cli_opt register_opts[] = {
    { "run", CLI_VALUE, "RUN", "the run whose artifacts hold the bundle" },
    { "path", CLI_VALUE, "PATH", "the bundle's artifact path (model)" },
    { "description", CLI_VALUE, "TEXT", "version description" },
    { "tag", CLI_MULTI, "KEY=VALUE", "version tag (repeatable)" },
    { NULL },
};

static const struct cli_opt alias_opts[] = {
    { "reason", CLI_VALUE, "TEXT", "why (recorded in the audit log)" },
    { NULL },
};

static const struct cli_opt transition_opts[] = {
    { "archive-existing", CLI_FLAG, NULL, "archive the versions already in that stage" },
    { NULL },
};

static const struct cli_opt promote_opts[] = {
    { "to", CLI_VALUE, "ALIAS", "alias to move (production)" },
    { "policy", CLI_VALUE, "gates.yaml", "gates the version must pass" },
    { "force", CLI_FLAG, NULL, "promote even if gates fail (needs --reason; audited)" },
    { "reason", CLI_VALUE, "TEXT", "why (recorded in the audit log)" },
    { NULL },
};

static const struct cli_opt rollback_opts[] = {
    { "to", CLI_VALUE, "VERSION", "version to go back to (the previous one)" },
    { "alias", CLI_VALUE, "ALIAS", "alias to move back (production)" },
    { "reason", CLI_VALUE, "TEXT", "why (recorded in the audit log)" },
    { NULL },
};

static const struct cli_opt ci_opts[] = {
    { "policy", CLI_VALUE, "gates.yaml", "the gate policy" },
    { NULL },
};

static const struct cli_opt no_opts[] = { { NULL } };

const struct cli_cmd cli_model_cmds[] = {
    { "models", "create", "NAME", 1, 1, create_opts, cmd_create, "create a registered model", true },
    { "models", "list", "", 0, 0, list_opts, cmd_list, "list or search registered models", true },
    { "models", "get", "NAME", 1, 1, no_opts, cmd_get, "a model with its aliases and versions", true },
    { "models", "register", "NAME", 1, 1, register_opts, cmd_register,
      "register a run's model bundle as a new version", true, true },
    { "models", "versions", "NAME", 1, 1, no_opts, cmd_versions, "a model's versions", true },
    { "models", "alias", "set|delete|get NAME ALIAS [VERSION]", 3, 4, alias_opts, cmd_alias,
      "point an alias at a version (audited)", true },
    { "models", "transition", "NAME VERSION STAGE", 3, 3, transition_opts, cmd_transition,
      "move a version to None, Staging, Production or Archived", true },
    { "models", "promote", "NAME VERSION", 2, 2, promote_opts, cmd_promote,
      "check the gates, then move @production (or --to ALIAS) to the version", true, true },
    { "models", "rollback", "NAME", 1, 1, rollback_opts, cmd_rollback,
      "move @production back to the previous version", true },
    { "models", "lineage", "NAME VERSION", 2, 2, no_opts, cmd_lineage,
      "a version's run, code commit and datasets", true },
    { "models", "history", "NAME", 1, 1, no_opts, cmd_history, "every change to a model", true },
    { "models", "resolve", "models:/NAME@ALIAS|models:/NAME/VERSION", 1, 1, no_opts, cmd_resolve,
      "resolve a model URI to a version", true },
    { "models", "delete", "NAME", 1, 1, no_opts, cmd_delete,
      "delete a model and its versions (audited)", true },
    { "webhooks", "add", "URL", 1, 1, webhook_opts, cmd_webhook_add,
      "send registry events to URL (signed with --secret)", true },
    { "webhooks", "list", "", 0, 0, no_opts, cmd_webhook_list, "list webhooks", true },
    { "webhooks", "remove", "ID", 1, 1, no_opts, cmd_webhook_remove, "remove a webhook", true },
    { "webhooks", "deliveries", "", 0, 0, no_opts, cmd_webhook_deliveries,
      "recent deliveries and their outcome", true },
    { "ci", "check", "NAME VERSION", 2, 2, ci_opts, cmd_ci_check,
      "check a version against a gate policy; exit 0 if all pass, 1 if not", true, true },
    { NULL },
};
