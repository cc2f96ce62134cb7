/*
 * bench_common.h — what the bench_* programs share: a monotonic clock, order
 * statistics, scratch directories, and running one measured side in a forked
 * child so that its peak RSS (wait4's ru_maxrss) is its own and not the sum
 * of everything the program did before.
 *
 * Header-only (static inline) because every bench_*.c is built as its own
 * executable against libkeel and nothing else; see CMakeLists.txt.
 *
 * A child reports its figures as a fixed-size bench_samples struct written to
 * a pipe; it reports failure through its exit status, with the message on
 * stderr. Timing never makes a bench fail: only an error or a crash does.
 */
#ifndef KEEL_BENCH_COMMON_H
#define KEEL_BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_SAMPLES 128

/* Exit statuses of a bench program: 0 ran (whatever the timings), 1 a keel or
 * SQLite call failed, 2 a measured child crashed. */
enum bench_exit { BENCH_EXIT_OK = 0, BENCH_EXIT_ERROR = 1, BENCH_EXIT_CRASH = 2 };

typedef struct bench_samples {
    int n;
    double v[BENCH_MAX_SAMPLES];
} bench_samples;

/* Work done in a child: fills out, returns 0 on success. */
typedef int (*bench_child_fn)(void *ctx, bench_samples *out);

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile (p in 0..100) of v[0..n); v is sorted in place. */
static inline double bench_percentile(double *v, int n, double p)
{
    if (n <= 0)
        return 0.0;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    int rank = (int)((p / 100.0) * n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

/* The median of v[0..n) (the lower middle for even n); sorts v. */
static inline double bench_median(double *v, int n)
{
    if (n <= 0)
        return 0.0;
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[(n - 1) / 2];
}

/* Runs fn(ctx, out) in a forked child. On success returns BENCH_EXIT_OK with
 * *out filled and the child's peak RSS in *out_maxrss_kb; otherwise
 * BENCH_EXIT_ERROR (fn failed) or BENCH_EXIT_CRASH (killed by a signal), with
 * a message naming what on stderr. */
static inline int bench_in_child(const char *what, bench_child_fn fn, void *ctx,
                                 bench_samples *out, long *out_maxrss_kb)
{
    int fds[2];
    if (pipe(fds) != 0) {
        fprintf(stderr, "%s: pipe: %s\n", what, strerror(errno));
        return BENCH_EXIT_ERROR;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "%s: fork: %s\n", what, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return BENCH_EXIT_ERROR;
    }
    if (pid == 0) {
        close(fds[0]);
        bench_samples s;
        memset(&s, 0, sizeof s);
        int rc = fn(ctx, &s);
        const char *p = (const char *)&s;
        size_t left = sizeof s;
        while (rc == 0 && left > 0) {
            ssize_t w = write(fds[1], p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                rc = 1;
            else {
                p += w;
                left -= (size_t)w;
            }
        }
        close(fds[1]);
        fflush(NULL);
        _exit(rc == 0 ? 0 : 1);
    }
    close(fds[1]);
    memset(out, 0, sizeof *out);
    char *p = (char *)out;
    size_t got = 0;
    while (got < sizeof *out) {
        ssize_t r = read(fds[0], p + got, sizeof *out - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "%s: crashed with signal %d\n", what, WTERMSIG(status));
        return BENCH_EXIT_CRASH;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got != sizeof *out) {
        fprintf(stderr, "%s: failed (exit status %d)\n", what,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return BENCH_EXIT_ERROR;
    }
    *out_maxrss_kb = ru.ru_maxrss;
    return BENCH_EXIT_OK;
}

/* Makes a fresh scratch directory "<TMPDIR or /tmp>/keel-bench-<tag>-XXXXXX"
 * into out (size out_size). Returns 0, or -1 with a message on stderr. */
static inline int bench_scratch_dir(const char *tag, char *out, size_t out_size)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    int n = snprintf(out, out_size, "%s/keel-bench-%s-XXXXXX", tmp, tag);
    if (n < 0 || (size_t)n >= out_size || mkdtemp(out) == NULL) {
        fprintf(stderr, "bench: cannot make a scratch directory under %s: %s\n", tmp,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Removes an SQLite database with its -wal and -shm files. */
static inline void bench_remove_db(const char *path)
{
    char side[4096];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

#endif
