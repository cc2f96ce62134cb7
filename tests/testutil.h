/*
 * testutil.h — shared helpers for keel's cmocka test programs.
 *
 * Every test program ends with
 *     return keel_test_main(argc, argv, "group", tests);
 * so `./test_x` runs all its tests and `./test_x NAME` runs only NAME
 * (a cmocka glob such as "param_*" also works).
 */
#ifndef KEEL_TESTUTIL_H
#define KEEL_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>

int keel_test_main_n(int argc, char **argv, const char *group,
                     const struct CMUnitTest *tests, size_t n);
#define keel_test_main(argc, argv, group, tests) \
    keel_test_main_n((argc), (argv), (group), (tests), sizeof(tests) / sizeof((tests)[0]))

/* Makes a fresh directory under $TMPDIR (or /tmp) and writes its path. */
void keel_test_tmpdir(char out[PATH_MAX]);

/* Removes a directory tree (rm -rf). */
void keel_test_rmrf(const char *path);

/* Writes s to path (creating parents), failing the test on error. */
void keel_test_write(const char *path, const char *s);

/* Runs a shell command, returns its exit status (0..255, or 128+signal). */
int keel_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A fresh workspace in a temp directory, opened with KEEL_HOME pointing at
 * it; the setup/teardown pair for cmocka tests that need one. */
#include <keel/workspace.h>

typedef struct keel_test_ws {
    char dir[PATH_MAX];
    char home[PATH_MAX];
    keel_workspace *ws;
    keel_arena arena;
    keel_err err;
} keel_test_ws;

int keel_test_ws_setup(void **state);
int keel_test_ws_teardown(void **state);

#endif
