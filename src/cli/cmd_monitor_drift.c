/*
 * cmd_monitor_drift.c — `keel monitor drift`: how far a current data file
 * has drifted from a reference, feature by feature, as a CI gate.
 *
 * The reference is, in this order: a directory (a model bundle: its
 * keel.json's "reference_profile", so KS and W1 are approximations and
 * there is no KS p-value), an existing file (CSV, exact), or a dataset
 * version NAME[@V] in the workspace (its stored bytes, exact). The current
 * file is read on a second thread while the reference loads.
 *
 * Exit status: 0 nothing drifted, 1 a feature drifted or the comparison
 * failed (the error is printed as "keel: …"), 2 usage.
 */
#include "cli.h"

#include <keel/dataset.h>
#include <keel/json.h>
#include <keel/monitor.h>
#include <keel/util.h>
#include <keel/workspace.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANIFEST_MAX_BYTES (256u << 20)

enum reference_kind { REF_FILE, REF_BUNDLE, REF_DATASET };

static const char *const reference_kind_names[] = { "file", "bundle", "dataset" };

typedef struct reference {
    enum reference_kind kind;
    const char *label;          /* the path, or NAME@VERSION */
    keel_frame *frame;          /* FILE, DATASET */
    json_t *manifest;           /* BUNDLE: keel.json */
    const json_t *profile;      /* BUNDLE: borrowed from manifest */
    size_t rows;
} reference;

typedef struct current_read {
    const char *path;
    keel_frame *frame;
    int rc;
    keel_err err;
} current_read;

static void *read_current(void *arg)
{
    current_read *c = arg;
    c->rc = keel_csv_read(c->path, NULL, &c->frame, &c->err);
    return NULL;
}

static int load_bundle(struct cli_ctx *ctx, const char *dir, reference *out)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/keel.json", dir) >= sizeof path)
        return keel_errf(&ctx->err, KEEL_EINVAL, "bundle path '%s' is too long", dir);
    if (!keel_path_exists(path))
        return keel_errf(&ctx->err, KEEL_ENOTFOUND,
                         "'%s' is a directory without keel.json, not a model bundle", dir);
    char *text = NULL;
    size_t len = 0;
    int rc = keel_read_file(path, MANIFEST_MAX_BYTES, &text, &len, &ctx->err);
    if (rc == KEEL_OK)
        rc = keel_json_parse(text, len, KEEL_JSON_MAX_DEPTH, &out->manifest, &ctx->err);
    free(text);
    if (rc != KEEL_OK)
        return keel_err_prefix(&ctx->err, "%s", path);
    out->profile = json_object_get(out->manifest, "reference_profile");
    if (!json_is_object(out->profile))
        return keel_errf(&ctx->err, KEEL_EINVAL, "%s has no \"reference_profile\" object", path);
    int64_t rows = 0;
    if (keel_json_get_int64(out->profile, "rows", true, &rows, &ctx->err) != KEEL_OK || rows < 0)
        return keel_errf(&ctx->err, KEEL_EINVAL, "%s: reference_profile has no row count", path);
    out->kind = REF_BUNDLE;
    out->label = dir;
    out->rows = (size_t)rows;
    return KEEL_OK;
}

/* Resolves --reference (see the file comment). */
static int load_reference(struct cli_ctx *ctx, const char *ref, reference *out)
{
    if (keel_path_is_dir(ref))
        return load_bundle(ctx, ref, out);
    if (keel_path_exists(ref)) {
        out->kind = REF_FILE;
        out->label = ref;
        int rc = keel_csv_read(ref, NULL, &out->frame, &ctx->err);
        if (rc == KEEL_OK)
            out->rows = out->frame->n_rows;
        return rc;
    }
    if (ctx->ws == NULL) {
        keel_err why;
        if (keel_workspace_open(&ctx->ws, &why) != KEEL_OK)
            return keel_errf(&ctx->err, KEEL_ENOTFOUND,
                             "reference '%s' is not a file or a bundle directory, and there is "
                             "no workspace to find it as a dataset in (%s)",
                             ref, why.msg);
    }
    keel_dataset_version v;
    int rc = keel_dataset_load(ctx->ws, ref, &ctx->arena, &out->frame, &v, &ctx->err);
    if (rc != KEEL_OK)
        return rc;
    out->kind = REF_DATASET;
    out->label = keel_arena_sprintf(&ctx->arena, "%s@%lld", v.name, (long long)v.version);
    out->rows = out->frame->n_rows;
    return KEEL_OK;
}

static int parse_threshold(struct cli_ctx *ctx, const char *opt, bool probability,
                           double *inout)
{
    const char *text = cli_opt(ctx, opt);
    if (text == NULL)
        return KEEL_OK;
    char what[48];
    snprintf(what, sizeof what, "--%s", opt);
    if (cli_parse_double(ctx, what, text, inout) != KEEL_OK || !(*inout >= 0) ||
        (probability && *inout > 1) || !isfinite(*inout))
        return keel_errf(&ctx->err, KEEL_EINVAL, "%s must be a number %s", what,
                         probability ? "from 0 to 1" : ">= 0");
    return KEEL_OK;
}

/* "a,b,c" into arena strings; KEEL_EINVAL on an empty name. */
static int parse_columns(struct cli_ctx *ctx, const char *text, const char ***out, size_t *out_n)
{
    size_t n = 1;
    for (const char *p = text; *p != '\0'; p++)
        n += *p == ',';
    const char **cols = keel_arena_alloc(&ctx->arena, n * sizeof *cols);
    if (cols == NULL)
        return keel_errf(&ctx->err, KEEL_ENOMEM, "out of memory");
    size_t i = 0;
    for (const char *p = text;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            return keel_errf(&ctx->err, KEEL_EINVAL, "--columns has an empty column name");
        cols[i++] = keel_arena_strndup(&ctx->arena, p, len);
        if (end == NULL)
            break;
        p = end + 1;
    }
    *out = cols;
    *out_n = i;
    return KEEL_OK;
}

static const char *fmt(struct cli_ctx *ctx, double d, const char *format)
{
    if (isnan(d))
        return "-";
    return keel_arena_sprintf(&ctx->arena, format, d);
}

static void print_table(struct cli_ctx *ctx, const keel_drift_report *r)
{
    static const char *const header[] = { "FEATURE", "TYPE", "PSI", "KS", "P", "JS", "W1",
                                          "CHI2", "P", "MISSING Δ", "OUT OF RANGE", "DRIFT" };
    struct cli_table t;
    cli_table_init(&t, &ctx->arena, 12, header);
    for (size_t i = 0; i < r->n_features; i++) {
        const keel_drift_feature *f = &r->features[i];
        const keel_drift_measures *m = &f->m;
        bool numeric = m->kind == KEEL_DRIFT_NUMERIC;
        bool typed = !(f->reasons & (1u << KEEL_DRIFT_TYPE_BIT));
        const char *type = strcmp(f->type, f->ref_type) == 0
                               ? f->type
                               : keel_arena_sprintf(&ctx->arena, "%s→%s", f->ref_type, f->type);
        const char *reasons = "";
        if (f->drifted) {
            char buf[128] = "yes (";
            for (int b = 0; b < KEEL_DRIFT_REASON_COUNT; b++)
                if (f->reasons & (1u << b)) {
                    if (buf[strlen(buf) - 1] != '(')
                        strncat(buf, ", ", sizeof buf - strlen(buf) - 1);
                    strncat(buf, keel_drift_reason_name((enum keel_drift_reason)b),
                            sizeof buf - strlen(buf) - 1);
                }
            strncat(buf, ")", sizeof buf - strlen(buf) - 1);
            reasons = keel_arena_strdup(&ctx->arena, buf);
        }
        const char *row[] = {
            f->name,
            type,
            fmt(ctx, m->psi, "%.4f"),
            numeric ? fmt(ctx, m->ks, "%.4f") : "-",
            numeric ? fmt(ctx, m->ks_pvalue, "%.3g") : "-",
            fmt(ctx, m->js, "%.4f"),
            numeric ? fmt(ctx, m->wasserstein, "%.4g") : "-",
            numeric ? "-" : fmt(ctx, m->chi2, "%.4g"),
            numeric ? "-" : fmt(ctx, m->chi2_pvalue, "%.3g"),
            fmt(ctx, m->missing_delta, "%+.4f"),
            !typed ? "-"
            : numeric ? cli_fmt_int(&ctx->arena, (long long)m->out_of_range)
                      : keel_arena_sprintf(&ctx->arena, "%zu unseen", m->unseen_categories),
            f->drifted ? reasons : "no",
        };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
}

static bool reference_has_column(const reference *r, const char *name)
{
    if (r->frame != NULL)
        return keel_frame_column(r->frame, name) != NULL;
    return json_object_get(json_object_get(r->profile, "columns"), name) != NULL;
}

static void print_json(const keel_drift_report *report, const keel_drift_thresholds *th,
                       const reference *ref, const char *cur_path, size_t cur_rows,
                       double seconds_read, int64_t start)
{
    json_t *o = keel_drift_report_json(report, th);
    if (o == NULL) {
        fprintf(stderr, "keel: out of memory\n");
        return;
    }
    json_object_set_new(o, "reference",
                        json_pack("{s:s, s:s, s:I}", "kind", reference_kind_names[ref->kind],
                                  "name", ref->label, "rows", (json_int_t)ref->rows));
    json_object_set_new(o, "current",
                        json_pack("{s:s, s:I}", "path", cur_path, "rows", (json_int_t)cur_rows));
    json_object_set_new(o, "seconds",
                        json_pack("{s:f, s:f, s:f}", "read", seconds_read, "measure",
                                  report->seconds_measure, "total",
                                  (double)(keel_monotonic_ns() - start) / 1e9));
    cli_print_json(o);
}

static int cmd_drift(struct cli_ctx *ctx)
{
    int64_t start = keel_monotonic_ns();
    const char *ref_arg = cli_opt(ctx, "reference"), *cur_arg = cli_opt(ctx, "current");
    if (ref_arg == NULL)
        return cli_usage_error(ctx, "--reference DATASET|BUNDLE_DIR|FILE is required");
    if (cur_arg == NULL)
        return cli_usage_error(ctx, "--current FILE is required");
    keel_drift_thresholds th;
    keel_drift_thresholds_default(&th);
    if (parse_threshold(ctx, "psi-threshold", false, &th.psi) != KEEL_OK ||
        parse_threshold(ctx, "ks-pvalue", true, &th.ks_pvalue) != KEEL_OK ||
        parse_threshold(ctx, "js-threshold", true, &th.js) != KEEL_OK ||
        parse_threshold(ctx, "chi2-pvalue", true, &th.chi2_pvalue) != KEEL_OK ||
        parse_threshold(ctx, "missing-threshold", true, &th.missing_delta) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    keel_drift_options opts = { .thresholds = &th };
    const char **columns = NULL;
    if (cli_opt(ctx, "columns") != NULL &&
        parse_columns(ctx, cli_opt(ctx, "columns"), &columns, &opts.n_columns) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    opts.columns = columns;
    const char *threads = cli_opt(ctx, "threads");
    if (threads != NULL) {
        long long n = 0;
        if (cli_parse_int64(ctx, "--threads", threads, &n) != KEEL_OK || n < 1 || n > 64)
            return cli_usage_error(ctx, "--threads must be a whole number from 1 to 64");
        opts.threads = (int)n;
    }
    if (!keel_path_exists(cur_arg) || keel_path_is_dir(cur_arg)) {
        keel_errf(&ctx->err, KEEL_ENOTFOUND, "current data '%s': %s", cur_arg,
                  keel_path_is_dir(cur_arg) ? "is a directory, not a CSV file" : "no such file");
        return cli_fail(ctx);
    }

    /* The current file is read on a second thread while the reference loads. */
    current_read cur = { .path = cur_arg };
    keel_err_clear(&cur.err);
    reference ref;
    memset(&ref, 0, sizeof ref);
    keel_drift_report report;
    memset(&report, 0, sizeof report);
    int code = CLI_EXIT_FAIL;
    pthread_t reader;
    bool threaded = pthread_create(&reader, NULL, read_current, &cur) == 0;
    int rc = load_reference(ctx, ref_arg, &ref);
    if (threaded)
        pthread_join(reader, NULL);
    else
        read_current(&cur);
    if (rc == KEEL_OK && cur.rc != KEEL_OK) {
        ctx->err = cur.err;
        rc = cur.rc;
    }
    if (rc != KEEL_OK) {
        code = cli_fail(ctx);
        goto done;
    }
    double seconds_read = (double)(keel_monotonic_ns() - start) / 1e9;
    for (size_t i = 0; i < opts.n_columns; i++) {
        if (keel_frame_column(cur.frame, columns[i]) == NULL) {
            code = cli_usage_error(ctx, "--columns: column '%s' is not in the current data (%s)",
                                   columns[i], cur_arg);
            goto done;
        }
        if (!reference_has_column(&ref, columns[i])) {
            code = cli_usage_error(ctx, "--columns: column '%s' is not in the reference (%s)",
                                   columns[i], ref.label);
            goto done;
        }
    }
    rc = ref.profile != NULL ? keel_drift_compare_profile(ref.profile, cur.frame, &opts,
                                                          &ctx->arena, &report, &ctx->err)
                             : keel_drift_compare_frames(ref.frame, cur.frame, &opts,
                                                         &ctx->arena, &report, &ctx->err);
    if (rc == KEEL_OK && report.n_features == 0)
        rc = keel_errf(&ctx->err, KEEL_EINVAL, "'%s' and '%s' have no column in common",
                       ref.label, cur_arg);
    if (rc != KEEL_OK) {
        code = cli_fail(ctx);
        goto done;
    }
    if (ctx->json) {
        print_json(&report, &th, &ref, cur_arg, cur.frame->n_rows, seconds_read, start);
    } else {
        print_table(ctx, &report);
        if (report.n_not_in_current > 0) {
            printf("not in the current data:");
            for (size_t i = 0; i < report.n_not_in_current; i++)
                printf("%s %s", i > 0 ? "," : "", report.not_in_current[i]);
            printf("\n");
        }
        printf("%zu of %zu features drifted: %s (%s, %zu rows) vs %s (%zu rows)%s\n",
               report.n_drifted, report.n_features, ref.label, reference_kind_names[ref.kind],
               ref.rows, cur_arg, cur.frame->n_rows,
               ref.kind == REF_BUNDLE ? "; KS and W1 approximated from the reference's bins"
                                      : "");
    }
    code = report.n_drifted > 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
done:
    keel_frame_destroy(cur.frame);
    keel_frame_destroy(ref.frame);
    json_decref(ref.manifest);
    return code;
}

static const struct cli_opt drift_opts[] = {
    { "reference", CLI_VALUE, "REF",
      "a dataset NAME[@V], a model bundle directory (its training profile) or a CSV file" },
    { "current", CLI_VALUE, "FILE", "the CSV file to check" },
    { "columns", CLI_VALUE, "A,B", "compare only these columns (default: every shared one)" },
    { "psi-threshold", CLI_VALUE, "X", "PSI above this drifts (0.2)" },
    { "ks-pvalue", CLI_VALUE, "P", "KS p-value below this drifts, sample references only (0.01)" },
    { "js-threshold", CLI_VALUE, "X", "Jensen-Shannon distance above this drifts (0.1)" },
    { "chi2-pvalue", CLI_VALUE, "P", "chi-square p-value below this drifts (0.01)" },
    { "missing-threshold", CLI_VALUE, "X", "missing-rate change above this drifts (0.1)" },
    { "threads", CLI_VALUE, "N", "threads measuring features (one per core)" },
    { NULL },
};

const struct cli_cmd cli_monitor_drift_cmds[] = {
    { "monitor", "drift", "", 0, 0, drift_opts, cmd_drift,
      "per-feature drift of a file against a reference (exit 1 when a feature drifted)", false },
    { NULL },
};
