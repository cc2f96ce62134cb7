/*
 * testutil.c — see testutil.h.
 */
#include "testutil.h"

#include <keel/util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int keel_test_main_n(int argc, char **argv, const char *group,
                     const struct CMUnitTest *tests, size_t n)
{
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

void keel_test_tmpdir(char out[PATH_MAX])
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    snprintf(out, PATH_MAX, "%s/keel-test-XXXXXX", base);
    assert_non_null(mkdtemp(out));
}

void keel_test_rmrf(const char *path)
{
    keel_test_sh("rm -rf '%s'", path);
}

void keel_test_write(const char *path, const char *s)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        keel_err err;
        assert_int_equal(keel_mkdir_p(dir, &err), KEEL_OK);
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(s, 1, strlen(s), f), strlen(s));
    assert_int_equal(fclose(f), 0);
}

int keel_test_sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int status = system(cmd);
    if (status == -1)
        return 127;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 127;
}

int keel_test_ws_setup(void **state)
{
    keel_test_ws *f = calloc(1, sizeof *f);
    assert_non_null(f);
    keel_test_tmpdir(f->dir);
    assert_int_equal(keel_workspace_init(f->dir, f->home, sizeof f->home, &f->err), KEEL_OK);
    setenv("KEEL_HOME", f->home, 1);
    assert_int_equal(keel_workspace_open(&f->ws, &f->err), KEEL_OK);
    keel_arena_init(&f->arena, 0);
    *state = f;
    return 0;
}

int keel_test_ws_teardown(void **state)
{
    keel_test_ws *f = *state;
    keel_workspace_close(f->ws);
    keel_arena_free(&f->arena);
    unsetenv("KEEL_HOME");
    keel_test_sh("chmod -R u+w '%s'", f->dir);
    keel_test_rmrf(f->dir);
    free(f);
    return 0;
}
