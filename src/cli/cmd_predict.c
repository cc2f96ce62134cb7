/*
 * cmd_predict.c — `keel predict`: batch scoring of a CSV file of any size
 * through the serving runtime and the bundle's encoders.
 *
 * The file is read in chunks of whole records (keel_csv_chunks); each chunk
 * is encoded, scored on both cores and appended to a temporary file next to
 * --out, renamed over it when every row is scored, so memory stays at one
 * chunk and a failure leaves no partial output.
 */
#include "cli.h"

#include "serve/serve.h"

#include <keel/buf.h>
#include <keel/data.h>
#include <keel/encode.h>
#include <keel/model.h>
#include <keel/util.h>

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct score_job {
    const served_model *m;
    const float *x;
    size_t n;
    float *out;
} score_job;

static void *score_part(void *arg)
{
    score_job *j = arg;
    keel_model_predict(j->m->runtime, j->x, j->n, false, j->out);
    return NULL;
}

/* x (n rows) → out (n x k), the first half on a second thread. */
static void score_both_cores(const served_model *m, const float *x, size_t n, size_t w, size_t k,
                             float *out)
{
    size_t half = n / 2;
    score_job a = { m, x, half, out }, b = { m, x + half * w, n - half, out + half * k };
    pthread_t t;
    bool threaded = half > 0 && pthread_create(&t, NULL, score_part, &a) == 0;
    if (!threaded)
        score_part(&a);
    score_part(&b);
    if (threaded)
        pthread_join(t, NULL);
}

static bool is_binary(const served_model *m)
{
    return strcmp(m->task, "binary") == 0 && m->classes != NULL;
}

static bool is_multiclass(const served_model *m)
{
    return strcmp(m->task, "multiclass") == 0 && m->classes != NULL;
}

static void format_header(keel_buf *b, const served_model *m, size_t k)
{
    keel_buf_puts(b, "row");
    if (is_binary(m)) {
        keel_buf_puts(b, ",probability,label\n");
    } else if (is_multiclass(m)) {
        for (size_t c = 0; c < k; c++)
            keel_buf_printf(b, ",p_%s", json_string_value(json_array_get(m->classes, c)));
        keel_buf_puts(b, ",label\n");
    } else {
        keel_buf_puts(b, ",prediction\n");
    }
}

/* Rows first_row … of out (n x k) as CSV lines. */
static void format_rows(keel_buf *b, const served_model *m, const float *out, size_t n, size_t k,
                        size_t first_row)
{
    for (size_t i = 0; i < n; i++) {
        keel_buf_printf(b, "%zu", first_row + i);
        if (is_binary(m)) {
            keel_buf_printf(b, ",%.9g,%s\n", (double)out[i],
                            json_string_value(json_array_get(m->classes, out[i] >= 0.5f ? 1 : 0)));
            continue;
        }
        size_t best = 0;
        for (size_t c = 0; c < k; c++) {
            keel_buf_printf(b, ",%.9g", (double)out[i * k + c]);
            if (out[i * k + c] > out[i * k + best])
                best = c;
        }
        if (is_multiclass(m))
            keel_buf_printf(b, ",%s", json_string_value(json_array_get(m->classes, best)));
        keel_buf_puts(b, "\n");
    }
}

/* Chunks are parsed with the encoder's fit-time types for the columns the
 * file has, numbers as float: a later chunk may hold 2.5 in a column whose
 * first rows were whole, and a chunk where a column is all missing must
 * not make it a string. */
static keel_csv_type_override *chunk_types(keel_arena *a, const keel_encoder *enc,
                                           const keel_frame *header, size_t *out_n)
{
    keel_csv_type_override *o = keel_arena_alloc(a, (enc->n_cols + 1) * sizeof *o);
    size_t n = 0;
    for (size_t i = 0; i < enc->n_cols; i++) {
        if (keel_frame_column(header, enc->cols[i].column) == NULL)
            continue;  /* the encoder names it when it is missing */
        enum keel_col_type t = enc->cols[i].type;
        o[n].column = enc->cols[i].column;
        o[n].type = t == KEEL_COL_INT ? KEEL_COL_FLOAT : t;
        n++;
    }
    *out_n = n;
    return o;
}

typedef struct predict_out {
    char tmp[4096];
    FILE *fp;
} predict_out;

static int out_open(predict_out *o, const char *path, keel_err *err)
{
    if (snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof o->tmp)
        return keel_errf(err, KEEL_EINVAL, "--out: path too long");
    o->fp = fopen(o->tmp, "wb");
    if (o->fp == NULL)
        return keel_errf(err, KEEL_EIO, "--out: cannot create %s: %s", o->tmp, strerror(errno));
    return KEEL_OK;
}

static int out_write(predict_out *o, const keel_buf *b, keel_err *err)
{
    if (b->len > 0 && fwrite(b->data, 1, b->len, o->fp) != b->len)
        return keel_errf(err, KEEL_EIO, "--out: cannot write %s: %s", o->tmp, strerror(errno));
    return KEEL_OK;
}

/* Flushed, synced and renamed over path; or removed when rc is an error. */
static int out_finish(predict_out *o, const char *path, int rc, keel_err *err)
{
    if (o->fp == NULL)
        return rc;
    if (rc == KEEL_OK && (fflush(o->fp) != 0 || fsync(fileno(o->fp)) != 0))
        rc = keel_errf(err, KEEL_EIO, "--out: cannot write %s: %s", o->tmp, strerror(errno));
    if (fclose(o->fp) != 0 && rc == KEEL_OK)
        rc = keel_errf(err, KEEL_EIO, "--out: cannot write %s: %s", o->tmp, strerror(errno));
    o->fp = NULL;
    if (rc == KEEL_OK && rename(o->tmp, path) != 0)
        rc = keel_errf(err, KEEL_EIO, "--out: cannot rename %s to %s: %s", o->tmp, path,
                       strerror(errno));
    if (rc != KEEL_OK) {
        unlink(o->tmp);
        return rc;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    return keel_fsync_dir(dirname(dir), err);
}

/* Scores every chunk of data into o; *out_rows counts the rows. */
static int score_file(struct cli_ctx *ctx, const served_model *m, const char *data,
                      size_t chunk_bytes, predict_out *o, size_t *out_rows)
{
    keel_csv_chunks *chunks = NULL;
    keel_frame *header = NULL, *f = NULL;
    float *x = NULL, *out = NULL;
    keel_buf b;
    keel_buf_init(&b, (size_t)1 << 40);
    const size_t w = m->enc->n_features, k = keel_model_num_outputs(m->runtime);
    size_t rows = 0, n_types = 0;
    int rc = keel_csv_chunks_open(data, 0, chunk_bytes, &chunks, &ctx->err);
    if (rc == KEEL_OK)
        rc = keel_csv_chunks_header(chunks, &header, &ctx->err);
    keel_csv_options opts = { 0 };
    if (rc == KEEL_OK) {
        opts.overrides = chunk_types(&ctx->arena, m->enc, header, &n_types);
        opts.n_overrides = n_types;
        format_header(&b, m, k);
    }
    while (rc == KEEL_OK && (rc = keel_csv_chunks_next(chunks, &opts, &f, &ctx->err)) == KEEL_OK &&
           f != NULL) {
        size_t n = f->n_rows;
        float *nx = realloc(x, (n * w + 1) * sizeof *x), *no = NULL;
        if (nx != NULL) {
            x = nx;
            no = realloc(out, (n * k + 1) * sizeof *out);
        }
        if (nx == NULL || no == NULL) {
            rc = keel_errf(&ctx->err, KEEL_ENOMEM, "out of memory for %zu rows", n);
            break;
        }
        out = no;
        rc = keel_encoder_transform(m->enc, f, NULL, n, x, NULL, &ctx->err);
        if (rc == KEEL_OK) {
            score_both_cores(m, x, n, w, k, out);
            format_rows(&b, m, out, n, k, rows);
            rows += n;
            rc = out_write(o, &b, &ctx->err);
            keel_buf_reset(&b);
        }
        keel_frame_destroy(f);
        f = NULL;
    }
    if (rc == KEEL_OK)
        rc = out_write(o, &b, &ctx->err);  /* the header when there were no rows */
    keel_buf_free(&b);
    free(x);
    free(out);
    keel_frame_destroy(header);
    keel_csv_chunks_close(chunks);
    *out_rows = rows;
    return rc;
}

static int cmd_predict(struct cli_ctx *ctx)
{
    const char *data = cli_opt(ctx, "data"), *out_path = cli_opt(ctx, "out");
    if (data == NULL || out_path == NULL)
        return cli_usage_error(ctx, "--data FILE and --out FILE are required");
    long long chunk = 0;
    if (cli_opt(ctx, "chunk-size") != NULL &&
        (cli_parse_int64(ctx, "--chunk-size", cli_opt(ctx, "chunk-size"), &chunk) != KEEL_OK ||
         chunk < 1))
        return cli_usage_error(ctx, "--chunk-size must be a positive number of bytes");
    keel_workspace *ws = NULL;
    keel_err ws_err;
    bool have_ws = keel_workspace_open(&ws, &ws_err) == KEEL_OK;
    served_model *m = NULL;
    int rc = have_ws || keel_path_exists(ctx->args[0])
                 ? served_model_load(ws, ctx->args[0], &m, &ctx->err)
                 : (ctx->err = ws_err, ws_err.code);
    if (rc == KEEL_OK && m->enc == NULL)
        rc = keel_errf(&ctx->err, KEEL_EINVAL, "batch scoring needs a keel bundle (column names "
                       "and encoders), not a bare model file");
    predict_out o = { .fp = NULL };
    size_t rows = 0;
    if (rc == KEEL_OK)
        rc = out_open(&o, out_path, &ctx->err);
    if (rc == KEEL_OK)
        rc = score_file(ctx, m, data, (size_t)chunk, &o, &rows);
    rc = out_finish(&o, out_path, rc, &ctx->err);
    if (rc == KEEL_OK && !ctx->json)
        printf("Scored %zu rows with %s version %s into %s\n", rows, m->name, m->version_text,
               out_path);
    else if (rc == KEEL_OK)
        cli_print_json(json_pack("{s:I, s:s}", "rows", (json_int_t)rows, "out", out_path));
    served_model_release(m);
    keel_workspace_close(ws);
    return rc == KEEL_OK ? CLI_EXIT_OK : cli_fail(ctx);
}

static const struct cli_opt predict_opts[] = {
    { "data", CLI_VALUE, "FILE", "CSV (or .csv.gz) to score, of any size" },
    { "out", CLI_VALUE, "FILE", "where to write the predictions (CSV; replaced when done)" },
    { "chunk-size", CLI_VALUE, "BYTES", "rows are read and scored in chunks of about this "
                                        "many bytes (16777216)" },
    { NULL },
};

const struct cli_cmd cli_predict_cmds[] = {
    { NULL, "predict", "MODEL", 1, 1, predict_opts, cmd_predict,
      "score a CSV file of any size with a model, on both cores", false, true },
    { NULL },
};
