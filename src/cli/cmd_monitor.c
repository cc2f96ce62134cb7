/*
 * cmd_monitor.c — `keel monitor status|history|events|export`: what
 * `keel serve` measured (drift per window, rolling performance, alert
 * events, all in the metadata store), and the labelled production data it
 * collected (prediction log joined with delayed labels) as a CSV for
 * retraining. `keel monitor drift` (offline) is in cmd_monitor_drift.c.
 */
#include "cli.h"

#include <keel/buf.h>
#include <keel/json.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_MAX_LINE (64u << 20)

static const char *text_or(keel_arena *a, keel_stmt *q, int col, const char *dflt)
{
    const char *t = keel_stmt_text(q, col);
    return keel_arena_strdup(a, t != NULL ? t : dflt);
}

static int cmd_status(struct cli_ctx *ctx)
{
    const char *model = ctx->args[0];
    keel_store *s = ctx->ws->store;
    keel_arena *a = &ctx->arena;
    keel_stmt *q = NULL;
    /* The latest window of each version. */
    if (keel_store_prepare(s, "SELECT d.version, d.feature, d.measure, d.value, d.window_end, "
                              "d.rows FROM monitor_drift d JOIN (SELECT version, "
                              "max(window_end) AS w FROM monitor_drift WHERE model = ? GROUP BY "
                              "version) l ON l.version = d.version AND l.w = d.window_end WHERE "
                              "d.model = ? ORDER BY d.version, d.feature, d.measure", false, &q,
                           &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    keel_stmt_bind_text(q, 1, model, -1);
    keel_stmt_bind_text(q, 2, model, -1);
    json_t *drift = json_array();
    struct cli_table t;
    const char *header[] = { "VERSION", "FEATURE", "MEASURE", "VALUE", "WINDOW END", "ROWS" };
    cli_table_init(&t, a, 6, header);
    while (keel_stmt_step(q, &ctx->err) == KEEL_STEP_ROW) {
        const char *row[] = { text_or(a, q, 0, ""), text_or(a, q, 1, ""), text_or(a, q, 2, ""),
                              cli_fmt_double(a, keel_stmt_double(q, 3)),
                              cli_fmt_time(a, keel_stmt_int64(q, 4)),
                              cli_fmt_int(a, keel_stmt_int64(q, 5)) };
        cli_table_row(&t, row);
        json_array_append_new(drift, json_pack("{s:s, s:s, s:s, s:f, s:I, s:I}", "version",
                                               row[0], "feature", row[1], "measure", row[2],
                                               "value", keel_stmt_double(q, 3), "window_end",
                                               (json_int_t)keel_stmt_int64(q, 4), "rows",
                                               (json_int_t)keel_stmt_int64(q, 5)));
    }
    keel_stmt_release(q);
    if (keel_store_prepare(s, "SELECT p.version, p.measure, p.value, p.n, p.time FROM "
                              "monitor_perf p JOIN (SELECT version, max(time) AS w FROM "
                              "monitor_perf WHERE model = ? GROUP BY version) l ON l.version = "
                              "p.version AND l.w = p.time WHERE p.model = ? ORDER BY p.version, "
                              "p.measure", false, &q, &ctx->err) != KEEL_OK) {
        json_decref(drift);
        return cli_fail(ctx);
    }
    keel_stmt_bind_text(q, 1, model, -1);
    keel_stmt_bind_text(q, 2, model, -1);
    json_t *perf = json_array();
    struct cli_table pt;
    const char *pheader[] = { "VERSION", "PERFORMANCE", "VALUE", "LABELS", "AT" };
    cli_table_init(&pt, a, 5, pheader);
    while (keel_stmt_step(q, &ctx->err) == KEEL_STEP_ROW) {
        const char *row[] = { text_or(a, q, 0, ""), text_or(a, q, 1, ""),
                              cli_fmt_double(a, keel_stmt_double(q, 2)),
                              cli_fmt_int(a, keel_stmt_int64(q, 3)),
                              cli_fmt_time(a, keel_stmt_int64(q, 4)) };
        cli_table_row(&pt, row);
        json_array_append_new(perf, json_pack("{s:s, s:s, s:f, s:I}", "version", row[0],
                                              "measure", row[1], "value",
                                              keel_stmt_double(q, 2), "labels",
                                              (json_int_t)keel_stmt_int64(q, 3)));
    }
    keel_stmt_release(q);
    if (ctx->json) {
        cli_print_json(json_pack("{s:s, s:o, s:o}", "model", model, "drift", drift,
                                 "performance", perf));
        return CLI_EXIT_OK;
    }
    json_decref(drift);
    json_decref(perf);
    if (t.n_rows <= 1 && pt.n_rows <= 1) {
        printf("no monitoring data for model '%s' yet (keel serve records a window once it has "
               "enough rows)\n", model);
        return CLI_EXIT_OK;
    }
    printf("drift in the latest window of each version:\n");
    cli_table_print(&t);
    if (pt.n_rows > 1) {
        printf("\nrolling performance from delayed labels:\n");
        cli_table_print(&pt);
    }
    return CLI_EXIT_OK;
}

static int cmd_history(struct cli_ctx *ctx)
{
    const char *model = ctx->args[0];
    const char *feature = cli_opt(ctx, "feature");
    const char *measure = cli_opt(ctx, "measure") != NULL ? cli_opt(ctx, "measure") : "psi";
    long long limit = 100;
    if (cli_opt(ctx, "limit") != NULL &&
        (cli_parse_int64(ctx, "--limit", cli_opt(ctx, "limit"), &limit) != KEEL_OK || limit < 1))
        return cli_usage_error(ctx, "--limit must be a positive number");
    keel_arena *a = &ctx->arena;
    keel_stmt *q = NULL;
    bool perf = feature == NULL;
    int rc = perf ? keel_store_prepare(ctx->ws->store, "SELECT version, time, value, n FROM "
                                       "monitor_perf WHERE model = ? AND measure = ? ORDER BY "
                                       "time DESC LIMIT ?", true, &q, &ctx->err)
                  : keel_store_prepare(ctx->ws->store, "SELECT version, window_end, value, rows "
                                       "FROM monitor_drift WHERE model = ? AND feature = ? AND "
                                       "measure = ? ORDER BY window_end DESC LIMIT ?", true, &q,
                                       &ctx->err);
    if (rc != KEEL_OK)
        return cli_fail(ctx);
    if (perf && cli_opt(ctx, "measure") == NULL)
        measure = "accuracy";
    keel_stmt_bind_text(q, 1, model, -1);
    keel_stmt_bind_text(q, 2, perf ? measure : feature, -1);
    if (!perf)
        keel_stmt_bind_text(q, 3, measure, -1);
    keel_stmt_bind_int64(q, perf ? 3 : 4, limit);
    struct cli_table t;
    const char *header[] = { "TIME", "VERSION", "VALUE", perf ? "LABELS" : "ROWS" };
    cli_table_init(&t, a, 4, header);
    json_t *list = json_array();
    while (keel_stmt_step(q, &ctx->err) == KEEL_STEP_ROW) {
        const char *row[] = { cli_fmt_time(a, keel_stmt_int64(q, 1)), text_or(a, q, 0, ""),
                              cli_fmt_double(a, keel_stmt_double(q, 2)),
                              cli_fmt_int(a, keel_stmt_int64(q, 3)) };
        cli_table_row(&t, row);
        json_array_append_new(list, json_pack("{s:I, s:s, s:f, s:I}", "time",
                                              (json_int_t)keel_stmt_int64(q, 1), "version",
                                              row[1], "value", keel_stmt_double(q, 2), "n",
                                              (json_int_t)keel_stmt_int64(q, 3)));
    }
    keel_stmt_release(q);
    if (ctx->json) {
        cli_print_json(list);
        return CLI_EXIT_OK;
    }
    json_decref(list);
    printf("%s of %s%s%s, newest first:\n", measure, model, perf ? "" : ", feature ",
           perf ? "" : feature);
    cli_table_print(&t);
    return CLI_EXIT_OK;
}

static int cmd_events(struct cli_ctx *ctx)
{
    const char *model = ctx->n_args > 0 ? ctx->args[0] : NULL;
    keel_arena *a = &ctx->arena;
    keel_stmt *q = NULL;
    if (keel_store_prepare(ctx->ws->store, "SELECT time, rule, model, version, state, value, "
                           "evidence, actions FROM monitor_events WHERE (? IS NULL OR model = ?) "
                           "ORDER BY id DESC LIMIT 100", true, &q, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    keel_stmt_bind_text(q, 1, model, -1);
    keel_stmt_bind_text(q, 2, model, -1);
    struct cli_table t;
    const char *header[] = { "TIME", "RULE", "MODEL", "VERSION", "STATE", "VALUE", "ACTIONS" };
    cli_table_init(&t, a, 7, header);
    json_t *list = json_array();
    while (keel_stmt_step(q, &ctx->err) == KEEL_STEP_ROW) {
        const char *row[] = { cli_fmt_time(a, keel_stmt_int64(q, 0)), text_or(a, q, 1, ""),
                              text_or(a, q, 2, ""), text_or(a, q, 3, ""), text_or(a, q, 4, ""),
                              cli_fmt_double(a, keel_stmt_double(q, 5)), text_or(a, q, 7, "") };
        cli_table_row(&t, row);
        json_t *ev = json_loads(text_or(a, q, 6, "{}"), 0, NULL);
        json_t *ac = json_loads(text_or(a, q, 7, "null"), JSON_DECODE_ANY, NULL);
        json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s, s:s, s:f, s:o*, s:o*}",
                                              "time", (json_int_t)keel_stmt_int64(q, 0), "rule",
                                              row[1], "model", row[2], "version", row[3],
                                              "state", row[4], "value", keel_stmt_double(q, 5),
                                              "evidence", ev, "actions", ac));
    }
    keel_stmt_release(q);
    if (ctx->json) {
        cli_print_json(list);
        return CLI_EXIT_OK;
    }
    json_decref(list);
    cli_table_print(&t);
    return CLI_EXIT_OK;
}

/* ---- export: prediction log ⨝ feedback → CSV ---- */

static void csv_field(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\n\r") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static const char *cell(keel_arena *a, const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return "";
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        return keel_arena_sprintf(a, "%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return keel_arena_sprintf(a, "%.17g", json_real_value(v));
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    return "";
}

/* Reads a JSON-lines file line by line (bounded), calling fn on each object. */
static int each_line(const char *path, int (*fn)(void *ctx, json_t *o), void *ctx, keel_err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return keel_errf(err, KEEL_ENOTFOUND, "%s does not exist (does keel serve log there?)",
                         path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = KEEL_OK;
    while (rc == KEEL_OK && (n = getline(&line, &cap, f)) > 0) {
        if ((size_t)n > EXPORT_MAX_LINE)
            continue;
        json_t *o = json_loadb(line, (size_t)n, 0, NULL);
        if (json_is_object(o))
            rc = fn(ctx, o);
        json_decref(o);
    }
    free(line);
    fclose(f);
    return rc;
}

typedef struct export_state {
    json_t *labels;                 /* request id → labels */
    json_t *rows;                   /* [record, label] pairs, in feedback order */
    json_t *columns;                /* column name → true, insertion-ordered */
    json_t *column_list;
    size_t unmatched;
} export_state;

static int take_feedback(void *ctx, json_t *o)
{
    export_state *st = ctx;
    const char *id = json_string_value(json_object_get(o, "request_id"));
    json_t *labels = json_object_get(o, "labels");
    if (id != NULL && json_is_array(labels))
        json_object_set(st->labels, id, labels);
    return KEEL_OK;
}

static int take_prediction(void *ctx, json_t *o)
{
    export_state *st = ctx;
    const char *id = json_string_value(json_object_get(o, "request_id"));
    json_t *labels = id != NULL ? json_object_get(st->labels, id) : NULL;
    if (labels == NULL)
        return KEEL_OK;
    json_t *inputs = json_object_get(o, "inputs");
    if (json_is_object(inputs))
        inputs = json_object_get(inputs, "dataframe_records");
    if (!json_is_array(inputs) || json_array_size(inputs) != json_array_size(labels)) {
        st->unmatched++;
        return KEEL_OK;
    }
    size_t i;
    json_t *rec;
    json_array_foreach(inputs, i, rec) {
        const char *key;
        json_t *v;
        json_object_foreach(rec, key, v) {
            if (json_object_get(st->columns, key) == NULL) {
                json_object_set_new(st->columns, key, json_true());
                json_array_append_new(st->column_list, json_string(key));
            }
        }
        json_array_append_new(st->rows, json_pack("[O, O]", rec, json_array_get(labels, i)));
    }
    json_object_del(st->labels, id);
    return KEEL_OK;
}

static int cmd_export(struct cli_ctx *ctx)
{
    const char *model = ctx->args[0];
    const char *out = cli_opt(ctx, "out");
    const char *target = cli_opt(ctx, "target") != NULL ? cli_opt(ctx, "target") : "label";
    long long last = 0;
    if (out == NULL)
        return cli_usage_error(ctx, "--out FILE is required");
    if (cli_opt(ctx, "last") != NULL &&
        (cli_parse_int64(ctx, "--last", cli_opt(ctx, "last"), &last) != KEEL_OK || last < 1))
        return cli_usage_error(ctx, "--last must be a positive number");
    keel_arena *a = &ctx->arena;
    export_state st = { json_object(), json_array(), json_object(), json_array(), 0 };
    const char *feedback = keel_arena_sprintf(a, "%s/feedback/%s.jsonl", ctx->ws->home, model);
    const char *predictions = keel_arena_sprintf(a, "%s/predictions/%s.jsonl", ctx->ws->home,
                                                 model);
    int rc = each_line(feedback, take_feedback, &st, &ctx->err);
    if (rc == KEEL_OK)
        rc = each_line(predictions, take_prediction, &st, &ctx->err);
    const char *tmp = keel_arena_sprintf(a, "%s.tmp", out);
    FILE *f = rc == KEEL_OK ? fopen(tmp, "w") : NULL;
    if (rc == KEEL_OK && f == NULL)
        rc = keel_errf(&ctx->err, KEEL_EIO, "cannot write %s", tmp);
    size_t n_rows = json_array_size(st.rows), start = 0, written = 0;
    if (last > 0 && n_rows > (size_t)last)
        start = n_rows - (size_t)last;
    if (f != NULL) {
        size_t i;
        json_t *col;
        json_array_foreach(st.column_list, i, col) {
            csv_field(f, json_string_value(col));
            fputc(',', f);
        }
        csv_field(f, target);
        fputc('\n', f);
        for (size_t r = start; r < n_rows; r++) {
            json_t *pair = json_array_get(st.rows, r);
            json_t *rec = json_array_get(pair, 0);
            json_array_foreach(st.column_list, i, col) {
                csv_field(f, cell(a, json_object_get(rec, json_string_value(col))));
                fputc(',', f);
            }
            csv_field(f, cell(a, json_array_get(pair, 1)));
            fputc('\n', f);
            written++;
        }
        if (fclose(f) != 0 || rename(tmp, out) != 0)
            rc = keel_errf(&ctx->err, KEEL_EIO, "cannot write %s", out);
    }
    size_t pending = json_object_size(st.labels);
    json_decref(st.labels);
    json_decref(st.rows);
    json_decref(st.columns);
    json_decref(st.column_list);
    if (rc != KEEL_OK)
        return cli_fail(ctx);
    if (written == 0) {
        remove(out);
        keel_errf(&ctx->err, KEEL_ENOTFOUND, "no labelled predictions of model '%s' to export",
                  model);
        return cli_fail(ctx);
    }
    fprintf(stderr, "keel monitor export: %zu labelled rows to %s (%zu labels without a logged "
                    "prediction, %zu predictions in a form export does not read)\n",
            written, out, pending, st.unmatched);
    return CLI_EXIT_OK;
}

static const struct cli_opt history_opts[] = {
    { "feature", CLI_VALUE, "NAME", "a feature's drift (without: rolling performance)" },
    { "measure", CLI_VALUE, "NAME", "psi js ks w1 chi2_p missing_delta | accuracy auc log_loss "
                                    "rmse mae (psi; accuracy)" },
    { "limit", CLI_VALUE, "N", "points, newest first (100)" },
    { NULL },
};

static const struct cli_opt export_opts[] = {
    { "out", CLI_VALUE, "FILE", "the CSV to write (replaced when done)" },
    { "target", CLI_VALUE, "COLUMN", "name of the label column (label)" },
    { "last", CLI_VALUE, "N", "only the N most recently labelled rows" },
    { NULL },
};

const struct cli_cmd cli_monitor_cmds[] = {
    { "monitor", "status", "MODEL", 1, 1, NULL, cmd_status,
      "drift in the latest window and rolling performance of each served version", true },
    { "monitor", "history", "MODEL", 1, 1, history_opts, cmd_history,
      "a feature's drift (or a performance measure) over time", true },
    { "monitor", "events", "[MODEL]", 0, 1, NULL, cmd_events,
      "alert rules that fired or resolved, with their evidence and actions", true },
    { "monitor", "export", "MODEL", 1, 1, export_opts, cmd_export,
      "labelled production data (prediction log ⨝ feedback) as CSV, e.g. for retraining", true },
    { NULL },
};
