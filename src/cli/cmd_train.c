/*
 * cmd_train.c — `keel train xgboost` and `keel evaluate`.
 */
#include "cli.h"

#include <keel/registry.h>
#include <keel/train.h>

#include <stdio.h>
#include <string.h>

static void print_eval(const keel_eval *e, const char *prefix)
{
    const char *keys[8];
    double values[8];
    size_t n = keel_eval_metrics(e, keys, values);
    for (size_t i = 0; i < n; i++)
        printf("%s%-10s %.6f\n", prefix, keys[i], values[i]);
}

static json_t *eval_json(const keel_eval *e)
{
    const char *keys[8];
    double values[8];
    size_t n = keel_eval_metrics(e, keys, values);
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, keys[i], json_real(values[i]));
    return o;
}

static int cmd_train_xgboost(struct cli_ctx *ctx)
{
    keel_train_opts o = { 0 };
    o.data = cli_opt(ctx, "data");
    o.target = cli_opt(ctx, "target");
    o.valid = cli_opt(ctx, "valid");
    o.split = cli_opt(ctx, "split");
    o.objective = cli_opt(ctx, "objective");
    o.positive = cli_opt(ctx, "positive");
    o.experiment = cli_opt(ctx, "experiment");
    o.run_name = cli_opt(ctx, "name");
    o.quiet = ctx->json;
    /* Inside a pipeline step, the training run becomes the step run's child. */
    o.parent_run_id = getenv("KEEL_PARENT_RUN_ID");
    if (o.data == NULL || o.target == NULL)
        return cli_usage_error(ctx, "--data and --target are required");
    const char *register_as = cli_opt(ctx, "register");
    if (register_as != NULL && keel_model_name_check(register_as, &ctx->err) != KEEL_OK)
        return cli_usage_error(ctx, "--register: %s", ctx->err.msg);
    size_t n_params = 0;
    const char **raw = cli_multi(ctx, "param", &n_params);
    keel_kv *params = keel_arena_alloc(&ctx->arena, (n_params + 1) * sizeof *params);
    for (size_t i = 0; i < n_params; i++) {
        if (cli_parse_kv(ctx, "--param", raw[i], &params[i].key, &params[i].value) != KEEL_OK)
            return cli_usage_error(ctx, "%s", ctx->err.msg);
    }
    o.params = params;
    o.n_params = n_params;
    o.drop = cli_multi(ctx, "drop", &o.n_drop);
    long long v;
    if (cli_opt(ctx, "rounds") != NULL) {
        if (cli_parse_int64(ctx, "--rounds", cli_opt(ctx, "rounds"), &v) != KEEL_OK || v < 1)
            return cli_usage_error(ctx, "--rounds must be a positive integer");
        o.rounds = v;
    }
    if (cli_opt(ctx, "early-stopping") != NULL) {
        if (cli_parse_int64(ctx, "--early-stopping", cli_opt(ctx, "early-stopping"), &v) != KEEL_OK)
            return cli_usage_error(ctx, "%s", ctx->err.msg);
        o.early_stopping = v > 0 ? v : -1;
    }
    if (cli_opt(ctx, "seed") != NULL) {
        if (cli_parse_int64(ctx, "--seed", cli_opt(ctx, "seed"), &v) != KEEL_OK || v < 0)
            return cli_usage_error(ctx, "--seed must be a non-negative integer");
        o.seed = (uint64_t)v;
    }
    if (cli_opt(ctx, "threads") != NULL) {
        if (cli_parse_int64(ctx, "--threads", cli_opt(ctx, "threads"), &v) != KEEL_OK || v < 1)
            return cli_usage_error(ctx, "--threads must be a positive integer");
        o.threads = (int)v;
    }
    keel_train_result r;
    if (keel_train_xgboost(ctx->ws, &o, &ctx->arena, &r, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    /* The run is finished and kept whatever happens to the registration. */
    int64_t version = 0;
    if (register_as != NULL &&
        cli_register_run_model(ctx, register_as, r.run_id, "model", NULL, NULL, 0, &version) !=
            KEEL_OK) {
        fprintf(stderr, "keel train: run %s finished, but registering it as '%s' failed\n",
                r.run_id, register_as);
        return cli_fail(ctx);
    }
    if (ctx->json) {
        json_t *out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:o}", "run_id", r.run_id,
                                "task", keel_task_name(r.task), "best_round",
                                (json_int_t)r.best_round, "train_rows", (json_int_t)r.n_train,
                                "test_rows", (json_int_t)r.n_test, "features",
                                (json_int_t)r.n_features, "model_sha256", r.model_sha256,
                                "metrics", eval_json(&r.eval));
        json_object_set_new(out, "seconds",
                            json_pack("{s:f, s:f, s:f, s:f}", "data", r.seconds_data, "train",
                                      r.seconds_train, "evaluate", r.seconds_evaluate, "record",
                                      r.seconds_record));
        if (register_as != NULL)
            json_object_set_new(out, "registered",
                                json_pack("{s:s, s:I}", "name", register_as, "version",
                                          (json_int_t)version));
        cli_print_json(out);
        return CLI_EXIT_OK;
    }
    printf("run %s: %s, %zu training rows, %zu test rows, %zu features, %lld rounds kept\n",
           r.run_id, keel_task_name(r.task), r.n_train, r.n_test, r.n_features,
           (long long)r.best_round);
    print_eval(&r.eval, "  test ");
    printf("  model  sha256 %s (artifacts: model/)\n", r.model_sha256);
    if (register_as != NULL)
        printf("Registered %s version %lld (runs:/%s/model)\n", register_as, (long long)version,
               r.run_id);
    return CLI_EXIT_OK;
}

static int cmd_evaluate(struct cli_ctx *ctx)
{
    const char *data = cli_opt(ctx, "data");
    if (data == NULL)
        return cli_usage_error(ctx, "--data is required");
    keel_eval e;
    if (keel_evaluate(ctx->ws, ctx->args[0], data, cli_opt(ctx, "target"), &ctx->arena, &e,
                      &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    if (ctx->json) {
        json_t *o = eval_json(&e);
        json_object_set_new(o, "rows", json_integer((json_int_t)e.n));
        cli_print_json(o);
    } else {
        printf("%zu rows\n", e.n);
        print_eval(&e, "  ");
    }
    return CLI_EXIT_OK;
}

static const struct cli_opt train_opts[] = {
    { "data", CLI_VALUE, "DATASET|FILE", "training data: a dataset version or a CSV file" },
    { "target", CLI_VALUE, "COLUMN", "the column to predict" },
    { "split", CLI_VALUE, "SPEC", "random:0.2[:SEED] | column:NAME[:TRAIN/TEST] | time:COL:0.2 | "
                                  "time:COL@DATE (random:0.2)" },
    { "valid", CLI_VALUE, "DATASET|FILE", "separate validation data instead of a split" },
    { "param", CLI_MULTI, "KEY=VALUE", "XGBoost parameter (repeatable), e.g. max_depth=8" },
    { "objective", CLI_VALUE, "OBJ", "XGBoost objective (chosen from the target)" },
    { "positive", CLI_VALUE, "LABEL", "binary: the positive class" },
    { "drop", CLI_MULTI, "COLUMN", "column not to use as a feature (repeatable)" },
    { "rounds", CLI_VALUE, "N", "boosting rounds (500)" },
    { "early-stopping", CLI_VALUE, "N", "stop after N rounds without improvement (30; 0 = off)" },
    { "seed", CLI_VALUE, "N", "random seed (42)" },
    { "threads", CLI_VALUE, "N", "training threads (1 below ~8M cells, else all cores)" },
    { "experiment", CLI_VALUE, "NAME", "experiment for the run (created if new; Default)" },
    { "name", CLI_VALUE, "NAME", "run name" },
    { "register", CLI_VALUE, "MODEL", "register the bundle as a new version of MODEL (created "
                                      "if new)" },
    { NULL },
};

static const struct cli_opt evaluate_opts[] = {
    { "data", CLI_VALUE, "DATASET|FILE", "data to score" },
    { "target", CLI_VALUE, "COLUMN", "target column (the model's)" },
    { NULL },
};

const struct cli_cmd cli_train_cmds[] = {
    { "train", "xgboost", "", 0, 0, train_opts, cmd_train_xgboost,
      "train an XGBoost model on a dataset and log it as a run with its bundle", true, true },
    { NULL, "evaluate", "RUN|BUNDLE_DIR", 1, 1, evaluate_opts, cmd_evaluate,
      "score a model bundle on data with keel's metrics", true, true },
    { NULL },
};
