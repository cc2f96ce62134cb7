/*
 * test_core.c — errors, arenas, buffers, JSON, SHA-256, files.
 */
#include "testutil.h"

#include <keel/arena.h>
#include <keel/buf.h>
#include <keel/error.h>
#include <keel/json.h>
#include <keel/util.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void errors_have_names_and_text(void **state)
{
    (void)state;
    assert_string_equal(keel_rc_name(KEEL_ENOTFOUND), "KEEL_ENOTFOUND");
    assert_string_equal(keel_rc_text(KEEL_ENOTFOUND), "not found");
    assert_string_equal(keel_rc_text(9999), "unknown error");
    keel_err err;
    keel_err_clear(&err);
    assert_int_equal(keel_errf(&err, KEEL_EINVAL, "field '%s' bad", "x"), KEEL_EINVAL);
    assert_int_equal(err.code, KEEL_EINVAL);
    assert_string_equal(err.msg, "field 'x' bad");
    keel_err_prefix(&err, "file.csv:%d", 3);
    assert_string_equal(err.msg, "file.csv:3: field 'x' bad");
    assert_int_equal(err.code, KEEL_EINVAL);
}

static void arena_allocates_aligned_zeroed_and_caps(void **state)
{
    (void)state;
    keel_arena a;
    keel_arena_init(&a, 0);
    for (int i = 0; i < 1000; i++) {
        char *p = keel_arena_alloc(&a, (size_t)(i % 97) + 1);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        assert_int_equal(p[0], 0);
        memset(p, 0xAB, (size_t)(i % 97) + 1);
    }
    char *big = keel_arena_alloc(&a, 3 << 20);
    assert_non_null(big);
    big[(3 << 20) - 1] = 1;
    assert_string_equal(keel_arena_sprintf(&a, "%s-%d", "run", 7), "run-7");
    assert_string_equal(keel_arena_strndup(&a, "abcdef", 3), "abc");
    keel_arena_free(&a);

    keel_arena capped;
    keel_arena_init(&capped, 1024);
    assert_non_null(keel_arena_alloc(&capped, 512));
    assert_null(keel_arena_alloc(&capped, 1024));
    keel_arena_free(&capped);
}

static void buf_grows_to_its_max_and_no_further(void **state)
{
    (void)state;
    keel_buf b;
    keel_buf_init(&b, 10);
    assert_int_equal(keel_buf_puts(&b, "12345"), KEEL_OK);
    assert_int_equal(keel_buf_printf(&b, "%d", 67890), KEEL_OK);
    assert_string_equal(b.data, "1234567890");
    assert_int_equal(keel_buf_puts(&b, "x"), KEEL_ELIMIT);
    assert_string_equal(b.data, "1234567890");
    assert_int_equal(b.len, 10);
    char *taken = keel_buf_take(&b);
    assert_string_equal(taken, "1234567890");
    free(taken);
    assert_int_equal(b.len, 0);
    keel_buf_free(&b);
}

static void json_parse_reports_position_and_depth(void **state)
{
    (void)state;
    keel_err err;
    json_t *v = NULL;
    assert_int_equal(keel_json_parse("{\"a\": [1, 2,]}", 14, 8, &v, &err), KEEL_EPARSE);
    assert_non_null(strstr(err.msg, "line 1"));
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_int_equal(keel_json_parse(deep, 200, 64, &v, &err), KEEL_ELIMIT);
    /* Brackets inside strings do not count. */
    const char *s = "[\"[[[[[[[[[[[[[[[[[[[[\"]";
    assert_int_equal(keel_json_parse(s, strlen(s), 2, &v, &err), KEEL_OK);
    json_decref(v);
    assert_int_equal(keel_json_parse("{\"a\":1,\"a\":2}", 13, 8, &v, &err), KEEL_EPARSE);
}

static void json_fields_are_typed_and_named(void **state)
{
    (void)state;
    keel_err err;
    json_t *o = json_pack("{s:s, s:i, s:s, s:b}", "name", "x", "n", 5, "big", "12345678901",
                          "flag", 1);
    const char *name = NULL;
    int64_t n = 0;
    bool flag = false;
    assert_int_equal(keel_json_get_string(o, "name", true, &name, &err), KEEL_OK);
    assert_string_equal(name, "x");
    assert_int_equal(keel_json_get_int64(o, "big", true, &n, &err), KEEL_OK);
    assert_int_equal(n, 12345678901LL);
    assert_int_equal(keel_json_get_bool(o, "flag", true, &flag, &err), KEEL_OK);
    assert_true(flag);
    assert_int_equal(keel_json_get_string(o, "n", true, &name, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'n'"));
    assert_int_equal(keel_json_get_string(o, "missing", true, &name, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "missing"));
    assert_int_equal(keel_json_get_string(o, "missing", false, &name, &err), KEEL_OK);
    json_decref(o);
}

static void json_dumps_shortest_reals_and_nonfinite(void **state)
{
    (void)state;
    json_t *o = json_object();
    json_object_set_new(o, "a", json_real(0.1));
    json_object_set_new(o, "b", keel_json_double(NAN));
    json_object_set_new(o, "c", keel_json_double(-INFINITY));
    json_object_set_new(o, "d", json_real(1.0));
    json_object_set_new(o, "e", json_string("q\"\n\x01"));
    json_object_set_new(o, "f", json_real(1.0 / 3.0));
    char *text = keel_json_dumps(o, false);
    assert_string_equal(text, "{\"a\":0.1,\"b\":\"NaN\",\"c\":\"-Infinity\",\"d\":1.0,"
                              "\"e\":\"q\\\"\\n\\u0001\",\"f\":0.3333333333333333}");
    /* What we write reads back as the same values. */
    json_t *back = NULL;
    keel_err err;
    assert_int_equal(keel_json_parse(text, strlen(text), 8, &back, &err), KEEL_OK);
    double d = 0;
    assert_int_equal(keel_json_to_double(json_object_get(back, "f"), "f", &d, &err), KEEL_OK);
    assert_true(d == 1.0 / 3.0);
    assert_int_equal(keel_json_to_double(json_object_get(back, "b"), "b", &d, &err), KEEL_OK);
    assert_true(isnan(d));
    free(text);
    json_decref(back);
    json_decref(o);
}

static void sha256_matches_known_vectors(void **state)
{
    (void)state;
    char hex[65];
    keel_err err;
    assert_int_equal(keel_sha256_hex("abc", 3, hex, &err), KEEL_OK);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(keel_sha256_hex("", 0, hex, &err), KEEL_OK);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    char dir[PATH_MAX], path[PATH_MAX + 16];
    keel_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/f", dir);
    keel_test_write(path, "abc");
    int64_t size = 0;
    assert_int_equal(keel_sha256_file(path, hex, &size, &err), KEEL_OK);
    assert_int_equal(size, 3);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(keel_sha256_file("/nonexistent/x", hex, &size, &err), KEEL_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/x"));
    keel_test_rmrf(dir);
}

static void random_ids_are_hex_and_distinct(void **state)
{
    (void)state;
    char a[33], b[33];
    keel_err err;
    assert_int_equal(keel_random_hex32(a, &err), KEEL_OK);
    assert_int_equal(keel_random_hex32(b, &err), KEEL_OK);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
}

static void atomic_write_replaces_whole_file(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX + 16];
    keel_test_tmpdir(dir);
    snprintf(path, sizeof path, "%s/a/b/c.txt", dir);
    keel_err err;
    char parent[PATH_MAX + 16];
    snprintf(parent, sizeof parent, "%s/a/b", dir);
    assert_int_equal(keel_mkdir_p(parent, &err), KEEL_OK);
    assert_int_equal(keel_mkdir_p(parent, &err), KEEL_OK);
    assert_int_equal(keel_write_file_atomic(path, "first", 5, &err), KEEL_OK);
    assert_int_equal(keel_write_file_atomic(path, "second!", 7, &err), KEEL_OK);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(keel_read_file(path, 100, &data, &len, &err), KEEL_OK);
    assert_string_equal(data, "second!");
    free(data);
    assert_int_equal(keel_read_file(path, 3, &data, &len, &err), KEEL_ELIMIT);
    assert_non_null(strstr(err.msg, "c.txt"));
    /* No temp files left behind. */
    assert_int_equal(keel_test_sh("test $(ls -A '%s/a/b' | wc -l) -eq 1", dir), 0);
    /* A file where a directory is wanted is an error, not a crash. */
    char blocked[PATH_MAX + 32];
    snprintf(blocked, sizeof blocked, "%s/c.txt/sub", parent);
    assert_int_not_equal(keel_mkdir_p(blocked, &err), KEEL_OK);
    keel_test_rmrf(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(errors_have_names_and_text),
        cmocka_unit_test(arena_allocates_aligned_zeroed_and_caps),
        cmocka_unit_test(buf_grows_to_its_max_and_no_further),
        cmocka_unit_test(json_parse_reports_position_and_depth),
        cmocka_unit_test(json_fields_are_typed_and_named),
        cmocka_unit_test(json_dumps_shortest_reals_and_nonfinite),
        cmocka_unit_test(sha256_matches_known_vectors),
        cmocka_unit_test(random_ids_are_hex_and_distinct),
        cmocka_unit_test(atomic_write_replaces_whole_file),
    };
    return keel_test_main(argc, argv, "core", tests);
}
