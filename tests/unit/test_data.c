/*
 * test_data.c — the CSV reader and frames: the real adult dataset (gzip and
 * plain), type inference, NA handling, quoting, every error with its message,
 * type overrides, float parsing against strtod, dates, row selection.
 */
#include "testutil.h"

#include <keel/data.h>

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- helpers ---- */

static void repo_root(char out[PATH_MAX])
{
    const char *data = getenv("KEEL_TEST_DATA");  /* <root>/tests/data */
    char tmp[PATH_MAX];
    if (data != NULL && data[0] != '\0') {
        snprintf(tmp, sizeof tmp, "%s/../..", data);
    } else {
        char file[PATH_MAX];
        snprintf(file, sizeof file, "%s", __FILE__);  /* <root>/tests/unit/test_data.c */
        snprintf(tmp, sizeof tmp, "%s/../..", dirname(file));
    }
    assert_non_null(realpath(tmp, out));
}

static void adult_path(char out[PATH_MAX])
{
    char root[PATH_MAX];
    repo_root(root);
    assert_true(strlen(root) + 32 < PATH_MAX);
    memcpy(out, root, strlen(root));
    strcpy(out + strlen(root), "/examples/data/adult.csv.gz");
}

/* Parses s (NUL-terminated) with opts; expects success. */
static keel_frame *parse_ok(const char *s, const keel_csv_options *opts)
{
    keel_frame *f = NULL;
    keel_err err;
    keel_err_clear(&err);
    int rc = keel_csv_parse("t.csv", s, strlen(s), opts, &f, &err);
    if (rc != KEEL_OK)
        fail_msg("parse failed: %s", err.msg);
    assert_non_null(f);
    return f;
}

/* Parses s with opts; expects code and a message containing want (and want2
 * when not NULL). */
static void parse_fails(const char *s, size_t len, const keel_csv_options *opts, int code,
                        const char *want, const char *want2)
{
    keel_frame *f = NULL;
    keel_err err;
    keel_err_clear(&err);
    int rc = keel_csv_parse("t.csv", s, len, opts, &f, &err);
    if (rc != code || strstr(err.msg, want) == NULL ||
        (want2 != NULL && strstr(err.msg, want2) == NULL))
        fail_msg("want %s containing '%s'%s%s, got %s: '%s'", keel_rc_name(code), want,
                 want2 ? " and " : "", want2 ? want2 : "", keel_rc_name(rc), err.msg);
    assert_null(f);
}

static const char *str_at(const keel_column *c, size_t row)
{
    assert_int_equal(c->type, KEEL_COL_STRING);
    assert_false(keel_column_is_missing(c, row));
    assert_true(c->codes[row] < c->n_dict);
    return c->dict[c->codes[row]];
}

static void assert_frames_equal(const keel_frame *a, const keel_frame *b)
{
    assert_int_equal(a->n_rows, b->n_rows);
    assert_int_equal(a->n_cols, b->n_cols);
    for (size_t c = 0; c < a->n_cols; c++) {
        const keel_column *x = &a->cols[c], *y = &b->cols[c];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->n_missing, y->n_missing);
        for (size_t r = 0; r < a->n_rows; r++) {
            assert_int_equal(keel_column_is_missing(x, r), keel_column_is_missing(y, r));
            if (keel_column_is_missing(x, r))
                continue;
            if (x->type == KEEL_COL_STRING)
                assert_string_equal(str_at(x, r), str_at(y, r));
            else if (x->type == KEEL_COL_FLOAT)
                assert_memory_equal(&x->f64[r], &y->f64[r], sizeof(double));
            else
                assert_int_equal(x->i64[r], y->i64[r]);
        }
    }
}

/* ---- the real dataset ---- */

static void adult_has_its_shape_types_and_values(void **state)
{
    (void)state;
    char path[PATH_MAX];
    adult_path(path);
    keel_frame *f = NULL;
    keel_err err;
    assert_int_equal(keel_csv_read(path, NULL, &f, &err), KEEL_OK);
    assert_int_equal(f->n_rows, 48842);
    assert_int_equal(f->n_cols, 16);

    const keel_column *age = keel_frame_column(f, "age");
    assert_non_null(age);
    assert_int_equal(age->type, KEEL_COL_INT);
    assert_int_equal(age->n_missing, 0);
    assert_null(age->missing);
    assert_int_equal(age->i64[0], 39);
    assert_int_equal(age->i64[48841], 35);

    const keel_column *wc = keel_frame_column(f, "workclass");
    assert_int_equal(wc->type, KEEL_COL_STRING);
    assert_int_equal(wc->n_missing, 2799);
    assert_non_null(wc->missing);
    assert_string_equal(str_at(wc, 0), "State-gov");
    assert_string_equal(str_at(wc, 48841), "Self-emp-inc");
    size_t missing = 0;
    for (size_t r = 0; r < f->n_rows; r++)
        missing += keel_column_is_missing(wc, r);
    assert_int_equal(missing, 2799);
    assert_true(isnan(keel_column_number(wc, 0)));

    assert_int_equal(keel_frame_column(f, "occupation")->n_missing, 2809);
    assert_int_equal(keel_frame_column(f, "native_country")->n_missing, 857);
    assert_int_equal(keel_frame_column(f, "fnlwgt")->i64[0], 77516);
    assert_int_equal(keel_frame_column(f, "hours_per_week")->type, KEEL_COL_INT);

    const keel_column *income = keel_frame_column(f, "income");
    assert_int_equal(income->type, KEEL_COL_STRING);
    assert_int_equal(income->n_dict, 2);
    assert_string_equal(income->dict[0], "<=50K");
    assert_string_equal(income->dict[1], ">50K");
    assert_string_equal(str_at(income, 48841), ">50K");
    const keel_column *split = keel_frame_column(f, "split");
    assert_int_equal(split->n_dict, 2);
    assert_int_equal(keel_frame_column_index(f, "split"), 15);
    assert_int_equal(keel_frame_column_index(f, "nope"), -1);
    assert_null(keel_frame_column(f, "nope"));
    keel_frame_destroy(f);
}

static void gzip_and_plain_give_the_same_frame(void **state)
{
    (void)state;
    char path[PATH_MAX], dir[PATH_MAX], plain[PATH_MAX + 16];
    adult_path(path);
    keel_test_tmpdir(dir);
    snprintf(plain, sizeof plain, "%s/adult.csv", dir);
    assert_int_equal(keel_test_sh("gzip -dc '%s' > '%s'", path, plain), 0);
    keel_frame *a = NULL, *b = NULL;
    keel_err err;
    assert_int_equal(keel_csv_read(path, NULL, &a, &err), KEEL_OK);
    assert_int_equal(keel_csv_read(plain, NULL, &b, &err), KEEL_OK);
    assert_frames_equal(a, b);

    /* The same bytes in memory, gzip-compressed by zlib here (two members). */
    FILE *fp = fopen(plain, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    size_t n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *raw = malloc(n);
    assert_int_equal(fread(raw, 1, n, fp), n);
    fclose(fp);
    size_t cap = compressBound(n) + 64;
    unsigned char *gz = malloc(cap);
    size_t half = n / 2, used = 0;
    for (int m = 0; m < 2; m++) {
        z_stream z;
        memset(&z, 0, sizeof z);
        assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (unsigned char *)raw + (m ? half : 0);
        z.avail_in = (uInt)(m ? n - half : half);
        z.next_out = gz + used;
        z.avail_out = (uInt)(cap - used);
        assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
        used = cap - z.avail_out;
        deflateEnd(&z);
    }
    keel_frame *c = NULL;
    assert_int_equal(keel_csv_parse("mem.csv.gz", (char *)gz, used, NULL, &c, &err), KEEL_OK);
    assert_frames_equal(a, c);
    parse_fails((char *)gz, used / 3, NULL, KEEL_EPARSE, "truncated gzip", NULL);
    free(gz);
    free(raw);
    keel_frame_destroy(a);
    keel_frame_destroy(b);
    keel_frame_destroy(c);
    keel_test_rmrf(dir);
}

/* ---- inference and values ---- */

static void infers_every_type(void **state)
{
    (void)state;
    keel_frame *f = parse_ok("i,f,mixed,b,d,dt,s,big,allna\n"
                             "1,1.5,1,true,1970-01-01,2000-03-01 12:30:15,x,9223372036854775807,\n"
                             "-2,-0.25,2.5,False,2000-03-01,2000-03-01T00:01,y,9223372036854775808,NA\n"
                             "+3,1e3,-7,TRUE,1969-12-31,1970-01-01,x,1,\n",
                             NULL);
    assert_int_equal(f->n_rows, 3);
    const keel_column *c = keel_frame_column(f, "i");
    assert_int_equal(c->type, KEEL_COL_INT);
    assert_int_equal(c->i64[0], 1);
    assert_int_equal(c->i64[1], -2);
    assert_int_equal(c->i64[2], 3);
    c = keel_frame_column(f, "f");
    assert_int_equal(c->type, KEEL_COL_FLOAT);
    assert_true(c->f64[1] == -0.25 && c->f64[2] == 1000.0);
    c = keel_frame_column(f, "mixed");
    assert_int_equal(c->type, KEEL_COL_FLOAT);
    assert_true(c->f64[0] == 1.0 && c->f64[1] == 2.5 && c->f64[2] == -7.0);
    c = keel_frame_column(f, "b");
    assert_int_equal(c->type, KEEL_COL_BOOL);
    assert_int_equal(c->i64[0], 1);
    assert_int_equal(c->i64[1], 0);
    assert_int_equal(c->i64[2], 1);
    c = keel_frame_column(f, "d");
    assert_int_equal(c->type, KEEL_COL_DATE);
    assert_int_equal(c->i64[0], 0);
    assert_int_equal(c->i64[1], 11017);
    assert_int_equal(c->i64[2], -1);
    assert_true(keel_column_number(c, 1) == 11017.0);
    c = keel_frame_column(f, "dt");  /* a bare date among datetimes is midnight */
    assert_int_equal(c->type, KEEL_COL_DATETIME);
    assert_int_equal(c->i64[0], 11017LL * 86400 + 12 * 3600 + 30 * 60 + 15);
    assert_int_equal(c->i64[1], 11017LL * 86400 + 60);
    assert_int_equal(c->i64[2], 0);
    c = keel_frame_column(f, "s");
    assert_int_equal(c->type, KEEL_COL_STRING);
    assert_int_equal(c->n_dict, 2);
    assert_int_equal(c->codes[2], 0);
    c = keel_frame_column(f, "big");  /* past int64: a float column */
    assert_int_equal(c->type, KEEL_COL_FLOAT);
    assert_true(c->f64[1] == 9223372036854775808.0);
    c = keel_frame_column(f, "allna");
    assert_int_equal(c->type, KEEL_COL_STRING);
    assert_int_equal(c->n_missing, 3);
    assert_int_equal(c->n_dict, 0);
    keel_frame_destroy(f);

    /* Invalid calendar dates and times are strings; so are near-misses. */
    f = parse_ok("d,t,n,b\n2021-02-29,2021-01-01 24:00,1.2.3,yes\n", NULL);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(f->cols[i].type, KEEL_COL_STRING);
    keel_frame_destroy(f);
    f = parse_ok("d\n2020-02-29\n1900-03-01\n", NULL);
    assert_int_equal(f->cols[0].type, KEEL_COL_DATE);
    assert_int_equal(f->cols[0].i64[1], -25508);
    keel_frame_destroy(f);
}

static void na_values_and_missing_bitmaps(void **state)
{
    (void)state;
    keel_frame *f = parse_ok("a,b,c\n1,,x\nNA,2.5,\n3,NA,z\n", NULL);
    const keel_column *a = &f->cols[0], *b = &f->cols[1], *c = &f->cols[2];
    assert_int_equal(a->type, KEEL_COL_INT);
    assert_int_equal(a->n_missing, 1);
    assert_true(keel_column_is_missing(a, 1));
    assert_false(keel_column_is_missing(a, 0));
    assert_true(isnan(keel_column_number(a, 1)));
    assert_true(keel_column_number(a, 2) == 3.0);
    assert_int_equal(b->type, KEEL_COL_FLOAT);
    assert_int_equal(b->n_missing, 2);
    assert_true(isnan(b->f64[0]));
    assert_true(b->f64[1] == 2.5);
    assert_int_equal(c->type, KEEL_COL_STRING);
    assert_int_equal(c->n_missing, 1);
    assert_int_equal(c->n_dict, 2);
    keel_frame_destroy(f);

    /* Custom NA list: '?' is missing, "" and "NA" are then plain values. */
    const char *na[] = { "?" };
    keel_csv_options o = { .na_values = na, .n_na_values = 1 };
    f = parse_ok("a,b\n1,\n?,NA\n", &o);
    assert_int_equal(f->cols[0].type, KEEL_COL_INT);
    assert_int_equal(f->cols[0].n_missing, 1);
    assert_int_equal(f->cols[1].type, KEEL_COL_STRING);
    assert_int_equal(f->cols[1].n_missing, 0);
    assert_string_equal(str_at(&f->cols[1], 0), "");
    assert_string_equal(str_at(&f->cols[1], 1), "NA");
    keel_frame_destroy(f);

    /* Header only: 0 rows, columns all-missing strings. */
    f = parse_ok("a,b\n", NULL);
    assert_int_equal(f->n_rows, 0);
    assert_int_equal(f->n_cols, 2);
    assert_int_equal(f->cols[0].type, KEEL_COL_STRING);
    keel_frame_destroy(f);
    f = parse_ok("a,b", NULL);
    assert_int_equal(f->n_rows, 0);
    keel_frame_destroy(f);
}

static void quoting_crlf_bom_and_blank_lines(void **state)
{
    (void)state;
    keel_frame *f = parse_ok("\xEF\xBB\xBF" "name,\"note, with comma\",n\r\n"
                             "\"a,b\",\"say \"\"hi\"\"\",1\r\n"
                             "\r\n"
                             "\"multi\nline\",\"\",\"2\"\r\n"
                             "plain,caf\xC3\xA9 \xF0\x9F\x98\x80,3",
                             NULL);
    assert_int_equal(f->n_rows, 3);
    assert_string_equal(f->cols[0].name, "name");
    assert_string_equal(f->cols[1].name, "note, with comma");
    assert_string_equal(str_at(&f->cols[0], 0), "a,b");
    assert_string_equal(str_at(&f->cols[1], 0), "say \"hi\"");
    assert_string_equal(str_at(&f->cols[0], 1), "multi\nline");
    assert_true(keel_column_is_missing(&f->cols[1], 1));  /* "" is empty, so NA */
    assert_string_equal(str_at(&f->cols[1], 2), "caf\xC3\xA9 \xF0\x9F\x98\x80");
    assert_int_equal(f->cols[2].type, KEEL_COL_INT);       /* "2" quoted is still 2 */
    assert_int_equal(f->cols[2].i64[1], 2);
    keel_frame_destroy(f);

    /* Other delimiters, no header, max_rows, a lone CR as a line end. */
    keel_csv_options o = { .delimiter = ';', .no_header = true, .max_rows = 2 };
    f = parse_ok("1;a,b\r2;c\n3;d\n4;e broken \"", &o);
    assert_int_equal(f->n_rows, 2);
    assert_string_equal(f->cols[0].name, "c0");
    assert_string_equal(f->cols[1].name, "c1");
    assert_int_equal(f->cols[0].i64[1], 2);
    assert_string_equal(str_at(&f->cols[1], 0), "a,b");
    keel_frame_destroy(f);
    keel_csv_options tab = { .delimiter = '\t' };
    f = parse_ok("x\ty\n1\t\"q\"\"\"\n", &tab);
    assert_string_equal(str_at(&f->cols[1], 0), "q\"");
    keel_frame_destroy(f);
}

/* ---- errors ---- */

static void errors_name_file_line_and_column(void **state)
{
    (void)state;
    const char *s;
    s = "a,b,c\n1,2,3\n4,5\n";
    parse_fails(s, strlen(s), NULL, KEEL_EPARSE, "t.csv:3: expected 3 fields, found 2", NULL);
    s = "a,b,c\n1,2,3,4\n";
    parse_fails(s, strlen(s), NULL, KEEL_EPARSE, "t.csv:2: expected 3 fields, found 4", NULL);
    /* A quoted newline advances the line count; blank lines count too. */
    s = "a,b\n\"x\ny\",1\n\n2\n";
    parse_fails(s, strlen(s), NULL, KEEL_EPARSE, "t.csv:5: expected 2 fields, found 1", NULL);
    s = "a,b\n1,\"open\nstill open\n";
    parse_fails(s, strlen(s), NULL, KEEL_EPARSE, "t.csv:2: column 2 ('b'): unterminated quote",
                NULL);
    s = "a,b\n1,\"x\"y\n";
    parse_fails(s, strlen(s), NULL, KEEL_EPARSE, "t.csv:2: column 2 ('b')",
                "after closing quote");
    s = "a,b\n1,ok\n2,ab\xFF\n";
    parse_fails(s, strlen(s), NULL, KEEL_EPARSE, "t.csv:3: column 2 ('b'): invalid UTF-8",
                "byte 5");
    s = "a,b\n\"q\nr\xC0\x80\",1\n";  /* overlong, on the second line of a quoted field */
    parse_fails(s, strlen(s), NULL, KEEL_EPARSE, "t.csv:3: column 1 ('a'): invalid UTF-8",
                "byte 2");
    s = "a\n\xED\xA0\x80\n";  /* a surrogate */
    parse_fails(s, strlen(s), NULL, KEEL_EPARSE, "invalid UTF-8", NULL);
    s = "h\xE2\x82\n1\n";  /* truncated sequence in the header */
    parse_fails(s, strlen(s), NULL, KEEL_EPARSE, "t.csv:1: column 1: invalid UTF-8", NULL);

    keel_csv_options small = { .max_field = 4 };
    s = "a,b\n1,12345\n";
    parse_fails(s, strlen(s), &small, KEEL_ELIMIT, "t.csv:2: column 2 ('b'): field over 4 bytes",
                NULL);
    s = "a,b\n1,\"12\"\"4\"\n";  /* 4 bytes once unescaped: fine */
    keel_frame *f = parse_ok(s, &small);
    assert_string_equal(str_at(&f->cols[1], 0), "12\"4");
    keel_frame_destroy(f);

    size_t n = KEEL_CSV_MAX_COLUMNS + 1;
    char *wide = malloc(n * 8 + 2);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(wide + len, "%sc%zu", i ? "," : "", i);
    wide[len++] = '\n';
    parse_fails(wide, len, NULL, KEEL_ELIMIT, "t.csv:1: more than 4096 columns", NULL);
    /* Exactly the maximum is fine. */
    char *cut = strrchr(wide, ',');
    cut[0] = '\n';
    cut[1] = '\0';
    f = parse_ok(wide, NULL);
    assert_int_equal(f->n_cols, KEEL_CSV_MAX_COLUMNS);
    keel_frame_destroy(f);
    free(wide);

    s = "a,b,a\n1,2,3\n";
    parse_fails(s, strlen(s), NULL, KEEL_EINVAL, "t.csv:1: column 3 ('a'): duplicate column name",
                NULL);
    s = "a,,c\n1,2,3\n";
    parse_fails(s, strlen(s), NULL, KEEL_EINVAL, "t.csv:1: column 2: empty column name", NULL);
    parse_fails("", 0, NULL, KEEL_EPARSE, "no header", NULL);
    parse_fails("\xEF\xBB\xBF\r\n\n", 6, NULL, KEEL_EPARSE, "t.csv: empty file (no header)", NULL);
    keel_csv_options q = { .delimiter = '"' };
    parse_fails("a\n", 2, &q, KEEL_EINVAL, "delimiter", NULL);

    keel_frame *g = NULL;
    keel_err err;
    assert_int_equal(keel_csv_read("/nonexistent/x.csv", NULL, &g, &err), KEEL_EIO);
    assert_non_null(strstr(err.msg, "/nonexistent/x.csv"));
    assert_null(g);
}

static void overrides_force_types_and_report_misfits(void **state)
{
    (void)state;
    keel_csv_type_override ov[] = {
        { "zip", KEEL_COL_STRING },
        { "score", KEEL_COL_FLOAT },
        { "when", KEEL_COL_DATETIME },
    };
    keel_csv_options o = { .overrides = ov, .n_overrides = 3 };
    keel_frame *f = parse_ok("zip,score,when\n00501,3,2020-01-02\n10001,,2020-01-02 03:04\n", &o);
    assert_int_equal(f->cols[0].type, KEEL_COL_STRING);
    assert_string_equal(str_at(&f->cols[0], 0), "00501");
    assert_int_equal(f->cols[1].type, KEEL_COL_FLOAT);
    assert_true(f->cols[1].f64[0] == 3.0);
    assert_int_equal(f->cols[1].n_missing, 1);
    assert_int_equal(f->cols[2].type, KEEL_COL_DATETIME);
    assert_int_equal(f->cols[2].i64[0], 18263LL * 86400);
    keel_frame_destroy(f);

    keel_csv_type_override bad[] = { { "age", KEEL_COL_INT } };
    keel_csv_options ob = { .overrides = bad, .n_overrides = 1 };
    const char *s = "name,age\nann,31\nbob,thirty\n";
    parse_fails(s, strlen(s), &ob, KEEL_EINVAL, "t.csv:3: column 2 ('age')",
                "value 'thirty' does not fit type int");
    keel_csv_type_override none[] = { { "ghost", KEEL_COL_INT } };
    keel_csv_options on = { .overrides = none, .n_overrides = 1 };
    parse_fails(s, strlen(s), &on, KEEL_EINVAL, "override names no column 'ghost'", NULL);
    keel_csv_type_override b[] = { { "flag", KEEL_COL_BOOL } };
    keel_csv_options obool = { .overrides = b, .n_overrides = 1 };
    s = "flag\ntrue\n1\n";
    parse_fails(s, strlen(s), &obool, KEEL_EINVAL, "t.csv:3: column 1 ('flag')", "'1'");
}

/* ---- numbers ---- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void floats_equal_strtod_bit_for_bit(void **state)
{
    (void)state;
    static const char *const edge[] = {
        "0", "-0", "0.0", "-0.0", "+0", "1", "-1", "0.1", "0.2", "0.3", "1e22", "1e23",
        "9007199254740992", "9007199254740993", "9007199254740991.5", "18446744073709551615",
        "18446744073709551616", "123456789012345678901234567890", "1.7976931348623157e308",
        "1.7976931348623159e308", "1e309", "-1e309", "2.2250738585072014e-308",
        "2.2250738585072011e-308", "4.9406564584124654e-324", "2.4703282292062327e-324",
        "2.4703282292062328e-324", "1e-400", "0.000000000000000000000000000001",
        "3.14159265358979323846264338327950288", ".5", "5.", "-.5e-3", "+5.E+2", "1E0",
        "0.1e-22", "1e-22", "123456789e-22", "4503599627370496.5", "4503599627370497.5",
        "2.5e-5", "7.038531e-26", "1448997445238699", "0.30000000000000004",
        "00000000000000000000001.5", "1.00000000000000000000000000000000000001",
        "179769313486231570000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000",
        "inf", "-Infinity", "NaN",
    };
    size_t n_edge = sizeof edge / sizeof edge[0];
    size_t n_rand = 100000;
    size_t total = n_edge + n_rand;
    char **vals = calloc(total, sizeof *vals);
    uint64_t seed = 0x243F6A8885A308D3ull;
    for (size_t i = 0; i < n_edge; i++)
        vals[i] = strdup(edge[i]);
    for (size_t i = 0; i < n_rand; i++) {
        char buf[96];
        uint64_t r = rng_next(&seed);
        switch (r % 5) {
        case 0: {  /* a double printed exactly enough to round-trip */
            double d;
            uint64_t bits = rng_next(&seed);
            memcpy(&d, &bits, sizeof d);
            if (!isfinite(d))
                d = 1.5;
            snprintf(buf, sizeof buf, "%.17g", d);
            break;
        }
        case 1:  /* plain decimals like a sensor writes */
            snprintf(buf, sizeof buf, "%s%llu.%0*llu", (r >> 8) & 1 ? "-" : "",
                     (unsigned long long)(rng_next(&seed) % 100000), (int)((r >> 9) % 6 + 1),
                     (unsigned long long)(rng_next(&seed) % 1000000) % 1000000);
            break;
        case 2: {  /* random digit strings with a random point and exponent */
            int nd = (int)(rng_next(&seed) % 25) + 1, o = 0;
            for (int k = 0; k < nd; k++)
                buf[o++] = (char)('0' + rng_next(&seed) % 10);
            buf[o] = '\0';
            int dot = (int)(rng_next(&seed) % (uint64_t)(nd + 1));
            memmove(buf + dot + 1, buf + dot, (size_t)(nd - dot + 1));
            buf[dot] = '.';
            o = nd + 1;
            if (r & 64)
                snprintf(buf + o, sizeof buf - (size_t)o, "e%d", (int)(rng_next(&seed) % 700) - 350);
            if (strcmp(buf, ".") == 0)
                strcpy(buf, "0.");
            break;
        }
        case 3:  /* short %.Ng renderings, the common case in CSV files */
            snprintf(buf, sizeof buf, "%.*g", (int)(r >> 8) % 15 + 1,
                     (double)(rng_next(&seed) % 2000000) / 1000.0 - 1000.0);
            break;
        default:  /* near the fast path's edges: 15-17 digits, exponents near +-22 */
            snprintf(buf, sizeof buf, "%llue%d",
                     (unsigned long long)(rng_next(&seed) % 20000000000000000ull),
                     (int)(rng_next(&seed) % 60) - 30);
            break;
        }
        vals[n_edge + i] = strdup(buf);
    }
    size_t cap = 16, len = 0;
    for (size_t i = 0; i < total; i++)
        cap += strlen(vals[i]) + 1;
    char *csv = malloc(cap);
    len += (size_t)sprintf(csv, "x\n");
    for (size_t i = 0; i < total; i++)
        len += (size_t)sprintf(csv + len, "%s\n", vals[i]);
    keel_frame *f = NULL;
    keel_err err;
    assert_int_equal(keel_csv_parse("floats.csv", csv, len, NULL, &f, &err), KEEL_OK);
    assert_int_equal(f->n_rows, total);
    assert_int_equal(f->cols[0].type, KEEL_COL_FLOAT);
    size_t mismatches = 0;
    for (size_t i = 0; i < total; i++) {
        double want = strtod(vals[i], NULL), got = f->cols[0].f64[i];
        if (isnan(want) ? !isnan(got) : memcmp(&want, &got, sizeof want) != 0) {
            if (mismatches++ < 5)
                print_error("mismatch on '%s': strtod %.17g, keel %.17g\n", vals[i], want, got);
        }
    }
    assert_int_equal(mismatches, 0);
    keel_frame_destroy(f);
    free(csv);
    for (size_t i = 0; i < total; i++)
        free(vals[i]);
    free(vals);

    /* Not numbers: the column stays a string. */
    static const char *const not_num[] = { "1e", "e5", ".", "-", "+.", "0x10", " 1", "1 ",
                                           "1,5", "1e+", "infinit", "nan(1)", "--1" };
    for (size_t i = 0; i < sizeof not_num / sizeof not_num[0]; i++) {
        char doc[64];
        snprintf(doc, sizeof doc, "x\n\"%s\"\n", not_num[i]);
        f = parse_ok(doc, NULL);
        if (f->cols[0].type != KEEL_COL_STRING)
            fail_msg("'%s' read as %s", not_num[i], keel_col_type_name(f->cols[0].type));
        keel_frame_destroy(f);
    }
    f = parse_ok("i\n-9223372036854775808\n9223372036854775807\n", NULL);
    assert_int_equal(f->cols[0].type, KEEL_COL_INT);
    assert_true(f->cols[0].i64[0] == INT64_MIN);
    assert_true(f->cols[0].i64[1] == INT64_MAX);
    keel_frame_destroy(f);
}

/* ---- two threads ---- */

/* A CSV over the two-thread threshold: ints, strings whose distinct values
 * keep appearing in the second half, floats with missing values, quoted
 * fields with newlines; bad_row > 0 puts a broken row (kind 'r' ragged,
 * 'o' a misfit for an int override) there. *out_bad_line is its line. */
static char *big_csv(size_t rows, size_t bad_row, char kind, size_t quoted_blob_at,
                     size_t *out_len, size_t *out_bad_line)
{
    size_t cap = rows * 64 + 200000, len = 0, line = 1;
    char *b = malloc(cap);
    len += (size_t)sprintf(b, "id,s,x,q\n");
    for (size_t i = 0; i < rows; i++) {
        line++;
        if (i == bad_row && bad_row > 0) {
            *out_bad_line = line;
            len += (size_t)sprintf(b + len, kind == 'r' ? "%zu,ragged\n" : "x%zu,a,1,b\n", i);
            continue;
        }
        if (i == quoted_blob_at && quoted_blob_at > 0) {
            /* One field of many short lines, each looking like a row. */
            len += (size_t)sprintf(b + len, "%zu,blob,1,\"", i);
            for (int k = 0; k < 20000; k++)
                len += (size_t)sprintf(b + len, "%d,v,2,w\n", k);
            line += 20000;
            len += (size_t)sprintf(b + len, "\"\n");
            continue;
        }
        if (i % 997 == 0) {
            len += (size_t)sprintf(b + len, "%zu,v%zu,,\"two\nlines, \"\"q\"\"\"\n", i, i / 5000);
            line++;
        } else if (i % 7 == 0) {
            len += (size_t)sprintf(b + len, "%zu,v%zu,NA,p%zu\n", i, i / 5000, i % 3);
        } else {
            len += (size_t)sprintf(b + len, "%zu,v%zu,%zu.%zu,p%zu\n", i, i / 5000, i % 1000,
                                   i % 10, i % 3);
        }
    }
    assert_true(len < cap);
    *out_len = len;
    return b;
}

/* The reader converts as it reads and widens a column's type when a later
 * value needs it: the result must be what inferring over all rows first
 * gives. */
static void types_widen_midway_with_the_same_result(void **state)
{
    (void)state;
    keel_frame *f = parse_ok("i2f,negz,late_s,d2dt,na_then_f\n"
                             "1,1,1,2020-01-01,NA\n"
                             "2,-0,2,2020-01-02,\n"
                             "3,2.5,x,2020-01-03 06:00,1.5\n"
                             "1.25,3,2,2020-01-04,2\n",
                             NULL);
    assert_int_equal(f->n_rows, 4);
    const keel_column *c = &f->cols[0];
    assert_int_equal(c->type, KEEL_COL_FLOAT);
    assert_true(c->f64[0] == 1.0 && c->f64[2] == 3.0 && c->f64[3] == 1.25);
    c = &f->cols[1];  /* "-0" read as an int first, then a float: -0.0 */
    assert_int_equal(c->type, KEEL_COL_FLOAT);
    assert_true(c->f64[1] == 0.0 && signbit(c->f64[1]));
    assert_true(c->f64[2] == 2.5 && c->f64[3] == 3.0);
    c = &f->cols[2];  /* strings in order of first appearance, from row 0 */
    assert_int_equal(c->n_dict, 3);
    assert_string_equal(str_at(c, 0), "1");
    assert_string_equal(str_at(c, 2), "x");
    assert_int_equal(c->codes[3], c->codes[1]);
    c = &f->cols[3];
    assert_int_equal(c->type, KEEL_COL_DATETIME);
    assert_int_equal(c->i64[0], 18262LL * 86400);
    assert_int_equal(c->i64[2], 18264LL * 86400 + 6 * 3600);
    c = &f->cols[4];
    assert_int_equal(c->type, KEEL_COL_FLOAT);
    assert_int_equal(c->n_missing, 2);
    assert_true(isnan(c->f64[0]) && isnan(c->f64[1]) && c->f64[3] == 2.0);
    keel_frame_destroy(f);

    /* A misfit of an overridden type loses to a later row that does not
     * parse, as when inference read every row before converting. */
    keel_csv_type_override ov[] = { { "a", KEEL_COL_INT } };
    keel_csv_options o = { .overrides = ov, .n_overrides = 1 };
    const char *s = "a,b\nx,1\n1\n";
    parse_fails(s, strlen(s), &o, KEEL_EPARSE, "t.csv:3:", "expected 2 fields, found 1");
}

static void two_threads_match_one_thread(void **state)
{
    (void)state;
    keel_csv_options one = { .max_rows = SIZE_MAX };  /* max_rows keeps it to one thread */
    for (int variant = 0; variant < 2; variant++) {
        size_t len = 0, bad = 0;
        /* variant 1: a quoted field spans the middle, so the split guess is
         * inside quotes and must be detected and abandoned. */
        char *csv = big_csv(40000, 0, 0, variant ? 20000 : 0, &len, &bad);
        assert_true(len > 300000);
        keel_frame *a = NULL, *b = NULL;
        keel_err err;
        assert_int_equal(keel_csv_parse("big.csv", csv, len, NULL, &a, &err), KEEL_OK);
        assert_int_equal(keel_csv_parse("big.csv", csv, len, &one, &b, &err), KEEL_OK);
        assert_int_equal(a->n_rows, 40000);
        assert_frames_equal(a, b);
        const keel_column *sc = keel_frame_column(a, "s");
        assert_int_equal(sc->n_dict, variant ? 9 : 8);
        assert_string_equal(sc->dict[0], "v0");
        assert_string_equal(sc->dict[sc->n_dict - 1], "v7");
        if (variant)
            assert_string_equal(sc->dict[4], "blob");
        assert_string_equal(str_at(sc, 39999), "v7");
        const keel_column *x = keel_frame_column(a, "x");
        assert_int_equal(x->type, KEEL_COL_FLOAT);
        size_t want_missing = 0;
        for (size_t i = 0; i < 40000; i++)
            want_missing += (i % 997 == 0 || i % 7 == 0) && !(variant && i == 20000);
        assert_int_equal(x->n_missing, want_missing);
        assert_true(keel_column_is_missing(x, 39991));  /* 39991 = 7 * 5713 */
        assert_false(keel_column_is_missing(x, 39992));
        assert_string_equal(str_at(keel_frame_column(a, "q"), 997), "two\nlines, \"q\"");
        assert_int_equal(keel_frame_column(a, "id")->i64[39999], 39999);
        keel_frame_destroy(a);
        keel_frame_destroy(b);
        free(csv);
    }

    /* Errors in the second half still name their exact line. */
    size_t len = 0, bad_line = 0;
    char *csv = big_csv(40000, 31234, 'r', 0, &len, &bad_line);
    char want[64];
    snprintf(want, sizeof want, "big.csv:%zu: expected 4 fields, found 2", bad_line);
    keel_frame *f = NULL;
    keel_err err;
    assert_int_equal(keel_csv_parse("big.csv", csv, len, NULL, &f, &err), KEEL_EPARSE);
    if (strstr(err.msg, want) == NULL)
        fail_msg("want '%s', got '%s'", want, err.msg);
    free(csv);
    csv = big_csv(40000, 35000, 'o', 0, &len, &bad_line);
    keel_csv_type_override ov[] = { { "id", KEEL_COL_INT } };
    keel_csv_options o = { .overrides = ov, .n_overrides = 1 };
    snprintf(want, sizeof want, "big.csv:%zu: column 1 ('id'): value 'x35000'", bad_line);
    assert_int_equal(keel_csv_parse("big.csv", csv, len, &o, &f, &err), KEEL_EINVAL);
    if (strstr(err.msg, want) == NULL)
        fail_msg("want '%s', got '%s'", want, err.msg);
    free(csv);
}

/* ---- frames ---- */

static void take_selects_rows_and_keeps_dictionaries(void **state)
{
    (void)state;
    keel_frame *f = parse_ok("s,i,x\na,1,0.5\n,2,\nb,3,1.5\na,,2.5\n", NULL);
    size_t rows[] = { 3, 1, 3 };
    keel_frame *t = NULL;
    keel_err err;
    assert_int_equal(keel_frame_take(f, rows, 3, &t, &err), KEEL_OK);
    assert_int_equal(t->n_rows, 3);
    assert_int_equal(t->n_cols, 3);
    const keel_column *s = &t->cols[0], *i = &t->cols[1], *x = &t->cols[2];
    assert_string_equal(str_at(s, 0), "a");
    assert_true(keel_column_is_missing(s, 1));
    assert_int_equal(s->n_missing, 1);
    assert_int_equal(s->n_dict, 2);
    assert_int_equal(i->n_missing, 2);
    assert_true(keel_column_is_missing(i, 0) && keel_column_is_missing(i, 2));
    assert_true(keel_column_number(i, 1) == 2.0);
    assert_int_equal(x->n_missing, 1);
    assert_true(keel_column_number(x, 0) == 2.5);
    keel_frame_destroy(t);

    size_t none_missing[] = { 0, 2 };
    assert_int_equal(keel_frame_take(f, none_missing, 2, &t, &err), KEEL_OK);
    assert_null(t->cols[0].missing);
    assert_int_equal(t->cols[0].n_missing, 0);
    keel_frame_destroy(t);
    assert_int_equal(keel_frame_take(f, NULL, 0, &t, &err), KEEL_OK);
    assert_int_equal(t->n_rows, 0);
    keel_frame_destroy(t);
    size_t bad[] = { 4 };
    assert_int_equal(keel_frame_take(f, bad, 1, &t, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "row 4 out of range"));
    assert_null(t);
    keel_frame_destroy(f);
}

static void type_names_round_trip(void **state)
{
    (void)state;
    enum keel_col_type t;
    keel_err err;
    for (int i = KEEL_COL_INT; i <= KEEL_COL_STRING; i++) {
        const char *name = keel_col_type_name((enum keel_col_type)i);
        assert_int_equal(keel_col_type_parse(name, &t, &err), KEEL_OK);
        assert_int_equal(t, i);
    }
    assert_string_equal(keel_col_type_name(KEEL_COL_DATETIME), "datetime");
    assert_int_equal(keel_col_type_parse("str", &t, &err), KEEL_OK);
    assert_int_equal(t, KEEL_COL_STRING);
    assert_int_equal(keel_col_type_parse("decimal", &t, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "'decimal'"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adult_has_its_shape_types_and_values),
        cmocka_unit_test(gzip_and_plain_give_the_same_frame),
        cmocka_unit_test(infers_every_type),
        cmocka_unit_test(na_values_and_missing_bitmaps),
        cmocka_unit_test(quoting_crlf_bom_and_blank_lines),
        cmocka_unit_test(errors_name_file_line_and_column),
        cmocka_unit_test(overrides_force_types_and_report_misfits),
        cmocka_unit_test(floats_equal_strtod_bit_for_bit),
        cmocka_unit_test(types_widen_midway_with_the_same_result),
        cmocka_unit_test(two_threads_match_one_thread),
        cmocka_unit_test(take_selects_rows_and_keeps_dictionaries),
        cmocka_unit_test(type_names_round_trip),
    };
    return keel_test_main(argc, argv, "data", tests);
}
