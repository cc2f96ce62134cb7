/*
 * cmd_pipeline.c — `keel run`, `keel pipeline list|show|status|runs|logs|
 * cancel` and `keel lineage`: the command-line face of src/pipeline.
 *
 * keel.yaml is found as --file, else ./keel.yaml. Exit codes: 0 when every
 * step succeeded or was cached, 1 when a step failed or the run was
 * cancelled (or the pipeline could not start), 2 for usage errors.
 */
#include "cli.h"


#include <keel/artifacts.h>
#include <keel/pipeline.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *spec_path(struct cli_ctx *ctx)
{
    const char *f = cli_opt(ctx, "file");
    return f != NULL ? f : "keel.yaml";
}

static int load(struct cli_ctx *ctx, keel_pipeline **out)
{
    size_t n_params = 0;
    const char **params = cli_multi(ctx, "param", &n_params);
    keel_kv *kv = keel_arena_alloc(&ctx->arena, (n_params + 1) * sizeof *kv);
    for (size_t i = 0; i < n_params; i++)
        if (cli_parse_kv(ctx, "-p", params[i], &kv[i].key, &kv[i].value) != KEEL_OK)
            return CLI_EXIT_USAGE;
    const char *name = ctx->n_args > 0 ? ctx->args[0] : NULL;
    if (keel_pipeline_load(spec_path(ctx), name, kv, n_params, out, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

static json_t *summary_json(const keel_pipeline *p, const keel_run_summary *s, bool dry)
{
    json_t *steps = json_array();
    for (size_t i = 0; i < p->n_steps; i++)
        json_array_append_new(steps, json_pack("{s:s, s:s, s:s}", "step", p->steps[i].name,
                                               dry ? "would" : "result", s->actions[i], "why",
                                               s->reasons[i]));
    json_t *o = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:b, s:o}", "pipeline", p->name,
                          "succeeded", (json_int_t)s->n_succeeded, "cached",
                          (json_int_t)s->n_cached, "failed", (json_int_t)s->n_failed,
                          "cancelled", (json_int_t)s->n_cancelled, "skipped",
                          (json_int_t)s->n_skipped, "was_cancelled", s->cancelled, "steps",
                          steps);
    if (s->run_id != NULL && !dry)
        json_object_set_new(o, "run_id", json_string(s->run_id));
    return o;
}

static void print_plan(struct cli_ctx *ctx, const keel_pipeline *p, const keel_run_summary *s,
                       const char *const *last)
{
    struct cli_table t;
    const char *header[] = { "STEP", "WOULD", "WHY", "LAST RUN" };
    cli_table_init(&t, &ctx->arena, last != NULL ? 4 : 3, header);
    for (size_t i = 0; i < p->n_steps; i++) {
        const char *row[] = { p->steps[i].name, s->actions[i], s->reasons[i],
                              last != NULL && last[i] != NULL ? last[i] : "-" };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
}

static int cmd_run(struct cli_ctx *ctx)
{
    keel_pipeline *p = NULL;
    int code = load(ctx, &p);
    if (code != CLI_EXIT_OK)
        return code;
    long long jobs = 0;
    if (cli_opt(ctx, "jobs") != NULL &&
        (cli_parse_int64(ctx, "--jobs", cli_opt(ctx, "jobs"), &jobs) != KEEL_OK || jobs < 1 ||
         jobs > 10000)) {
        keel_pipeline_free(p);
        return cli_usage_error(ctx, "--jobs must be a number from 1 to 10000");
    }
    const char *executor = cli_opt(ctx, "executor");
    if (executor == NULL)
        executor = getenv("KEEL_EXECUTOR");
    keel_run_options o = {
        .executor = executor != NULL ? executor : "local",
        .jobs = (int)jobs,
        .dry_run = cli_flag(ctx, "dry-run"),
        .keep_going = cli_flag(ctx, "keep-going"),
        .resume_run_id = cli_opt(ctx, "resume"),
        .run_id_file = cli_opt(ctx, "run-id-file"),
        .trigger = cli_opt(ctx, "trigger") != NULL ? cli_opt(ctx, "trigger") : "cli",
        .tty = !ctx->json && isatty(STDOUT_FILENO) && getenv("KEEL_NO_PROGRESS") == NULL,
        .out = ctx->json ? stderr : stdout,
    };
    if (o.dry_run && o.resume_run_id != NULL) {
        keel_pipeline_free(p);
        return cli_usage_error(ctx, "--dry-run and --resume do not go together");
    }
    keel_run_summary sum;
    int rc = keel_pipeline_run(ctx->ws, p, &o, &ctx->arena, &sum, &ctx->err);
    bool ran = rc == KEEL_OK || rc == KEEL_ESTATE;
    if (ran && ctx->json)
        cli_print_json(summary_json(p, &sum, o.dry_run));
    else if (ran && o.dry_run)
        print_plan(ctx, p, &sum, NULL);
    keel_pipeline_free(p);
    if (rc != KEEL_OK)
        return cli_fail(ctx);
    return CLI_EXIT_OK;
}

/* Status of each step in the pipeline's most recent run (arena strings). */
static const char **last_run_steps(struct cli_ctx *ctx, const keel_pipeline *p,
                                   const char **out_run)
{
    keel_store *s = ctx->ws->store;
    keel_stmt *q = NULL;
    *out_run = NULL;
    if (keel_store_prepare(s, "SELECT run_id FROM pipeline_runs WHERE pipeline = ? "
                              "ORDER BY start_time DESC LIMIT 1", true, &q, &ctx->err) != KEEL_OK)
        return NULL;
    keel_stmt_bind_text(q, 1, p->name, -1);
    if (keel_stmt_step(q, &ctx->err) == KEEL_STEP_ROW)
        *out_run = keel_arena_strdup(&ctx->arena, keel_stmt_text(q, 0));
    keel_stmt_release(q);
    if (*out_run == NULL)
        return NULL;
    const char **last = keel_arena_alloc(&ctx->arena, p->n_steps * sizeof *last);
    if (keel_store_prepare(s, "SELECT step, status, reason FROM pipeline_steps WHERE run_id = ?",
                           true, &q, &ctx->err) != KEEL_OK)
        return NULL;
    keel_stmt_bind_text(q, 1, *out_run, -1);
    while (keel_stmt_step(q, &ctx->err) == KEEL_STEP_ROW) {
        long i = keel_pipeline_step_index(p, keel_stmt_text(q, 0));
        if (i >= 0)
            last[i] = keel_arena_strdup(&ctx->arena, keel_stmt_text(q, 1));
    }
    keel_stmt_release(q);
    return last;
}

static int cmd_status(struct cli_ctx *ctx)
{
    keel_pipeline *p = NULL;
    int code = load(ctx, &p);
    if (code != CLI_EXIT_OK)
        return code;
    keel_run_options o = { .dry_run = true, .out = stdout };
    keel_run_summary sum;
    int rc = keel_pipeline_run(ctx->ws, p, &o, &ctx->arena, &sum, &ctx->err);
    if (rc != KEEL_OK && rc != KEEL_ESTATE) {
        keel_pipeline_free(p);
        return cli_fail(ctx);
    }
    const char *last_run = NULL;
    const char **last = last_run_steps(ctx, p, &last_run);
    if (ctx->json) {
        json_t *j = summary_json(p, &sum, true);
        json_object_set_new(j, "last_run", last_run ? json_string(last_run) : json_null());
        cli_print_json(j);
    } else {
        printf("pipeline %s (%s): last run %s\n", p->name, p->file,
               last_run != NULL ? last_run : "none");
        print_plan(ctx, p, &sum, last);
    }
    keel_pipeline_free(p);
    return CLI_EXIT_OK;
}

static const char *join_list(keel_arena *a, const char *const *items, size_t n)
{
    const char *s = "";
    for (size_t i = 0; i < n; i++)
        s = keel_arena_sprintf(a, "%s%s%s", s, i ? ", " : "", items[i]);
    return s;
}

static int cmd_show(struct cli_ctx *ctx)
{
    keel_pipeline *p = NULL;
    int code = load(ctx, &p);
    if (code != CLI_EXIT_OK)
        return code;
    keel_arena *a = &ctx->arena;
    if (ctx->json) {
        json_t *steps = json_array();
        for (size_t i = 0; i < p->n_steps; i++) {
            const keel_pipeline_step *st = &p->steps[i];
            json_t *needs = json_array(), *deps = json_array(), *outs = json_array();
            for (size_t k = 0; k < st->n_needs; k++)
                json_array_append_new(needs, json_string(p->steps[st->needs[k]].name));
            for (size_t k = 0; k < st->n_deps; k++)
                json_array_append_new(deps, json_string(st->deps[k]));
            for (size_t k = 0; k < st->n_outs; k++)
                json_array_append_new(outs, json_string(st->outs[k]));
            json_array_append_new(steps, json_pack("{s:s, s:s, s:o, s:o, s:o, s:b, s:i, s:f}",
                                                   "name", st->name, "command", st->command,
                                                   "needs", needs, "deps", deps, "outs", outs,
                                                   "cache", st->cache, "retries",
                                                   (json_int_t)st->retries, "timeout_s",
                                                   st->timeout_s));
        }
        json_t *params = json_object();
        for (size_t i = 0; i < p->n_params; i++)
            json_object_set_new(params, p->params[i].key, json_string(p->params[i].value));
        cli_print_json(json_pack("{s:s, s:s, s:o, s:s?, s:o}", "pipeline", p->name, "file",
                                 p->file, "params", params, "schedule", p->schedule, "steps",
                                 steps));
    } else {
        printf("pipeline %s (%s)\n", p->name, p->file);
        for (size_t i = 0; i < p->n_params; i++)
            printf("  param %s = %s\n", p->params[i].key, p->params[i].value);
        if (p->schedule != NULL)
            printf("  schedule \"%s\"%s\n", p->schedule, p->catchup ? " (catchup)" : "");
        for (size_t i = 0; i < p->n_steps; i++) {
            const keel_pipeline_step *st = &p->steps[i];
            const char **needs = keel_arena_alloc(a, (st->n_needs + 1) * sizeof *needs);
            for (size_t k = 0; k < st->n_needs; k++)
                needs[k] = p->steps[st->needs[k]].name;
            printf("\nstep %s\n  command: %s\n", st->name, st->command);
            if (st->n_needs)
                printf("  needs:   %s\n", join_list(a, needs, st->n_needs));
            if (st->n_deps)
                printf("  deps:    %s\n", join_list(a, st->deps, st->n_deps));
            if (st->n_outs)
                printf("  outs:    %s\n", join_list(a, st->outs, st->n_outs));
            if (st->retries || st->timeout_s > 0 || !st->cache)
                printf("  retries: %d, timeout: %gs, cache: %s\n", st->retries, st->timeout_s,
                       st->cache ? "on" : "off");
        }
    }
    keel_pipeline_free(p);
    return CLI_EXIT_OK;
}

static int cmd_list(struct cli_ctx *ctx)
{
    const char **names = NULL;
    size_t n = 0;
    if (keel_pipeline_names(spec_path(ctx), &ctx->arena, &names, &n, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    struct cli_table t;
    const char *header[] = { "PIPELINE", "STEPS", "SCHEDULE", "LAST RUN", "STATUS", "STARTED" };
    cli_table_init(&t, &ctx->arena, 6, header);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        keel_pipeline *p = NULL;
        if (keel_pipeline_load(spec_path(ctx), names[i], NULL, 0, &p, &ctx->err) != KEEL_OK) {
            json_decref(list);
            return cli_fail(ctx);
        }
        keel_stmt *q = NULL;
        const char *run = "-", *status = "-", *started = "-";
        if (keel_store_prepare(ctx->ws->store, "SELECT run_id, status, start_time FROM "
                               "pipeline_runs WHERE pipeline = ? ORDER BY start_time DESC "
                               "LIMIT 1", true, &q, &ctx->err) == KEEL_OK) {
            keel_stmt_bind_text(q, 1, p->name, -1);
            if (keel_stmt_step(q, &ctx->err) == KEEL_STEP_ROW) {
                run = keel_arena_strdup(&ctx->arena, keel_stmt_text(q, 0));
                status = keel_arena_strdup(&ctx->arena, keel_stmt_text(q, 1));
                started = cli_fmt_time(&ctx->arena, keel_stmt_int64(q, 2));
            }
            keel_stmt_release(q);
        }
        const char *row[] = { keel_arena_strdup(&ctx->arena, p->name),
                              cli_fmt_int(&ctx->arena, (long long)p->n_steps),
                              p->schedule != NULL ? keel_arena_strdup(&ctx->arena, p->schedule)
                                                  : "-",
                              run, status, started };
        cli_table_row(&t, row);
        json_array_append_new(list, json_pack("{s:s, s:i, s:s?, s:s, s:s}", "pipeline", p->name,
                                              "steps", (json_int_t)p->n_steps, "schedule",
                                              p->schedule, "last_run", run, "status", status));
        keel_pipeline_free(p);
    }
    if (ctx->json)
        cli_print_json(list);
    else {
        json_decref(list);
        cli_table_print(&t);
    }
    return CLI_EXIT_OK;
}

static int cmd_runs(struct cli_ctx *ctx)
{
    keel_stmt *q = NULL;
    const char *name = ctx->n_args > 0 ? ctx->args[0] : NULL;
    if (keel_store_prepare(ctx->ws->store, "SELECT run_id, pipeline, status, executor, trigger, "
                           "start_time, end_time FROM pipeline_runs WHERE (? IS NULL OR "
                           "pipeline = ?) ORDER BY start_time DESC LIMIT 50", true, &q,
                           &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    keel_stmt_bind_text(q, 1, name, -1);
    keel_stmt_bind_text(q, 2, name, -1);
    struct cli_table t;
    const char *header[] = { "RUN", "PIPELINE", "STATUS", "EXECUTOR", "TRIGGER", "STARTED",
                             "SECONDS" };
    cli_table_init(&t, &ctx->arena, 7, header);
    json_t *list = json_array();
    while (keel_stmt_step(q, &ctx->err) == KEEL_STEP_ROW) {
        keel_arena *a = &ctx->arena;
        int64_t start = keel_stmt_int64(q, 5), end = keel_stmt_int64(q, 6);
        const char *row[] = { keel_arena_strdup(a, keel_stmt_text(q, 0)),
                              keel_arena_strdup(a, keel_stmt_text(q, 1)),
                              keel_arena_strdup(a, keel_stmt_text(q, 2)),
                              keel_arena_strdup(a, keel_stmt_text(q, 3)),
                              keel_arena_strdup(a, keel_stmt_text(q, 4)), cli_fmt_time(a, start),
                              end > 0 ? keel_arena_sprintf(a, "%.2f", (double)(end - start) / 1e3)
                                      : "-" };
        cli_table_row(&t, row);
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "run_id",
                                              row[0], "pipeline", row[1], "status", row[2],
                                              "executor", row[3], "trigger", row[4],
                                              "start_time", (json_int_t)start, "end_time",
                                              (json_int_t)end));
    }
    keel_stmt_release(q);
    if (ctx->json)
        cli_print_json(list);
    else {
        json_decref(list);
        cli_table_print(&t);
    }
    return CLI_EXIT_OK;
}

static int cmd_logs(struct cli_ctx *ctx)
{
    const char *run = ctx->args[0], *step = ctx->args[1];
    keel_stmt *q = NULL;
    if (keel_store_prepare(ctx->ws->store, "SELECT step_run_id, attempts, status FROM "
                           "pipeline_steps WHERE run_id = ? AND step = ?", true, &q,
                           &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    keel_stmt_bind_text(q, 1, run, -1);
    keel_stmt_bind_text(q, 2, step, -1);
    const char *step_run = NULL;
    long long attempts = 0;
    if (keel_stmt_step(q, &ctx->err) == KEEL_STEP_ROW) {
        step_run = keel_stmt_text(q, 0) ? keel_arena_strdup(&ctx->arena, keel_stmt_text(q, 0))
                                        : NULL;
        attempts = keel_stmt_int64(q, 1);
    } else {
        keel_stmt_release(q);
        keel_errf(&ctx->err, KEEL_ENOTFOUND, "no step '%s' in pipeline run %s", step, run);
        return cli_fail(ctx);
    }
    keel_stmt_release(q);
    long long attempt = attempts;
    if (cli_opt(ctx, "attempt") != NULL &&
        cli_parse_int64(ctx, "--attempt", cli_opt(ctx, "attempt"), &attempt) != KEEL_OK)
        return CLI_EXIT_USAGE;
    if (step_run == NULL || attempts == 0) {
        printf("(step %s did not run in %s)\n", step, run);
        return CLI_EXIT_OK;
    }
    const char *which = cli_flag(ctx, "stderr") ? "stderr" : "stdout";
    const char *path = keel_arena_sprintf(&ctx->arena, "logs/attempt-%lld/%s.txt", attempt, which);
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    int rc = keel_artifacts_stat(ctx->ws->store, step_run, path, hash, &size, &ctx->err);
    if (rc == KEEL_ENOTFOUND) {
        /* Not stored (yet): a running attempt's output is still in its log
         * file; a finished one that is not stored printed nothing. */
        const char *live = keel_arena_sprintf(&ctx->arena, "%s.%s",
                                              keel_pipeline_log_base(&ctx->arena, ctx->ws->home, run,
                                                                step, (int)attempt),
                                              cli_flag(ctx, "stderr") ? "err" : "out");
        char *text = NULL;
        size_t n = 0;
        keel_err ignored;
        if (keel_read_file(live, 64u << 20, &text, &n, &ignored) == KEEL_OK) {
            fwrite(text, 1, n, stdout);
            free(text);
        }
        return CLI_EXIT_OK;
    }
    if (rc != KEEL_OK)
        return cli_fail(ctx);
    char *data = NULL;
    size_t len = 0;
    if (keel_cas_get_bytes(ctx->ws->cas, hash, 64u << 20, &data, &len, &ctx->err) !=
        KEEL_OK)
        return cli_fail(ctx);
    fwrite(data, 1, len, stdout);
    free(data);
    return CLI_EXIT_OK;
}

static int cmd_cancel(struct cli_ctx *ctx)
{
    const char *run = ctx->args[0];
    keel_stmt *q = NULL;
    if (keel_store_prepare(ctx->ws->store, "SELECT status, pid, host FROM pipeline_runs WHERE "
                           "run_id = ?", true, &q, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    keel_stmt_bind_text(q, 1, run, -1);
    if (keel_stmt_step(q, &ctx->err) != KEEL_STEP_ROW) {
        keel_stmt_release(q);
        keel_errf(&ctx->err, KEEL_ENOTFOUND, "no pipeline run %s", run);
        return cli_fail(ctx);
    }
    const char *status = keel_arena_strdup(&ctx->arena, keel_stmt_text(q, 0));
    int64_t pid = keel_stmt_int64(q, 1);
    const char *host = keel_arena_strdup(&ctx->arena, keel_stmt_text(q, 2) ? keel_stmt_text(q, 2)
                                                                            : "");
    keel_stmt_release(q);
    if (strcmp(status, "RUNNING") != 0) {
        keel_errf(&ctx->err, KEEL_ESTATE, "run %s is not running (%s)", run, status);
        return cli_fail(ctx);
    }
    char me[256] = "";
    gethostname(me, sizeof me - 1);
    if (strcmp(host, me) != 0) {
        keel_errf(&ctx->err, KEEL_ESTATE, "run %s is driven by keel on host %s (pid %lld); "
                  "cancel it there", run, host, (long long)pid);
        return cli_fail(ctx);
    }
    if (pid > 0 && kill((pid_t)pid, SIGTERM) == 0) {
        /* The engine records the cancellation itself; wait for it so the
         * command's return means the run has stopped. */
        for (int i = 0; i < 600 && kill((pid_t)pid, 0) == 0; i++)
            usleep(50000);
        printf("cancelled pipeline run %s (keel pid %lld stopped)\n", run, (long long)pid);
        return CLI_EXIT_OK;
    }
    /* The driving process is gone (killed): close the run here. */
    if (keel_store_execv(ctx->ws->store, "UPDATE pipeline_steps SET status = 'CANCELLED', "
                         "reason = 'cancelled (keel process gone)' WHERE run_id = ? AND status "
                         "IN ('PENDING', 'RUNNING')", NULL, &ctx->err, "t", run) != KEEL_OK ||
        keel_store_execv(ctx->ws->store, "UPDATE pipeline_runs SET status = 'CANCELLED', "
                         "end_time = ? WHERE run_id = ?", NULL, &ctx->err, "it", keel_now_ms(),
                         run) != KEEL_OK ||
        keel_run_update(ctx->ws->store, run, "KILLED", 0, NULL, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    printf("cancelled pipeline run %s (its keel process was already gone)\n", run);
    return CLI_EXIT_OK;
}

/* ---- lineage ---- */

static void lineage_of(struct cli_ctx *ctx, const char *digest, const char *label, int depth,
                       json_t *out)
{
    keel_store *s = ctx->ws->store;
    keel_stmt *q = NULL;
    if (depth > 32 || keel_store_prepare(s, "SELECT e.step_run_id, e.path, ps.run_id, ps.step, "
                                            "ps.end_time FROM lineage_edges e JOIN pipeline_steps "
                                            "ps ON ps.step_run_id = e.step_run_id WHERE "
                                            "e.digest = ? AND e.direction = 'out' ORDER BY "
                                            "ps.end_time DESC LIMIT 1", true, &q,
                                         &ctx->err) != KEEL_OK)
        return;
    keel_stmt_bind_text(q, 1, digest, -1);
    if (keel_stmt_step(q, &ctx->err) != KEEL_STEP_ROW) {
        keel_stmt_release(q);
        if (!ctx->json)
            printf("%*s%s %.12s: not produced by a recorded step (a source)\n", depth * 2, "",
                   label, digest);
        json_object_set_new(out, "produced_by", json_null());
        return;
    }
    keel_arena *a = &ctx->arena;
    const char *step_run = keel_arena_strdup(a, keel_stmt_text(q, 0));
    const char *path = keel_arena_strdup(a, keel_stmt_text(q, 1));
    const char *run = keel_arena_strdup(a, keel_stmt_text(q, 2));
    const char *step = keel_arena_strdup(a, keel_stmt_text(q, 3));
    int64_t end = keel_stmt_int64(q, 4);
    keel_stmt_release(q);
    if (!ctx->json)
        printf("%*s%s %.12s (%s)\n%*s  produced by step %s of pipeline run %s at %s "
               "(step run %s)\n", depth * 2, "", label, digest, path, depth * 2, "", step, run,
               cli_fmt_time(a, end), step_run);
    json_t *inputs = json_array();
    json_object_set_new(out, "produced_by", json_pack("{s:s, s:s, s:s, s:s, s:o}", "step", step,
                                                      "pipeline_run", run, "step_run", step_run,
                                                      "path", path, "inputs", inputs));
    if (keel_store_prepare(s, "SELECT path, digest FROM lineage_edges WHERE step_run_id = ? AND "
                              "direction = 'in' ORDER BY path", false, &q, &ctx->err) != KEEL_OK)
        return;
    keel_stmt_bind_text(q, 1, step_run, -1);
    size_t n = 0;
    const char *paths[256], *digests[256];
    while (n < 256 && keel_stmt_step(q, &ctx->err) == KEEL_STEP_ROW) {
        paths[n] = keel_arena_strdup(a, keel_stmt_text(q, 0));
        digests[n++] = keel_arena_strdup(a, keel_stmt_text(q, 1));
    }
    keel_stmt_release(q);
    for (size_t i = 0; i < n; i++) {
        json_t *in = json_pack("{s:s, s:s}", "path", paths[i], "digest", digests[i]);
        json_array_append_new(inputs, in);
        lineage_of(ctx, digests[i], keel_arena_sprintf(a, "from %s", paths[i]), depth + 1, in);
    }
}

static int cmd_lineage(struct cli_ctx *ctx)
{
    const char *target = ctx->args[0];
    char digest[KEEL_SHA256_HEX_LEN + 1];
    keel_err ignored;
    if (keel_path_exists(target)) {
        if (keel_pipeline_path_digest(ctx->ws->store, target, digest, &ctx->err) != KEEL_OK)
            return cli_fail(ctx);
    } else {
        /* A digest or a unique prefix of one (at least 8 hex digits). */
        size_t len = strlen(target);
        if (len < 8 || len > KEEL_SHA256_HEX_LEN || strspn(target, "0123456789abcdef") != len) {
            keel_errf(&ctx->err, KEEL_ENOTFOUND, "'%s' is neither an existing file nor a "
                      "digest (8 to 64 lowercase hex digits)", target);
            return cli_fail(ctx);
        }
        keel_stmt *q = NULL;
        if (keel_store_prepare(ctx->ws->store, "SELECT DISTINCT digest FROM lineage_edges WHERE "
                               "digest >= ? AND digest < ? LIMIT 2", true, &q, &ctx->err) !=
            KEEL_OK)
            return cli_fail(ctx);
        const char *hi = keel_arena_sprintf(&ctx->arena, "%sg", target);
        keel_stmt_bind_text(q, 1, target, -1);
        keel_stmt_bind_text(q, 2, hi, -1);
        int found = 0;
        while (keel_stmt_step(q, &ignored) == KEEL_STEP_ROW)
            if (found++ == 0)
                snprintf(digest, sizeof digest, "%s", keel_stmt_text(q, 0));
        keel_stmt_release(q);
        if (found != 1) {
            keel_errf(&ctx->err, found ? KEEL_EINVAL : KEEL_ENOTFOUND, "digest prefix %s %s",
                      target, found ? "is ambiguous" : "matches nothing keel recorded");
            return cli_fail(ctx);
        }
    }
    json_t *root = json_pack("{s:s, s:s}", "target", target, "digest", digest);
    lineage_of(ctx, digest, target, 0, root);
    if (ctx->json)
        cli_print_json(root);
    else
        json_decref(root);
    return CLI_EXIT_OK;
}

static const struct cli_opt run_opts[] = {
    { "file", CLI_VALUE, "FILE", "the pipeline file (keel.yaml)", 'f' },
    { "param", CLI_MULTI, "KEY=VALUE", "override a pipeline param", 'p' },
    { "executor", CLI_VALUE, "local|slurm", "where steps run (local; or $KEEL_EXECUTOR)" },
    { "jobs", CLI_VALUE, "N", "at most N steps at once (local: the number of cores; slurm: 64)",
      'j' },
    { "dry-run", CLI_FLAG, NULL, "say which steps would run and why; change nothing", 'n' },
    { "resume", CLI_VALUE, "RUN", "continue a failed or interrupted run: only what did not "
                                  "succeed runs again" },
    { "keep-going", CLI_FLAG, NULL, "after a failure, run every step that does not depend on "
                                    "it", 'k' },
    { "trigger", CLI_VALUE, "WHO", "recorded as the run's trigger (cli, schedule, http)" },
    { "run-id-file", CLI_VALUE, "FILE", "write the new run's id there as soon as it exists" },
    { NULL },
};

static const struct cli_opt spec_opts[] = {
    { "file", CLI_VALUE, "FILE", "the pipeline file (keel.yaml)", 'f' },
    { "param", CLI_MULTI, "KEY=VALUE", "override a pipeline param", 'p' },
    { NULL },
};

static const struct cli_opt list_opts[] = {
    { "file", CLI_VALUE, "FILE", "the pipeline file (keel.yaml)", 'f' },
    { NULL },
};

static const struct cli_opt logs_opts[] = {
    { "stderr", CLI_FLAG, NULL, "show standard error instead of standard output" },
    { "attempt", CLI_VALUE, "N", "which attempt (default: the last)" },
    { NULL },
};

const struct cli_cmd cli_pipeline_cmds[] = {
    { NULL, "run", "[PIPELINE]", 0, 1, run_opts, cmd_run,
      "run a pipeline from keel.yaml: steps in parallel, cached steps skipped", true },
    { "pipeline", "list", "", 0, 0, list_opts, cmd_list,
      "pipelines in keel.yaml with their last run", true },
    { "pipeline", "show", "[PIPELINE]", 0, 1, spec_opts, cmd_show,
      "the resolved steps of a pipeline (after foreach and params)", false },
    { "pipeline", "status", "[PIPELINE]", 0, 1, spec_opts, cmd_status,
      "per step: would it run now, why, and how it ended last time", true },
    { "pipeline", "runs", "[PIPELINE]", 0, 1, NULL, cmd_runs,
      "recent pipeline runs", true },
    { "pipeline", "logs", "RUN STEP", 2, 2, logs_opts, cmd_logs,
      "a step's output in a pipeline run", true },
    { "pipeline", "cancel", "RUN", 1, 1, NULL, cmd_cancel,
      "cancel a running pipeline run (its steps are killed or scancelled)", true },
    { NULL, "lineage", "FILE|DIGEST", 1, 1, NULL, cmd_lineage,
      "what produced a file (or a digest) and from what, recursively", true },
    { NULL },
};
