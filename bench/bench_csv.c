/*
 * bench_csv.c — CSV loading: keel_csv_read against pandas.read_csv on the
 * same files, wall time and peak memory.
 *
 * Files:
 *   adult.csv.gz        examples/data (gzip, 48,842 x 16, 9 string columns)
 *   credit_default.csv  the shared datasets (plain, 30,000 x 25, all int)
 *   beijing_1m.csv      1,000,000 rows x 18: beijing_air_quality.csv.gz's
 *                       rows repeated, written once to $KEEL_BENCH_CACHE
 *                       (default bench/.cache) — floats with missing values,
 *                       a datetime column, two string columns
 *
 *   keel    a forked child calls keel_csv_read once (type inference over all
 *           rows, typed columns, dictionary-encoded strings) and reports the
 *           call's wall time; its peak RSS is the child's ru_maxrss.
 *   pandas  `python3 bench/bench_csv_pandas.py FILE` times one
 *           pandas.read_csv(FILE) with default options and reports its own
 *           peak RSS (which includes the interpreter and the pandas import,
 *           as a user of pandas pays it; baseline_kb is printed too).
 *
 * Each side runs --reps times (default 3), interleaved; medians of the time,
 * the largest peak RSS. Target: keel at least 3x faster with lower memory.
 *
 * Usage: bench_csv [--reps N] [--no-python]
 * Environment: KEEL_SRC (source tree; default from __FILE__), KEEL_DATASETS
 * (default /work/shared/datasets), KEEL_BENCH_CACHE, KEEL_BENCH_PYTHON
 * (default /usr/bin/python3).
 * Exit status: 0 whatever the timings; 1 when a call fails; 2 on a crash.
 */
#include "bench_common.h"

#include <keel/data.h>
#include <keel/error.h>

#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <zlib.h>

#define TARGET_SPEEDUP 3.0
#define BEIJING_ROWS 1000000

typedef struct csv_case {
    const char *label;
    char path[PATH_MAX];
} csv_case;

typedef struct run_ctx {
    const char *path;
} run_ctx;

static int keel_side(void *ctx, bench_samples *out)
{
    const run_ctx *rc = ctx;
    keel_frame *f = NULL;
    keel_err err;
    double t0 = bench_now_s();
    int code = keel_csv_read(rc->path, NULL, &f, &err);
    double t1 = bench_now_s();
    if (code != KEEL_OK) {
        fprintf(stderr, "keel_csv_read: %s\n", err.msg);
        return 1;
    }
    out->n = 3;
    out->v[0] = t1 - t0;
    out->v[1] = (double)f->n_rows;
    out->v[2] = (double)f->n_cols;
    keel_frame_destroy(f);
    return 0;
}

/* Runs the pandas script once: 0 with *out_s, *out_kb, *out_base_kb set;
 * 127 when python or pandas is not there; 1 on another failure. */
static int pandas_side(const char *python, const char *script, const char *path, double *out_s,
                       long *out_kb, long *out_base_kb, long *out_rows)
{
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' 2>&1", python, script, path);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return 127;
    char line[1024];
    bool got = false;
    while (fgets(line, sizeof line, p) != NULL) {
        long cols = 0;
        if (sscanf(line, "pandas seconds=%lf maxrss_kb=%ld baseline_kb=%ld rows=%ld cols=%ld",
                   out_s, out_kb, out_base_kb, out_rows, &cols) == 5)
            got = true;
        else
            fprintf(stderr, "pandas: %s", line);
    }
    int status = pclose(p);
    if (got && status == 0)
        return 0;
    return (WIFEXITED(status) && WEXITSTATUS(status) == 127) ? 127 : 1;
}

/* Writes BEIJING_ROWS data rows of the source (repeated) to path, via a
 * temporary name so an interrupted run leaves no half file. */
static int make_beijing(const char *src, const char *path)
{
    gzFile in = gzopen(src, "rb");
    if (in == NULL) {
        fprintf(stderr, "bench_csv: cannot open %s\n", src);
        return -1;
    }
    size_t cap = 64u << 20, len = 0;
    char *all = malloc(cap);
    int n;
    while (all != NULL && (n = gzread(in, all + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)n;
        if (len == cap) {
            char *grown = realloc(all, cap *= 2);
            if (grown == NULL) {
                free(all);
                all = NULL;
            }
            all = grown;
        }
    }
    gzclose(in);
    if (all == NULL || len == 0) {
        free(all);
        fprintf(stderr, "bench_csv: cannot read %s\n", src);
        return -1;
    }
    char *body = memchr(all, '\n', len);
    if (body == NULL || all[len - 1] != '\n') {
        free(all);
        fprintf(stderr, "bench_csv: %s is not a CSV with a header\n", src);
        return -1;
    }
    body++;
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "wb");
    if (out == NULL) {
        free(all);
        fprintf(stderr, "bench_csv: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    fwrite(all, 1, (size_t)(body - all), out);
    size_t rows = 0;
    const char *end = all + len;
    while (rows < BEIJING_ROWS) {
        for (const char *p = body; p < end && rows < BEIJING_ROWS; rows++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            fwrite(p, 1, (size_t)(nl - p + 1), out);
            p = nl + 1;
        }
    }
    free(all);
    if (fclose(out) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "bench_csv: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int reps = 3;
    bool python = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--no-python") == 0) {
            python = false;
        } else {
            fprintf(stderr, "usage: %s [--reps N] [--no-python]\n", argv[0]);
            return BENCH_EXIT_ERROR;
        }
    }
    if (reps < 1 || reps > BENCH_MAX_SAMPLES)
        reps = 3;

    char src[PATH_MAX / 2];  /* room for the suffixes below */
    const char *env_src = getenv("KEEL_SRC");
    if (env_src != NULL && env_src[0] != '\0') {
        snprintf(src, sizeof src, "%s", env_src);
    } else {
        char file[PATH_MAX];
        snprintf(file, sizeof file, "%s", __FILE__);  /* <src>/bench/bench_csv.c */
        char up[PATH_MAX];
        snprintf(up, sizeof up, "%s/..", dirname(file));
        char *real = realpath(up, NULL);
        if (real == NULL || strlen(real) >= sizeof src) {
            fprintf(stderr, "bench_csv: cannot find the source tree from %s\n", __FILE__);
            free(real);
            return BENCH_EXIT_ERROR;
        }
        snprintf(src, sizeof src, "%s", real);
        free(real);
    }
    const char *datasets = getenv("KEEL_DATASETS");
    if (datasets == NULL || datasets[0] == '\0')
        datasets = "/work/shared/datasets";
    const char *cache = getenv("KEEL_BENCH_CACHE");
    char cache_buf[PATH_MAX / 2 + 32];
    if (cache == NULL || cache[0] == '\0') {
        snprintf(cache_buf, sizeof cache_buf, "%s/bench/.cache", src);
        mkdir(cache_buf, 0755);
        cache = cache_buf;
    }
    const char *py = getenv("KEEL_BENCH_PYTHON");
    if (py == NULL || py[0] == '\0')
        py = "/usr/bin/python3";
    char script[PATH_MAX + 32];
    snprintf(script, sizeof script, "%s/bench/bench_csv_pandas.py", src);

    csv_case cases[3];
    size_t n_cases = 0;
    struct stat st;
    cases[n_cases].label = "adult.csv.gz";
    snprintf(cases[n_cases].path, PATH_MAX, "%s/examples/data/adult.csv.gz", src);
    if (stat(cases[n_cases].path, &st) == 0)
        n_cases++;
    else
        fprintf(stderr, "bench_csv: skipping %s (not found)\n", cases[n_cases].path);
    cases[n_cases].label = "credit_default.csv";
    snprintf(cases[n_cases].path, PATH_MAX, "%s/credit_default.csv", datasets);
    if (stat(cases[n_cases].path, &st) == 0)
        n_cases++;
    else
        fprintf(stderr, "bench_csv: skipping %s (not found)\n", cases[n_cases].path);
    cases[n_cases].label = "beijing_1m.csv";
    snprintf(cases[n_cases].path, PATH_MAX, "%s/beijing_1m.csv", cache);
    if (stat(cases[n_cases].path, &st) == 0) {
        n_cases++;
    } else {
        char gz[PATH_MAX + 32];
        snprintf(gz, sizeof gz, "%s/beijing_air_quality.csv.gz", datasets);
        printf("generating %s (%d rows from %s)\n", cases[n_cases].path, BEIJING_ROWS, gz);
        if (stat(gz, &st) != 0)
            fprintf(stderr, "bench_csv: skipping beijing_1m.csv (%s not found)\n", gz);
        else if (make_beijing(gz, cases[n_cases].path) != 0)
            return BENCH_EXIT_ERROR;
        else
            n_cases++;
    }

    printf("CSV load, median of %d runs each (keel: forked child; pandas: %s, pandas.read_csv)\n",
           reps, py);
    printf("%-20s %10s %9s %10s %10s %10s %10s %8s %8s\n", "file", "rows", "MB", "keel s",
           "keel MiB", "pandas s", "pandas MiB", "speedup", "memory");
    int exit_code = BENCH_EXIT_OK;
    for (size_t c = 0; c < n_cases; c++) {
        double kt[BENCH_MAX_SAMPLES], pt[BENCH_MAX_SAMPLES];
        long krss = 0, prss[BENCH_MAX_SAMPLES], pbase = 0, prows = 0;
        double rows = 0, cols = 0;
        int n_py = 0;
        bool py_ok = python;
        for (int r = 0; r < reps; r++) {
            run_ctx ctx = { cases[c].path };
            bench_samples s;
            long rss = 0;
            int rc = bench_in_child(cases[c].label, keel_side, &ctx, &s, &rss);
            if (rc != BENCH_EXIT_OK)
                return rc;
            kt[r] = s.v[0];
            rows = s.v[1];
            cols = s.v[2];
            if (rss > krss)
                krss = rss;
            if (py_ok) {
                double secs = 0;
                long kb = 0;
                int prc = pandas_side(py, script, cases[c].path, &secs, &kb, &pbase, &prows);
                if (prc != 0) {
                    fprintf(stderr, "bench_csv: pandas side skipped (%s)\n",
                            prc == 127 ? "no python3 with pandas" : "script failed");
                    py_ok = false;
                    continue;
                }
                if ((double)prows != rows) {
                    fprintf(stderr, "bench_csv: %s: keel read %.0f rows, pandas %ld\n",
                            cases[c].label, rows, prows);
                    exit_code = BENCH_EXIT_ERROR;
                }
                pt[n_py] = secs;
                prss[n_py++] = kb;
            }
        }
        stat(cases[c].path, &st);
        double k_med = bench_median(kt, reps);
        if (n_py == 0) {
            printf("%-20s %10.0f %9.1f %10.4f %10.1f\n", cases[c].label, rows,
                   (double)st.st_size / 1e6, k_med, (double)krss / 1024.0);
            printf("summary: %s (%.0f x %.0f): keel %.4f s, %.1f MiB peak\n", cases[c].label,
                   rows, cols, k_med, (double)krss / 1024.0);
            continue;
        }
        double p_med = bench_median(pt, n_py);
        qsort(prss, (size_t)n_py, sizeof *prss, cmp_long);
        long p_rss = prss[n_py - 1];
        double speed = p_med / k_med, mem = (double)krss / (double)p_rss;
        printf("%-20s %10.0f %9.1f %10.4f %10.1f %10.4f %10.1f %7.1fx %7.2fx\n", cases[c].label,
               rows, (double)st.st_size / 1e6, k_med, (double)krss / 1024.0, p_med,
               (double)p_rss / 1024.0, speed, mem);
        printf("  (pandas process before the read: %.1f MiB)\n", (double)pbase / 1024.0);
        printf("summary: %s (%.0f x %.0f): keel %.4f s, %.1f MiB; pandas %.4f s, %.1f MiB; "
               "%.1fx faster (target %.0fx: %s), memory %.2fx of pandas (%s)\n",
               cases[c].label, rows, cols, k_med, (double)krss / 1024.0, p_med,
               (double)p_rss / 1024.0, speed, TARGET_SPEEDUP,
               speed >= TARGET_SPEEDUP ? "met" : "NOT met", mem, mem < 1.0 ? "lower" : "NOT lower");
    }
    return exit_code;
}
