/*
 * bench_model.c — the inference runtime: keel_model_predict against
 * libxgboost's own predictor on the same model and the same float rows.
 *
 * Models (300 trees, max_depth 6, eta 0.1, hist, seed 1), trained once with
 * libxgboost's C API on the whole encoded dataset and cached as
 * $KEEL_BENCH_CACHE/model_<name>_300x6.json:
 *   adult           examples/data/adult.csv.gz, target income (binary:logistic)
 *   credit_default  examples/data/credit_default.csv, target
 *                   default_payment_next_month, ID dropped (binary:logistic)
 *
 *   single row   one row per call over the first 4,000 rows, each call
 *                timed; median ns per row.
 *   batch 1000   1,000 rows per call, --reps batches; median ns per row.
 *   xgboost      XGBoosterPredictFromDense with one reused proxy DMatrix,
 *                nthread 1, "cache_id": 0 (the fast in-place path).
 *   keel         keel_model_predict (AUTO: row at a time below 8 rows, else
 *                blocks of 64 rows tree by tree, on the perfect-tree layout
 *                when the trees are at most 8 deep); the other walk (each row
 *                through all trees) and the node-array layout are printed
 *                too, as measured alternatives.
 *   memory       peak RSS growth of loading one model in a fresh child
 *                (keel_model_load_file vs XGBoosterLoadModel), and keel's
 *                compiled size.
 *
 * Predictions of both sides are compared first (relative 1e-6); a mismatch
 * fails the run, timings never do. Targets: keel >= 5x faster single-row,
 * >= 2x faster in batches of 1000.
 *
 * Usage: bench_model [--reps N]
 * Environment: KEEL_SRC (default from __FILE__), KEEL_BENCH_CACHE.
 */
#include "bench_common.h"

#include "model/model_internal.h"

#include <keel/data.h>
#include <keel/encode.h>
#include <keel/model.h>

#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <xgboost/c_api.h>

#define SINGLE_ROWS 4000
#define BATCH 1000

typedef struct bench_case {
    const char *name, *file, *target, *drop, *positive;
    float *x, *y;
    size_t rows, cols;
    char model_path[PATH_MAX + 64];
} bench_case;

static int load_data(const char *src, bench_case *c)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/examples/data/%s", src, c->file);
    keel_err err;
    keel_frame *f = NULL;
    keel_encoder *enc = NULL;
    if (keel_csv_read(path, NULL, &f, &err) != KEEL_OK) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return -1;
    }
    const char *exclude[2] = {c->target, c->drop};
    if (keel_encoder_fit(f, NULL, 0, exclude, 2, KEEL_DEFAULT_MAX_ONEHOT, &enc, &err) != KEEL_OK) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        keel_frame_destroy(f);
        return -1;
    }
    c->rows = f->n_rows;
    c->cols = enc->n_features;
    c->x = malloc(c->rows * c->cols * sizeof *c->x);
    c->y = malloc(c->rows * sizeof *c->y);
    int rc = 0;
    if (c->x == NULL || c->y == NULL ||
        keel_encoder_transform(enc, f, NULL, f->n_rows, c->x, NULL, &err) != KEEL_OK) {
        fprintf(stderr, "bench_model: encoding %s failed: %s\n", c->name, err.msg);
        rc = -1;
    }
    const keel_column *t = keel_frame_column(f, c->target);
    for (size_t r = 0; rc == 0 && r < c->rows; r++) {
        if (c->positive != NULL)
            c->y[r] = strcmp(t->dict[t->codes[r]], c->positive) == 0;
        else
            c->y[r] = (float)keel_column_number(t, r);
    }
    keel_encoder_destroy(enc);
    keel_frame_destroy(f);
    return rc;
}

static int xgb_check(int rc, const char *what)
{
    if (rc != 0)
        fprintf(stderr, "bench_model: %s: %s\n", what, XGBGetLastError());
    return rc;
}

/* Trains the model (in a child: libgomp's threads do not survive a fork,
 * so the parent must not start them before the memory children run). */
static int train_child(void *ctx, bench_samples *out)
{
    bench_case *c = ctx;
    out->n = 0;
    DMatrixHandle dm;
    BoosterHandle b;
    if (xgb_check(XGDMatrixCreateFromMat(c->x, c->rows, c->cols, NAN, &dm), "matrix") ||
        xgb_check(XGDMatrixSetFloatInfo(dm, "label", c->y, c->rows), "labels") ||
        xgb_check(XGBoosterCreate(&dm, 1, &b), "booster"))
        return -1;
    static const char *const params[][2] = {
        {"objective", "binary:logistic"}, {"max_depth", "6"}, {"eta", "0.1"},
        {"tree_method", "hist"},          {"seed", "1"},      {"nthread", "2"},
    };
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        if (xgb_check(XGBoosterSetParam(b, params[i][0], params[i][1]), params[i][0]))
            return -1;
    for (int i = 0; i < 300; i++)
        if (xgb_check(XGBoosterUpdateOneIter(b, i, dm), "training"))
            return -1;
    char tmp[PATH_MAX + 80];
    snprintf(tmp, sizeof tmp, "%s.tmp.json", c->model_path); /* .json: the format */
    if (xgb_check(XGBoosterSaveModel(b, tmp), "save") || rename(tmp, c->model_path) != 0)
        return -1;
    XGBoosterFree(b);
    XGDMatrixFree(dm);
    return 0;
}

/* Trains the cached model when it is not there yet. */
static int ensure_model(bench_case *c)
{
    struct stat st;
    if (stat(c->model_path, &st) == 0)
        return 0;
    double pos = 0;
    for (size_t r = 0; r < c->rows; r++)
        pos += c->y[r];
    printf("training %s (300 trees, depth 6, %.1f%% positive) into %s\n", c->name,
           100.0 * pos / (double)c->rows, c->model_path);
    bench_samples none;
    long rss;
    return bench_in_child("training", train_child, c, &none, &rss) == BENCH_EXIT_OK ? 0 : -1;
}

typedef struct xgb_side {
    BoosterHandle booster;
    DMatrixHandle proxy;
    size_t cols;
} xgb_side;

static const char xgb_config[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                 "\"iteration_end\": 0, \"strict_shape\": false, "
                                 "\"missing\": NaN, \"cache_id\": 0}";

static int xgb_predict_dense(xgb_side *s, const float *x, size_t n, const float **out)
{
    char iface[256];
    snprintf(iface, sizeof iface,
             "{\"data\": [%llu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", "
             "\"version\": 3}",
             (unsigned long long)(uintptr_t)x, n, s->cols);
    const bst_ulong *shape;
    bst_ulong dim;
    return XGBoosterPredictFromDense(s->booster, iface, xgb_config, s->proxy, &shape, &dim, out);
}

/* Median ns per row: single-row calls over rows[0..SINGLE_ROWS) for keel
 * (which = 0), xgboost (1), keel on the node layout (5); batch calls of
 * BATCH rows for keel AUTO (2), keel rows-outer (3), xgboost (4), keel on
 * the node layout tree by tree (6). */
static double measure(int which, const keel_model *m, xgb_side *s, const bench_case *c, int reps)
{
    static double v[SINGLE_ROWS];
    float out[BATCH];
    const float *res;
    const size_t nf = c->cols;
    if (which <= 1 || which == 5) {
        size_t n = c->rows < SINGLE_ROWS ? c->rows : SINGLE_ROWS;
        for (size_t r = 0; r < n; r++) {
            const float *row = c->x + r * nf;
            double t0 = bench_now_s();
            if (which == 0)
                keel_model_predict(m, row, 1, false, out);
            else if (which == 5)
                keel_model_predict_with(m, row, 1, false, out, KEEL_MODEL_NODES_ROWS_OUTER);
            else if (xgb_predict_dense(s, row, 1, &res) != 0)
                return -1;
            v[r] = (bench_now_s() - t0) * 1e9;
        }
        return bench_median(v, (int)n);
    }
    int k = 0;
    size_t batches = c->rows / BATCH;
    for (int i = 0; i < reps && i < SINGLE_ROWS; i++) {
        const float *x = c->x + (size_t)(i % (int)batches) * BATCH * nf;
        double t0 = bench_now_s();
        if (which == 2)
            keel_model_predict(m, x, BATCH, false, out);
        else if (which == 3)
            keel_model_predict_with(m, x, BATCH, false, out, KEEL_MODEL_ROWS_OUTER);
        else if (which == 6)
            keel_model_predict_with(m, x, BATCH, false, out, KEEL_MODEL_NODES_TREES_OUTER);
        else if (xgb_predict_dense(s, x, BATCH, &res) != 0)
            return -1;
        v[k++] = (bench_now_s() - t0) * 1e9 / BATCH;
    }
    return bench_median(v, k);
}

/* Peak RSS growth (KiB) of loading one model: in a child, samples[0] is
 * ru_maxrss before, [1] after; kind 0 keel, 1 xgboost. */
typedef struct mem_ctx {
    const char *path;
    int kind;
} mem_ctx;

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int mem_child(void *ctx, bench_samples *out)
{
    const mem_ctx *mc = ctx;
    out->n = 3;
    out->v[0] = (double)maxrss_kb();
    if (mc->kind == 0) {
        keel_model *m = NULL;
        keel_err err;
        if (keel_model_load_file(mc->path, &m, &err) != KEEL_OK) {
            fprintf(stderr, "bench_model: %s\n", err.msg);
            return 1;
        }
        out->v[1] = (double)maxrss_kb();
        size_t inner = m->perfect_depth ? ((size_t)1 << m->perfect_depth) - 1 : 0;
        out->v[2] = (double)(m->n_nodes * sizeof *m->nodes + m->n_trees_padded * 12 +
                             m->n_trees_padded / KEEL_MODEL_LANES * 4 + sizeof *m +
                             (m->perfect_depth ? m->n_trees_padded *
                                                     (inner * sizeof(keel_model_split) +
                                                      (inner + 1) * sizeof(float))
                                               : 0));
        keel_model_free(m);
    } else {
        BoosterHandle b;
        if (xgb_check(XGBoosterCreate(NULL, 0, &b), "booster") ||
            xgb_check(XGBoosterLoadModel(b, mc->path), "load"))
            return 1;
        out->v[1] = (double)maxrss_kb();
        XGBoosterFree(b);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int reps = 400;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_model [--reps N]\n");
            return BENCH_EXIT_ERROR;
        }
    }
    if (reps < 1)
        reps = 1;
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    char src[PATH_MAX];
    const char *env_src = getenv("KEEL_SRC");
    if (env_src != NULL) {
        snprintf(src, sizeof src, "%s", env_src);
    } else {
        char file[PATH_MAX];
        snprintf(file, sizeof file, "%s", __FILE__);
        snprintf(src, sizeof src, "%s", dirname(dirname(file)));
    }
    const char *cache = getenv("KEEL_BENCH_CACHE");
    char cache_dir[PATH_MAX + 16];
    if (cache == NULL || cache[0] == '\0') {
        snprintf(cache_dir, sizeof cache_dir, "%s/bench/.cache", src);
        cache = cache_dir;
    }
    mkdir(cache, 0755);

    bench_case cases[] = {
        {.name = "adult", .file = "adult.csv.gz", .target = "income", .drop = "split",
         .positive = ">50K"},
        {.name = "credit_default", .file = "credit_default.csv",
         .target = "default_payment_next_month", .drop = "ID"},
    };
    int status = BENCH_EXIT_OK;
    enum { N_CASES = sizeof cases / sizeof cases[0] };
    bool ready[N_CASES] = {false};
    bench_samples mk[N_CASES], mx[N_CASES];
    /* Data, models and the memory children first, before this process runs
     * anything of XGBoost's (its OpenMP pool does not survive a fork). */
    for (size_t ci = 0; ci < N_CASES; ci++) {
        bench_case *c = &cases[ci];
        snprintf(c->model_path, sizeof c->model_path, "%s/model_%s_300x6.json", cache, c->name);
        long rss_k = 0, rss_x = 0;
        mem_ctx ck = {c->model_path, 0}, cx = {c->model_path, 1};
        if (load_data(src, c) != 0 || ensure_model(c) != 0 ||
            bench_in_child("keel load", mem_child, &ck, &mk[ci], &rss_k) != BENCH_EXIT_OK ||
            bench_in_child("xgboost load", mem_child, &cx, &mx[ci], &rss_x) != BENCH_EXIT_OK) {
            status = BENCH_EXIT_ERROR;
            continue;
        }
        ready[ci] = true;
    }
    for (size_t ci = 0; ci < N_CASES; ci++) {
        bench_case *c = &cases[ci];
        if (!ready[ci])
            continue;
        keel_model *m = NULL;
        keel_err err;
        double t0 = bench_now_s();
        if (keel_model_load_file(c->model_path, &m, &err) != KEEL_OK) {
            fprintf(stderr, "bench_model: %s\n", err.msg);
            status = BENCH_EXIT_ERROR;
            continue;
        }
        double load_ms = (bench_now_s() - t0) * 1e3;
        xgb_side s = {.cols = c->cols};
        if (xgb_check(XGBoosterCreate(NULL, 0, &s.booster), "booster") ||
            xgb_check(XGBoosterLoadModel(s.booster, c->model_path), "load") ||
            xgb_check(XGBoosterSetParam(s.booster, "nthread", "1"), "nthread") ||
            xgb_check(XGProxyDMatrixCreate(&s.proxy), "proxy")) {
            status = BENCH_EXIT_ERROR;
            continue;
        }
        /* Both sides agree on every row before anything is timed. */
        size_t n = c->rows, bad = 0;
        float *mine = malloc(n * sizeof *mine);
        const float *theirs;
        keel_model_predict(m, c->x, n, false, mine);
        if (xgb_predict_dense(&s, c->x, n, &theirs) != 0) {
            xgb_check(-1, "predict");
            status = BENCH_EXIT_ERROR;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)mine[i] - theirs[i]);
            if (!(d < 1e-7 || d <= 1e-6 * fabs((double)theirs[i])))
                bad++;
        }
        free(mine);
        if (bad > 0) {
            fprintf(stderr, "bench_model: %s: %zu of %zu predictions differ from xgboost\n",
                    c->name, bad, n);
            status = BENCH_EXIT_ERROR;
            continue;
        }
        /* Warm up both, then measure. */
        measure(0, m, &s, c, reps);
        measure(1, m, &s, c, reps);
        double keel_1 = measure(0, m, &s, c, reps), xgb_1 = measure(1, m, &s, c, reps);
        double keel_b = measure(2, m, &s, c, reps), keel_rows = measure(3, m, &s, c, reps);
        double xgb_b = measure(4, m, &s, c, reps);
        double nodes_1 = measure(5, m, &s, c, reps), nodes_b = measure(6, m, &s, c, reps);
        if (xgb_1 < 0 || xgb_b < 0) {
            xgb_check(-1, "predict");
            status = BENCH_EXIT_ERROR;
            continue;
        }
        struct stat st;
        stat(c->model_path, &st);
        printf("%s: %zu rows x %zu features, %zu trees, %zu nodes, model.json %.1f MiB, "
               "keel load %.1f ms\n",
               c->name, c->rows, c->cols, keel_model_num_trees(m), m->n_nodes,
               (double)st.st_size / 1048576.0, load_ms);
        printf("  single row   keel %8.0f ns/row   xgboost %8.0f ns/row   %.1fx   (node layout: "
               "%.0f ns/row)\n",
               keel_1, xgb_1, xgb_1 / keel_1, nodes_1);
        printf("  batch %d   keel %8.0f ns/row   xgboost %8.0f ns/row   %.1fx   (rows outer: "
               "%.0f, node layout: %.0f ns/row)\n",
               BATCH, keel_b, xgb_b, xgb_b / keel_b, keel_rows, nodes_b);
        printf("  layout       perfect depth %u (0 = node array only)\n", m->perfect_depth);
        printf("  memory       keel compiled %.2f MiB, load peak +%.1f MiB; xgboost load peak "
               "+%.1f MiB\n",
               mk[ci].v[2] / 1048576.0, (mk[ci].v[1] - mk[ci].v[0]) / 1024.0, (mx[ci].v[1] - mx[ci].v[0]) / 1024.0);
        printf("summary: %s single-row: keel %.0f ns, xgboost %.0f ns, %.1fx (target 5x)\n",
               c->name, keel_1, xgb_1, xgb_1 / keel_1);
        printf("summary: %s batch of %d: keel %.0f ns/row, xgboost %.0f ns/row, %.1fx (target "
               "2x)\n",
               c->name, BATCH, keel_b, xgb_b, xgb_b / keel_b);
        printf("summary: %s model memory: keel %.2f MiB compiled (+%.1f MiB peak to load), "
               "xgboost +%.1f MiB peak\n",
               c->name, mk[ci].v[2] / 1048576.0, (mk[ci].v[1] - mk[ci].v[0]) / 1024.0,
               (mx[ci].v[1] - mx[ci].v[0]) / 1024.0);
        fflush(stdout);
        XGDMatrixFree(s.proxy);
        XGBoosterFree(s.booster);
        keel_model_free(m);
    }
    for (size_t ci = 0; ci < N_CASES; ci++) {
        free(cases[ci].x);
        free(cases[ci].y);
    }
    return status;
}
