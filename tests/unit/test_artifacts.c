/*
 * test_artifacts.c — the content-addressed object store (put, get, dedupe,
 * streaming, corruption, hash validation) and run artifact trees (log, list,
 * get, stat, delete, run state, path checks, conflicts, atomicity).
 */
#include "testutil.h"

#include <keel/artifacts.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

/* printf into a PATH_MAX buffer, failing the test if it does not fit. */
static void pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, PATH_MAX, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && n < PATH_MAX);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    char dir[PATH_MAX];
    pathf(dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        keel_err err;
        assert_int_equal(keel_mkdir_p(dir, &err), KEEL_OK);
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path, size_t *out_len)
{
    char *data = NULL;
    keel_err err;
    assert_int_equal(keel_read_file(path, 1 << 26, &data, out_len, &err), KEEL_OK);
    return data;
}

static void assert_file_equals(const char *path, const void *p, size_t n)
{
    size_t len = 0;
    char *data = slurp(path, &len);
    assert_int_equal(len, n);
    assert_memory_equal(data, p, n);
    free(data);
}

/* Entries in dir other than "." and "..". */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Deterministic pseudo-random bytes, so sizes cross buffer boundaries. */
static char *make_data(size_t n, unsigned seed)
{
    char *p = malloc(n);
    assert_non_null(p);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (char)(x & 0xff);
    }
    return p;
}

/* Flips one byte of a stored object in place. */
static void corrupt_object(keel_cas *cas, const char *hash, long offset)
{
    char path[PATH_MAX];
    keel_err err;
    assert_int_equal(keel_cas_object_path(cas, hash, path, sizeof path, &err), KEEL_OK);
    assert_int_equal(chmod(path, 0644), 0);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    int c = fgetc(f);
    assert_true(c != EOF);
    assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    assert_int_equal(fputc(c ^ 0x5a, f), c ^ 0x5a);
    assert_int_equal(fclose(f), 0);
}

struct cas_fixture {
    char dir[PATH_MAX];
    char root[PATH_MAX];
    keel_cas *cas;
};

static int cas_setup(void **state)
{
    struct cas_fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    keel_test_tmpdir(fx->dir);
    pathf(fx->root, "%s/objects", fx->dir);
    keel_err err;
    assert_int_equal(keel_cas_open(fx->root, &fx->cas, &err), KEEL_OK);
    *state = fx;
    return 0;
}

static int cas_teardown(void **state)
{
    struct cas_fixture *fx = *state;
    keel_cas_close(fx->cas);
    keel_test_rmrf(fx->dir);
    free(fx);
    return 0;
}

/* ---- object store ---- */

static void cas_bytes_round_trip(void **state)
{
    struct cas_fixture *fx = *state;
    keel_err err;
    const char *text = "hello, keel";
    char hash[KEEL_SHA256_HEX_LEN + 1];
    char expect[KEEL_SHA256_HEX_LEN + 1];
    assert_int_equal(keel_cas_put_bytes(fx->cas, text, strlen(text), hash, &err), KEEL_OK);
    assert_int_equal(keel_sha256_hex(text, strlen(text), expect, &err), KEEL_OK);
    assert_string_equal(hash, expect);
    assert_true(keel_cas_has(fx->cas, hash));

    char path[PATH_MAX];
    char want[PATH_MAX];
    assert_int_equal(keel_cas_object_path(fx->cas, hash, path, sizeof path, &err), KEEL_OK);
    pathf(want, "%s/%.2s/%s", fx->root, hash, hash + 2);
    assert_string_equal(path, want);
    assert_true(keel_path_exists(path));
    char small[16];
    assert_int_equal(keel_cas_object_path(fx->cas, hash, small, sizeof small, &err),
                     KEEL_ELIMIT);

    char *data = NULL;
    size_t len = 0;
    assert_int_equal(keel_cas_get_bytes(fx->cas, hash, 1024, &data, &len, &err), KEEL_OK);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(data, text, len);
    free(data);
    assert_int_equal(keel_cas_get_bytes(fx->cas, hash, 4, &data, &len, &err), KEEL_ELIMIT);
    assert_non_null(strstr(err.msg, hash));

    char dest[PATH_MAX];
    pathf(dest, "%s/out.txt", fx->dir);
    assert_int_equal(keel_cas_get_file(fx->cas, hash, dest, &err), KEEL_OK);
    assert_file_equals(dest, text, strlen(text));
    assert_int_equal(keel_cas_verify(fx->cas, hash, &err), KEEL_OK);

    /* The empty object is an object like any other. */
    assert_int_equal(keel_cas_put_bytes(fx->cas, "", 0, hash, &err), KEEL_OK);
    assert_string_equal(hash,
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(keel_cas_get_bytes(fx->cas, hash, 0, &data, &len, &err), KEEL_OK);
    assert_int_equal(len, 0);
    free(data);

    /* A well-formed hash that is not stored. */
    const char *absent = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_false(keel_cas_has(fx->cas, absent));
    assert_int_equal(keel_cas_verify(fx->cas, absent, &err), KEEL_ENOTFOUND);
    assert_non_null(strstr(err.msg, absent));
    assert_int_equal(keel_cas_get_file(fx->cas, absent, dest, &err), KEEL_ENOTFOUND);
    assert_file_equals(dest, text, strlen(text));
}

static void cas_file_round_trip(void **state)
{
    struct cas_fixture *fx = *state;
    keel_err err;
    /* Larger than the 64 KiB buffer and not a multiple of it. */
    size_t n = 3 * 65536 + 1234;
    char *bytes = make_data(n, 7);
    char src[PATH_MAX];
    char dest[PATH_MAX];
    pathf(src, "%s/in.bin", fx->dir);
    pathf(dest, "%s/out/copy.bin", fx->dir);
    write_bytes(src, bytes, n);

    char hash[KEEL_SHA256_HEX_LEN + 1];
    char expect[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = -1;
    assert_int_equal(keel_cas_put_file(fx->cas, src, hash, &size, &err), KEEL_OK);
    assert_int_equal(size, (int64_t)n);
    assert_int_equal(keel_sha256_hex(bytes, n, expect, &err), KEEL_OK);
    assert_string_equal(hash, expect);

    char outdir[PATH_MAX];
    pathf(outdir, "%s/out", fx->dir);
    assert_int_equal(keel_mkdir_p(outdir, &err), KEEL_OK);
    assert_int_equal(keel_cas_get_file(fx->cas, hash, dest, &err), KEEL_OK);
    assert_file_equals(dest, bytes, n);
    /* Overwriting an existing destination replaces it. */
    keel_test_write(dest, "stale");
    assert_int_equal(keel_cas_get_file(fx->cas, hash, dest, &err), KEEL_OK);
    assert_file_equals(dest, bytes, n);

    char missing[PATH_MAX];
    pathf(missing, "%s/nope.bin", fx->dir);
    assert_int_equal(keel_cas_put_file(fx->cas, missing, hash, &size, &err), KEEL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nope.bin"));

    /* Nothing is left behind in the temp area. */
    char tmp[PATH_MAX];
    pathf(tmp, "%s/tmp", fx->root);
    assert_int_equal(count_entries(tmp), 0);
    free(bytes);
}

static void cas_dedupe(void **state)
{
    struct cas_fixture *fx = *state;
    keel_err err;
    const char *text = "same bytes, stored once";
    char h1[KEEL_SHA256_HEX_LEN + 1];
    char h2[KEEL_SHA256_HEX_LEN + 1];
    char h3[KEEL_SHA256_HEX_LEN + 1];
    assert_int_equal(keel_cas_put_bytes(fx->cas, text, strlen(text), h1, &err), KEEL_OK);
    char object[PATH_MAX];
    assert_int_equal(keel_cas_object_path(fx->cas, h1, object, sizeof object, &err), KEEL_OK);
    struct stat before, after;
    assert_int_equal(stat(object, &before), 0);
    assert_int_equal(keel_cas_put_bytes(fx->cas, text, strlen(text), h2, &err), KEEL_OK);
    /* The stored object is kept, not replaced by the new copy. */
    assert_int_equal(stat(object, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    char src[PATH_MAX];
    pathf(src, "%s/same.txt", fx->dir);
    keel_test_write(src, text);
    int64_t size = 0;
    assert_int_equal(keel_cas_put_file(fx->cas, src, h3, &size, &err), KEEL_OK);
    assert_string_equal(h1, h2);
    assert_string_equal(h1, h3);

    char shard[PATH_MAX];
    pathf(shard, "%s/%.2s", fx->root, h1);
    assert_int_equal(count_entries(shard), 1);
    char tmp[PATH_MAX];
    pathf(tmp, "%s/tmp", fx->root);
    assert_int_equal(count_entries(tmp), 0);
    /* The root holds tmp and one shard, nothing else. */
    assert_int_equal(count_entries(fx->root), 2);

    /* Other content gets its own object. */
    assert_int_equal(keel_cas_put_bytes(fx->cas, "other", 5, h2, &err), KEEL_OK);
    assert_string_not_equal(h1, h2);
    assert_true(keel_cas_has(fx->cas, h2));
}

static void cas_writer_streams(void **state)
{
    struct cas_fixture *fx = *state;
    keel_err err;
    size_t total = 300 * 1024 + 17;
    char *bytes = make_data(total, 3);
    keel_cas_writer *w = NULL;
    assert_int_equal(keel_cas_writer_begin(fx->cas, &w, &err), KEEL_OK);
    /* Chunks of 1..257 bytes, with one bigger than the writer's buffer. */
    size_t at = 0;
    size_t step = 1;
    int chunks = 0;
    while (at < total) {
        size_t n = (chunks == 40) ? 100 * 1024 : step;
        if (n > total - at)
            n = total - at;
        assert_int_equal(keel_cas_writer_write(w, bytes + at, n, &err), KEEL_OK);
        at += n;
        step = step * 31 % 257 + 1;
        chunks++;
    }
    assert_true(chunks > 500);
    assert_int_equal(keel_cas_writer_write(w, bytes, 0, &err), KEEL_OK);
    char hash[KEEL_SHA256_HEX_LEN + 1];
    char expect[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    assert_int_equal(keel_cas_writer_commit(w, hash, &size, &err), KEEL_OK);
    assert_int_equal(keel_sha256_hex(bytes, total, expect, &err), KEEL_OK);
    assert_string_equal(hash, expect);
    assert_int_equal(size, (int64_t)total);
    assert_int_equal(keel_cas_verify(fx->cas, hash, &err), KEEL_OK);

    char *data = NULL;
    size_t len = 0;
    assert_int_equal(keel_cas_get_bytes(fx->cas, hash, total, &data, &len, &err), KEEL_OK);
    assert_int_equal(len, total);
    assert_memory_equal(data, bytes, total);
    free(data);

    /* An aborted writer leaves no object and no temp file. */
    assert_int_equal(keel_cas_writer_begin(fx->cas, &w, &err), KEEL_OK);
    assert_int_equal(keel_cas_writer_write(w, "abandoned", 9, &err), KEEL_OK);
    keel_cas_writer_abort(w);
    assert_int_equal(keel_sha256_hex("abandoned", 9, expect, &err), KEEL_OK);
    assert_false(keel_cas_has(fx->cas, expect));
    char tmp[PATH_MAX];
    pathf(tmp, "%s/tmp", fx->root);
    assert_int_equal(count_entries(tmp), 0);
    free(bytes);
}

static void cas_detects_corruption(void **state)
{
    struct cas_fixture *fx = *state;
    keel_err err;
    size_t n = 70000;
    char *bytes = make_data(n, 11);
    char hash[KEEL_SHA256_HEX_LEN + 1];
    assert_int_equal(keel_cas_put_bytes(fx->cas, bytes, n, hash, &err), KEEL_OK);
    assert_int_equal(keel_cas_verify(fx->cas, hash, &err), KEEL_OK);
    corrupt_object(fx->cas, hash, 66000);

    assert_int_equal(keel_cas_verify(fx->cas, hash, &err), KEEL_ECORRUPT);
    assert_non_null(strstr(err.msg, hash));

    char outdir[PATH_MAX];
    char dest_old[PATH_MAX];
    char dest_new[PATH_MAX];
    pathf(outdir, "%s/out", fx->dir);
    pathf(dest_old, "%s/existing.bin", outdir);
    pathf(dest_new, "%s/fresh.bin", outdir);
    keel_test_write(dest_old, "old content");

    err.code = KEEL_OK;
    assert_int_equal(keel_cas_get_file(fx->cas, hash, dest_old, &err), KEEL_ECORRUPT);
    assert_int_equal(err.code, KEEL_ECORRUPT);
    assert_non_null(strstr(err.msg, hash));
    assert_file_equals(dest_old, "old content", 11);
    assert_int_equal(keel_cas_get_file(fx->cas, hash, dest_new, &err), KEEL_ECORRUPT);
    assert_false(keel_path_exists(dest_new));
    /* No temp file is left beside the destinations. */
    assert_int_equal(count_entries(outdir), 1);

    char *data = NULL;
    size_t len = 0;
    assert_int_equal(keel_cas_get_bytes(fx->cas, hash, n, &data, &len, &err), KEEL_ECORRUPT);
    assert_null(data);

    /* Storing the same bytes again does not hide the damage silently: the
     * object of the right size is kept, and verify still reports it. */
    char again[KEEL_SHA256_HEX_LEN + 1];
    assert_int_equal(keel_cas_put_bytes(fx->cas, bytes, n, again, &err), KEEL_OK);
    assert_string_equal(again, hash);
    assert_int_equal(keel_cas_verify(fx->cas, hash, &err), KEEL_ECORRUPT);

    /* A truncated object (wrong size) is replaced by a new put. */
    char path[PATH_MAX];
    assert_int_equal(keel_cas_object_path(fx->cas, hash, path, sizeof path, &err), KEEL_OK);
    assert_int_equal(truncate(path, 100), 0);
    assert_int_equal(keel_cas_verify(fx->cas, hash, &err), KEEL_ECORRUPT);
    assert_int_equal(keel_cas_put_bytes(fx->cas, bytes, n, again, &err), KEEL_OK);
    assert_int_equal(keel_cas_verify(fx->cas, hash, &err), KEEL_OK);
    assert_int_equal(keel_cas_get_file(fx->cas, hash, dest_old, &err), KEEL_OK);
    assert_file_equals(dest_old, bytes, n);
    free(bytes);
}

static void cas_rejects_bad_hashes(void **state)
{
    struct cas_fixture *fx = *state;
    keel_err err;
    const char *bad[] = {
        "",
        "abc",
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
        "../../../../../../../../../../../../../../../../../../etc/passwd",
        "e3/0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    char dest[PATH_MAX];
    char path[PATH_MAX];
    pathf(dest, "%s/dest", fx->dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(keel_cas_has(fx->cas, bad[i]));
        assert_int_equal(keel_cas_verify(fx->cas, bad[i], &err), KEEL_EINVAL);
        assert_int_equal(keel_cas_get_file(fx->cas, bad[i], dest, &err), KEEL_EINVAL);
        assert_int_equal(keel_cas_object_path(fx->cas, bad[i], path, sizeof path, &err),
                         KEEL_EINVAL);
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(keel_cas_get_bytes(fx->cas, bad[i], 100, &data, &len, &err),
                         KEEL_EINVAL);
    }
    assert_false(keel_cas_has(fx->cas, NULL));
    assert_int_equal(keel_cas_verify(fx->cas, NULL, &err), KEEL_EINVAL);
    assert_false(keel_path_exists(dest));
    /* The message names the offending value. */
    assert_int_equal(keel_cas_verify(fx->cas, "abc", &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'abc'"));
}

/* ---- run artifact trees ---- */

struct tree_fixture {
    char dir[PATH_MAX];
    char src[PATH_MAX];
    char out[PATH_MAX];
    char objects[PATH_MAX];
    keel_store *store;
    keel_cas *cas;
    keel_arena arena;
};

#define RUN1 "0123456789abcdef0123456789abcdef"
#define RUN2 "fedcba9876543210fedcba9876543210"
#define RUN_DELETED "deadbeefdeadbeefdeadbeefdeadbeef"

static void add_run(keel_store *store, const char *run_id, const char *stage)
{
    keel_stmt *st = NULL;
    keel_err err;
    assert_int_equal(keel_store_prepare(store,
                                        "INSERT INTO runs (run_uuid, name, experiment_id, "
                                        "status, start_time, lifecycle_stage) "
                                        "VALUES (?, ?, 0, 'RUNNING', ?, ?)",
                                        true, &st, &err),
                     KEEL_OK);
    keel_stmt_bind_text(st, 1, run_id, -1);
    keel_stmt_bind_text(st, 2, "test-run", -1);
    keel_stmt_bind_int64(st, 3, keel_now_ms());
    keel_stmt_bind_text(st, 4, stage, -1);
    assert_int_equal(keel_stmt_run(st, &err), KEEL_OK);
}

static int tree_setup(void **state)
{
    struct tree_fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    keel_test_tmpdir(fx->dir);
    pathf(fx->src, "%s/src", fx->dir);
    pathf(fx->out, "%s/out", fx->dir);
    pathf(fx->objects, "%s/objects", fx->dir);
    char db[PATH_MAX];
    pathf(db, "%s/keel.db", fx->dir);
    keel_err err;
    assert_int_equal(keel_store_open(db, &fx->store, &err), KEEL_OK);
    assert_int_equal(keel_cas_open(fx->objects, &fx->cas, &err), KEEL_OK);
    add_run(fx->store, RUN1, "active");
    add_run(fx->store, RUN2, "active");
    add_run(fx->store, RUN_DELETED, "deleted");
    keel_arena_init(&fx->arena, 0);

    /* src/a.txt, src/sub/b.txt, src/sub/deep/c.bin, src/sub-x.txt */
    char path[PATH_MAX];
    pathf(path, "%s/a.txt", fx->src);
    keel_test_write(path, "alpha\n");
    pathf(path, "%s/sub/b.txt", fx->src);
    keel_test_write(path, "bravo bravo\n");
    pathf(path, "%s/sub/deep/c.bin", fx->src);
    char *bytes = make_data(100000, 5);
    write_bytes(path, bytes, 100000);
    free(bytes);
    pathf(path, "%s/sub-x.txt", fx->src);
    keel_test_write(path, "x");
    *state = fx;
    return 0;
}

static int tree_teardown(void **state)
{
    struct tree_fixture *fx = *state;
    keel_arena_free(&fx->arena);
    keel_cas_close(fx->cas);
    keel_store_close(fx->store);
    keel_test_rmrf(fx->dir);
    free(fx);
    return 0;
}

static const keel_artifact_entry *find_entry(const keel_artifact_entry *e, size_t n,
                                             const char *path)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].path, path) == 0)
            return &e[i];
    return NULL;
}

static int64_t count_rows(keel_store *store, const char *run_id)
{
    keel_stmt *st = NULL;
    keel_err err;
    assert_int_equal(keel_store_prepare(store,
                                        "SELECT COUNT(*) FROM run_artifacts WHERE run_uuid = ?",
                                        true, &st, &err),
                     KEEL_OK);
    keel_stmt_bind_text(st, 1, run_id, -1);
    assert_int_equal(keel_stmt_step(st, &err), KEEL_STEP_ROW);
    int64_t n = keel_stmt_int64(st, 0);
    keel_stmt_release(st);
    return n;
}

static void tree_log_list_get(void **state)
{
    struct tree_fixture *fx = *state;
    keel_err err;
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, fx->src, NULL, &err),
                     KEEL_OK);
    assert_int_equal(count_rows(fx->store, RUN1), 4);

    keel_artifact_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(keel_artifacts_list(fx->store, RUN1, NULL, &fx->arena, &e, &n, &err),
                     KEEL_OK);
    assert_int_equal(n, 3);
    /* Sorted by path: "a.txt" < "sub" < "sub-x.txt". */
    assert_string_equal(e[0].path, "a.txt");
    assert_string_equal(e[1].path, "sub");
    assert_string_equal(e[2].path, "sub-x.txt");
    assert_false(e[0].is_dir);
    assert_int_equal(e[0].size, 6);
    assert_non_null(e[0].hash);
    char expect[KEEL_SHA256_HEX_LEN + 1];
    assert_int_equal(keel_sha256_hex("alpha\n", 6, expect, &err), KEEL_OK);
    assert_string_equal(e[0].hash, expect);
    assert_true(e[1].is_dir);
    assert_null(e[1].hash);
    assert_int_equal(e[1].size, 12 + 100000);

    assert_int_equal(keel_artifacts_list(fx->store, RUN1, "sub", &fx->arena, &e, &n, &err),
                     KEEL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].path, "sub/b.txt");
    assert_false(e[0].is_dir);
    assert_int_equal(e[0].size, 12);
    assert_string_equal(e[1].path, "sub/deep");
    assert_true(e[1].is_dir);
    assert_int_equal(e[1].size, 100000);

    assert_int_equal(keel_artifacts_list(fx->store, RUN1, "sub/deep", &fx->arena, &e, &n,
                                         &err),
                     KEEL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].path, "sub/deep/c.bin");
    assert_int_equal(e[0].size, 100000);

    /* Nothing below a file or an unknown directory. */
    assert_int_equal(keel_artifacts_list(fx->store, RUN1, "a.txt", &fx->arena, &e, &n, &err),
                     KEEL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(keel_artifacts_list(fx->store, RUN1, "su", &fx->arena, &e, &n, &err),
                     KEEL_OK);
    assert_int_equal(n, 0);

    /* A directory comes back with paths relative to it. */
    assert_int_equal(keel_artifacts_get(fx->store, fx->cas, RUN1, "sub", fx->out, &err),
                     KEEL_OK);
    char path[PATH_MAX];
    pathf(path, "%s/b.txt", fx->out);
    assert_file_equals(path, "bravo bravo\n", 12);
    pathf(path, "%s/deep/c.bin", fx->out);
    char *bytes = make_data(100000, 5);
    assert_file_equals(path, bytes, 100000);
    free(bytes);
    pathf(path, "%s/a.txt", fx->out);
    assert_false(keel_path_exists(path));

    /* A file comes back under its base name. */
    pathf(path, "%s/one", fx->dir);
    assert_int_equal(keel_artifacts_get(fx->store, fx->cas, RUN1, "sub/b.txt", path, &err),
                     KEEL_OK);
    pathf(path, "%s/one/b.txt", fx->dir);
    assert_file_equals(path, "bravo bravo\n", 12);
    pathf(path, "%s/one", fx->dir);
    assert_int_equal(count_entries(path), 1);

    /* The whole tree. */
    pathf(path, "%s/all", fx->dir);
    assert_int_equal(keel_artifacts_get(fx->store, fx->cas, RUN1, "", path, &err), KEEL_OK);
    assert_int_equal(keel_test_sh("diff -r '%s' '%s/all' >/dev/null", fx->src, fx->dir), 0);

    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    assert_int_equal(keel_artifacts_stat(fx->store, RUN1, "a.txt", hash, &size, &err),
                     KEEL_OK);
    assert_string_equal(hash, expect);
    assert_int_equal(size, 6);
    assert_int_equal(keel_artifacts_stat(fx->store, RUN1, "sub", hash, &size, &err),
                     KEEL_ENOTFOUND);
}

static void tree_log_file_and_replace(void **state)
{
    struct tree_fixture *fx = *state;
    keel_err err;
    char file[PATH_MAX];
    pathf(file, "%s/a.txt", fx->src);
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, file, "models", &err),
                     KEEL_OK);
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    assert_int_equal(keel_artifacts_stat(fx->store, RUN1, "models/a.txt", hash, &size, &err),
                     KEEL_OK);
    assert_int_equal(size, 6);
    assert_int_equal(keel_artifacts_stat(fx->store, RUN1, "models", hash, &size, &err),
                     KEEL_ENOTFOUND);

    /* At the root a file keeps just its base name. */
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, file, "", &err), KEEL_OK);
    assert_int_equal(keel_artifacts_stat(fx->store, RUN1, "a.txt", hash, &size, &err),
                     KEEL_OK);

    /* Logging changed content at the same path replaces the row. */
    keel_test_write(file, "alpha, second version\n");
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, file, "models", &err),
                     KEEL_OK);
    char hash2[KEEL_SHA256_HEX_LEN + 1];
    assert_int_equal(keel_artifacts_stat(fx->store, RUN1, "models/a.txt", hash2, &size, &err),
                     KEEL_OK);
    assert_string_not_equal(hash, hash2);
    assert_int_equal(size, 22);
    assert_int_equal(count_rows(fx->store, RUN1), 2);
    assert_int_equal(keel_artifacts_get(fx->store, fx->cas, RUN1, "models/a.txt", fx->out,
                                        &err),
                     KEEL_OK);
    char path[PATH_MAX];
    pathf(path, "%s/a.txt", fx->out);
    assert_file_equals(path, "alpha, second version\n", 22);

    /* A directory under a nested artifact path. */
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN2, fx->src, "x/y", &err),
                     KEEL_OK);
    assert_int_equal(keel_artifacts_stat(fx->store, RUN2, "x/y/sub/deep/c.bin", hash, &size,
                                         &err),
                     KEEL_OK);
    assert_int_equal(size, 100000);

    char missing[PATH_MAX];
    pathf(missing, "%s/missing.txt", fx->dir);
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, missing, NULL, &err),
                     KEEL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "missing.txt"));
}

static void tree_runs_share_objects(void **state)
{
    struct tree_fixture *fx = *state;
    keel_err err;
    char file[PATH_MAX];
    pathf(file, "%s/sub/deep/c.bin", fx->src);
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, file, "m", &err), KEEL_OK);
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN2, file, "other/place", &err),
                     KEEL_OK);
    char h1[KEEL_SHA256_HEX_LEN + 1];
    char h2[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    assert_int_equal(keel_artifacts_stat(fx->store, RUN1, "m/c.bin", h1, &size, &err),
                     KEEL_OK);
    assert_int_equal(keel_artifacts_stat(fx->store, RUN2, "other/place/c.bin", h2, &size,
                                         &err),
                     KEEL_OK);
    assert_string_equal(h1, h2);
    /* One shard directory, holding one object file. */
    char shard[PATH_MAX];
    pathf(shard, "%s/%.2s", fx->objects, h1);
    assert_int_equal(count_entries(shard), 1);
    assert_int_equal(count_entries(fx->objects), 2);

    /* Deleting from one run leaves the other run's copy readable. */
    assert_int_equal(keel_artifacts_delete(fx->store, RUN1, "m", &err), KEEL_OK);
    assert_true(keel_cas_has(fx->cas, h1));
    assert_int_equal(keel_artifacts_get(fx->store, fx->cas, RUN2, "other", fx->out, &err),
                     KEEL_OK);
    char path[PATH_MAX];
    pathf(path, "%s/place/c.bin", fx->out);
    assert_true(keel_path_exists(path));
}

static void tree_run_must_exist_and_be_active(void **state)
{
    struct tree_fixture *fx = *state;
    keel_err err;
    const char *ghost = "00000000000000000000000000000000";
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, ghost, fx->src, NULL, &err),
                     KEEL_ENOTFOUND);
    assert_non_null(strstr(err.msg, ghost));
    assert_int_equal(count_entries(fx->objects), 1);  /* only tmp: nothing was stored */

    keel_artifact_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(keel_artifacts_list(fx->store, ghost, NULL, &fx->arena, &e, &n, &err),
                     KEEL_ENOTFOUND);
    assert_int_equal(keel_artifacts_get(fx->store, fx->cas, ghost, "a", fx->out, &err),
                     KEEL_ENOTFOUND);
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size;
    assert_int_equal(keel_artifacts_stat(fx->store, ghost, "a", hash, &size, &err),
                     KEEL_ENOTFOUND);
    assert_int_equal(keel_artifacts_delete(fx->store, ghost, "a", &err), KEEL_ENOTFOUND);
    const char *h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_int_equal(keel_artifacts_put_entry(fx->store, ghost, "a", h, 0, &err),
                     KEEL_ENOTFOUND);

    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN_DELETED, fx->src, NULL, &err),
                     KEEL_ESTATE);
    assert_non_null(strstr(err.msg, RUN_DELETED));
    assert_int_equal(keel_artifacts_put_entry(fx->store, RUN_DELETED, "a", h, 0, &err),
                     KEEL_ESTATE);
    assert_int_equal(keel_artifacts_delete(fx->store, RUN_DELETED, "a", &err), KEEL_ESTATE);
    assert_int_equal(count_rows(fx->store, RUN_DELETED), 0);
    /* A deleted run's tree can still be read. */
    assert_int_equal(keel_artifacts_list(fx->store, RUN_DELETED, NULL, &fx->arena, &e, &n,
                                         &err),
                     KEEL_OK);
    assert_int_equal(n, 0);

    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, "", fx->src, NULL, &err),
                     KEEL_EINVAL);
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, NULL, fx->src, NULL, &err),
                     KEEL_EINVAL);
}

static void tree_bad_paths(void **state)
{
    struct tree_fixture *fx = *state;
    keel_err err;
    const char *bad[] = {"../x", "/abs", "a//b", "a/./b", "a/..", "..", ".", "a/", "a\\b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err.msg[0] = '\0';
        assert_int_equal(keel_artifact_path_check(bad[i], &err), KEEL_EINVAL);
        if (bad[i][0] != '\0')
            assert_non_null(strstr(err.msg, bad[i]));
    }
    assert_int_equal(keel_artifact_path_check(NULL, &err), KEEL_EINVAL);
    char long_path[1100];
    memset(long_path, 'a', 1025);
    long_path[1025] = '\0';
    assert_int_equal(keel_artifact_path_check(long_path, &err), KEEL_EINVAL);
    long_path[1024] = '\0';
    assert_int_equal(keel_artifact_path_check(long_path, &err), KEEL_OK);
    const char *good[] = {"a", "a/b.txt", "..a", "a..", ".hidden/x", "with space/ü", "a%_b"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(keel_artifact_path_check(good[i], &err), KEEL_OK);

    const char *through_api[] = {"../x", "/abs", "a//b", "a/./b"};
    const char *h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    keel_artifact_entry *e = NULL;
    size_t n = 0;
    for (size_t i = 0; i < sizeof through_api / sizeof through_api[0]; i++) {
        const char *p = through_api[i];
        assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, fx->src, p, &err),
                         KEEL_EINVAL);
        assert_int_equal(keel_artifacts_put_entry(fx->store, RUN1, p, h, 0, &err),
                         KEEL_EINVAL);
        assert_int_equal(keel_artifacts_list(fx->store, RUN1, p, &fx->arena, &e, &n, &err),
                         KEEL_EINVAL);
        assert_int_equal(keel_artifacts_get(fx->store, fx->cas, RUN1, p, fx->out, &err),
                         KEEL_EINVAL);
        assert_int_equal(keel_artifacts_delete(fx->store, RUN1, p, &err), KEEL_EINVAL);
    }
    assert_int_equal(count_rows(fx->store, RUN1), 0);
    assert_false(keel_path_exists(fx->out));

    /* put_entry validates the hash and size too. */
    assert_int_equal(keel_artifacts_put_entry(fx->store, RUN1, "a", "xyz", 0, &err),
                     KEEL_EINVAL);
    assert_int_equal(keel_artifacts_put_entry(fx->store, RUN1, "a", h, -1, &err),
                     KEEL_EINVAL);

    /* LIKE wildcards in a path are matched literally. */
    assert_int_equal(keel_artifacts_put_entry(fx->store, RUN1, "a%_b/x", h, 1, &err),
                     KEEL_OK);
    assert_int_equal(keel_artifacts_put_entry(fx->store, RUN1, "aXYb/y", h, 2, &err),
                     KEEL_OK);
    assert_int_equal(keel_artifacts_list(fx->store, RUN1, "a%_b", &fx->arena, &e, &n, &err),
                     KEEL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].path, "a%_b/x");
    assert_int_equal(keel_artifacts_delete(fx->store, RUN1, "a%_b", &err), KEEL_OK);
    assert_int_equal(count_rows(fx->store, RUN1), 1);
}

static void tree_delete_subtree(void **state)
{
    struct tree_fixture *fx = *state;
    keel_err err;
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, fx->src, NULL, &err),
                     KEEL_OK);
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size;
    assert_int_equal(keel_artifacts_stat(fx->store, RUN1, "sub/deep/c.bin", hash, &size,
                                         &err),
                     KEEL_OK);
    assert_int_equal(keel_artifacts_delete(fx->store, RUN1, "sub", &err), KEEL_OK);

    keel_artifact_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(keel_artifacts_list(fx->store, RUN1, NULL, &fx->arena, &e, &n, &err),
                     KEEL_OK);
    assert_int_equal(n, 2);
    assert_non_null(find_entry(e, n, "a.txt"));
    /* "sub-x.txt" shares the prefix "sub" but is not below "sub/". */
    assert_non_null(find_entry(e, n, "sub-x.txt"));
    assert_null(find_entry(e, n, "sub"));
    assert_true(keel_cas_has(fx->cas, hash));

    assert_int_equal(keel_artifacts_get(fx->store, fx->cas, RUN1, "sub", fx->out, &err),
                     KEEL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'sub'"));
    assert_int_equal(keel_artifacts_delete(fx->store, RUN1, "sub", &err), KEEL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "'sub'"));

    /* A single file, then everything. */
    assert_int_equal(keel_artifacts_delete(fx->store, RUN1, "a.txt", &err), KEEL_OK);
    assert_int_equal(count_rows(fx->store, RUN1), 1);
    assert_int_equal(keel_artifacts_delete(fx->store, RUN1, NULL, &err), KEEL_OK);
    assert_int_equal(count_rows(fx->store, RUN1), 0);
}

static void tree_get_unknown_and_corrupt(void **state)
{
    struct tree_fixture *fx = *state;
    keel_err err;
    assert_int_equal(keel_artifacts_get(fx->store, fx->cas, RUN1, "nope/model.bin", fx->out,
                                        &err),
                     KEEL_ENOTFOUND);
    assert_non_null(strstr(err.msg, "nope/model.bin"));
    assert_non_null(strstr(err.msg, RUN1));

    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, fx->src, NULL, &err),
                     KEEL_OK);
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size;
    assert_int_equal(keel_artifacts_stat(fx->store, RUN1, "sub/b.txt", hash, &size, &err),
                     KEEL_OK);
    corrupt_object(fx->cas, hash, 3);
    assert_int_equal(keel_artifacts_get(fx->store, fx->cas, RUN1, "sub/b.txt", fx->out, &err),
                     KEEL_ECORRUPT);
    assert_non_null(strstr(err.msg, "sub/b.txt"));
    char path[PATH_MAX];
    pathf(path, "%s/b.txt", fx->out);
    assert_false(keel_path_exists(path));
}

static void tree_conflicts_and_atomicity(void **state)
{
    struct tree_fixture *fx = *state;
    keel_err err;
    const char *h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_int_equal(keel_artifacts_put_entry(fx->store, RUN1, "f", h, 0, &err), KEEL_OK);
    assert_int_equal(keel_artifacts_put_entry(fx->store, RUN1, "f/g", h, 0, &err),
                     KEEL_ECONFLICT);
    assert_int_equal(keel_artifacts_put_entry(fx->store, RUN1, "d/e", h, 0, &err), KEEL_OK);
    assert_int_equal(keel_artifacts_put_entry(fx->store, RUN1, "d", h, 0, &err),
                     KEEL_ECONFLICT);
    assert_non_null(strstr(err.msg, "'d'"));
    assert_int_equal(count_rows(fx->store, RUN1), 2);

    /* A file already at "sub/deep" clashes with the directory being logged:
     * nothing of the directory is recorded. */
    assert_int_equal(keel_artifacts_put_entry(fx->store, RUN2, "sub/deep", h, 0, &err),
                     KEEL_OK);
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN2, fx->src, NULL, &err),
                     KEEL_ECONFLICT);
    assert_int_equal(count_rows(fx->store, RUN2), 1);
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size;
    assert_int_equal(keel_artifacts_stat(fx->store, RUN2, "a.txt", hash, &size, &err),
                     KEEL_ENOTFOUND);
    /* The store is usable afterwards (the transaction was closed). */
    assert_int_equal(keel_artifacts_delete(fx->store, RUN2, "sub/deep", &err), KEEL_OK);
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN2, fx->src, NULL, &err),
                     KEEL_OK);
    assert_int_equal(count_rows(fx->store, RUN2), 4);

    /* A file whose name is not a valid artifact path fails the whole log. */
    char odd[PATH_MAX];
    pathf(odd, "%s/sub/back\\slash.txt", fx->src);
    keel_test_write(odd, "odd");
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, fx->src, "again", &err),
                     KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "back\\slash.txt"));
    assert_int_equal(count_rows(fx->store, RUN1), 2);
}

static void tree_skips_special_files(void **state)
{
    struct tree_fixture *fx = *state;
    keel_err err;
    /* A symlink to a file is followed; one to a directory and a dangling one
     * are skipped (no cycles). */
    assert_int_equal(keel_test_sh("cd '%s' && ln -s a.txt link.txt && ln -s sub loopdir && "
                                  "ln -s nowhere dangling && mkfifo fifo",
                                  fx->src),
                     0);
    assert_int_equal(keel_artifacts_log(fx->store, fx->cas, RUN1, fx->src, NULL, &err),
                     KEEL_OK);
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size;
    assert_int_equal(keel_artifacts_stat(fx->store, RUN1, "link.txt", hash, &size, &err),
                     KEEL_OK);
    assert_int_equal(size, 6);
    assert_int_equal(count_rows(fx->store, RUN1), 5);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cas_bytes_round_trip, cas_setup, cas_teardown),
        cmocka_unit_test_setup_teardown(cas_file_round_trip, cas_setup, cas_teardown),
        cmocka_unit_test_setup_teardown(cas_dedupe, cas_setup, cas_teardown),
        cmocka_unit_test_setup_teardown(cas_writer_streams, cas_setup, cas_teardown),
        cmocka_unit_test_setup_teardown(cas_detects_corruption, cas_setup, cas_teardown),
        cmocka_unit_test_setup_teardown(cas_rejects_bad_hashes, cas_setup, cas_teardown),
        cmocka_unit_test_setup_teardown(tree_log_list_get, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(tree_log_file_and_replace, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(tree_runs_share_objects, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(tree_run_must_exist_and_be_active, tree_setup,
                                        tree_teardown),
        cmocka_unit_test_setup_teardown(tree_bad_paths, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(tree_delete_subtree, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(tree_get_unknown_and_corrupt, tree_setup,
                                        tree_teardown),
        cmocka_unit_test_setup_teardown(tree_conflicts_and_atomicity, tree_setup,
                                        tree_teardown),
        cmocka_unit_test_setup_teardown(tree_skips_special_files, tree_setup, tree_teardown),
    };
    return keel_test_main(argc, argv, "artifacts", tests);
}
