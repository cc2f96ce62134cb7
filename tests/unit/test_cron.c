/*
 * test_cron.c — cron expressions: syntax, names, Vixie day semantics,
 * next-fire times across month ends, leap years and year ends, macros, and
 * every parse error's message.
 *
 * Expected timestamps were computed independently with GNU date, e.g.
 * `date -u -d '2028-02-29 00:00 UTC' +%s`; each carries its date in a comment.
 */
#include "testutil.h"

#include "pipeline/cron.h"

#include <keel/error.h>

#include <string.h>

#define T_2025_01_01_0000 INT64_C(1735689600)   /* Wed 2025-01-01 00:00:00 UTC */

static keel_cron parse_ok(const char *expr)
{
    keel_cron c;
    keel_err err;
    keel_err_clear(&err);
    int rc = keel_cron_parse(expr, &c, &err);
    if (rc != KEEL_OK)
        fail_msg("keel_cron_parse(\"%s\"): %s", expr, err.msg);
    return c;
}

static int64_t next_of(const char *expr, int64_t after)
{
    keel_cron c = parse_ok(expr);
    return keel_cron_next(&c, after);
}

static bool cron_equal(keel_cron a, keel_cron b)
{
    return a.minutes == b.minutes && a.hours == b.hours && a.mdays == b.mdays &&
           a.months == b.months && a.wdays == b.wdays && a.mday_star == b.mday_star &&
           a.wday_star == b.wday_star;
}

static uint64_t bits(const int *values, size_t n)
{
    uint64_t b = 0;
    for (size_t i = 0; i < n; i++)
        b |= UINT64_C(1) << values[i];
    return b;
}

/* BITS(1, 2, 30): the bitset of those values. */
#define BITS(...) \
    bits((const int[]){ __VA_ARGS__ }, sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int))

static void every_syntax_form_sets_the_right_bits(void **state)
{
    (void)state;
    keel_cron c = parse_ok("* * * * *");
    assert_int_equal(c.minutes, (UINT64_C(1) << 60) - 1);
    assert_int_equal(c.hours, (UINT32_C(1) << 24) - 1);
    assert_int_equal(c.mdays, UINT32_C(0xFFFFFFFE));        /* 1-31 */
    assert_int_equal(c.months, 0x1FFE);                     /* 1-12 */
    assert_int_equal(c.wdays, 0x7F);                        /* 0-6 */
    assert_true(c.mday_star);
    assert_true(c.wday_star);

    assert_int_equal(parse_ok("5 * * * *").minutes, BITS(5));
    assert_int_equal(parse_ok("1,2,30 * * * *").minutes, BITS(1, 2, 30));
    assert_int_equal(parse_ok("10-12 * * * *").minutes, BITS(10, 11, 12));
    assert_int_equal(parse_ok("*/15 * * * *").minutes, BITS(0, 15, 30, 45));
    assert_int_equal(parse_ok("10-30/10 * * * *").minutes, BITS(10, 20, 30));
    assert_int_equal(parse_ok("50/3 * * * *").minutes, BITS(50, 53, 56, 59));
    assert_int_equal(parse_ok("0-4/2,*/20,59 * * * *").minutes, BITS(0, 2, 4, 20, 40, 59));
    assert_int_equal(parse_ok("*/60 * * * *").minutes, BITS(0));
    assert_int_equal(parse_ok("* */7 * * *").hours, BITS(0, 7, 14, 21));
    assert_int_equal(parse_ok("* 23 * * *").hours, BITS(23));
    assert_int_equal(parse_ok("* * 1,15,31 * *").mdays, BITS(1, 15, 31));
    assert_int_equal(parse_ok("* * */10 * *").mdays, BITS(1, 11, 21, 31));
    assert_int_equal(parse_ok("* * * */3 *").months, BITS(1, 4, 7, 10));
    /* Tabs, newlines and extra blanks between and around fields. */
    assert_int_equal(parse_ok("  7\t*  * *\t* \n").minutes, BITS(7));
}

static void names_are_case_insensitive_and_mix_with_numbers(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("* * * JAN-MAR,dec *").months, BITS(1, 2, 3, 12));
    assert_int_equal(parse_ok("* * * jan/4 *").months, BITS(1, 5, 9));
    assert_int_equal(parse_ok("* * * Feb-6 *").months, BITS(2, 3, 4, 5, 6));
    assert_int_equal(parse_ok("* * * * MON-FRI").wdays, BITS(1, 2, 3, 4, 5));
    assert_int_equal(parse_ok("* * * * sun,Sat").wdays, BITS(0, 6));
    assert_int_equal(parse_ok("* * * * tue-4").wdays, BITS(2, 3, 4));
    assert_int_equal(parse_ok("* * * * */2").wdays, BITS(0, 2, 4, 6));
    assert_int_equal(parse_ok("* * * * THU/2").wdays, BITS(4, 6));
    /* A range ending in the name SUN runs to the end of the week. */
    assert_int_equal(parse_ok("* * * * FRI-SUN").wdays, BITS(0, 5, 6));
    assert_int_equal(parse_ok("* * * * sat-sun").wdays, BITS(0, 6));
    assert_int_equal(parse_ok("* * * * SUN-SUN").wdays, BITS(0));
}

static void weekday_7_is_sunday(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("* * * * 7").wdays, BITS(0));
    assert_int_equal(parse_ok("* * * * 5-7").wdays, BITS(0, 5, 6));
    assert_int_equal(parse_ok("* * * * 0-7").wdays, 0x7F);
    assert_int_equal(parse_ok("* * * * 7/2").wdays, BITS(0));
    /* All three spellings of Sunday fire on Sun 2025-01-05 00:00 (1736035200). */
    assert_int_equal(next_of("0 0 * * 7", T_2025_01_01_0000), INT64_C(1736035200));
    assert_int_equal(next_of("0 0 * * 0", T_2025_01_01_0000), INT64_C(1736035200));
    assert_int_equal(next_of("0 0 * * SUN", T_2025_01_01_0000), INT64_C(1736035200));
}

static void day_fields_or_when_both_restricted(void **state)
{
    (void)state;
    keel_cron c = parse_ok("0 0 13 * FRI");
    assert_false(c.mday_star);
    assert_false(c.wday_star);
    /* Fri 2025-01-03 00:00 */
    assert_int_equal(keel_cron_next(&c, T_2025_01_01_0000), INT64_C(1735862400));
    /* after Fri 2025-01-10 00:00 (1736467200) → Mon 2025-01-13 00:00, the 13th */
    assert_int_equal(keel_cron_next(&c, INT64_C(1736467200)), INT64_C(1736726400));
    /* after Mon 2025-01-13 00:00 → Fri 2025-01-17 00:00 */
    assert_int_equal(keel_cron_next(&c, INT64_C(1736726400)), INT64_C(1737072000));

    /* Only one restricted: the 13th alone, then Fridays alone. */
    assert_int_equal(next_of("0 0 13 * *", T_2025_01_01_0000), INT64_C(1736726400));
    assert_int_equal(next_of("0 0 * * FRI", T_2025_01_01_0000), INT64_C(1735862400));

    /* A field starting with `*` is unrestricted even with a step (Vixie):
     * odd days AND Mondays → Mon 2025-01-13 00:00, not Fri 2025-01-03. */
    c = parse_ok("0 0 */2 * MON");
    assert_true(c.mday_star);
    assert_false(c.wday_star);
    assert_int_equal(keel_cron_next(&c, T_2025_01_01_0000), INT64_C(1736726400));
    /* A full range is still a restriction: 1-31 OR Monday = every day. */
    assert_false(parse_ok("0 0 1-31 * MON").mday_star);
    /* Thu 2025-01-02 00:00 (1735776000) */
    assert_int_equal(next_of("0 0 1-31 * MON", T_2025_01_01_0000), INT64_C(1735776000));
}

static void next_is_strictly_after_and_rounds_to_minutes(void **state)
{
    (void)state;
    /* 2025-01-01 00:01:00 */
    assert_int_equal(next_of("* * * * *", T_2025_01_01_0000), INT64_C(1735689660));
    assert_int_equal(next_of("* * * * *", T_2025_01_01_0000 + 30), INT64_C(1735689660));
    /* after 2024-12-31 23:59:59 (1735689599) → 2025-01-01 00:00:00 */
    assert_int_equal(next_of("* * * * *", INT64_C(1735689599)), T_2025_01_01_0000);
    /* A fire time is never returned for itself: @yearly at its own instant
     * moves on to 2026-01-01 00:00 (1767225600). */
    assert_int_equal(next_of("0 0 1 1 *", T_2025_01_01_0000), INT64_C(1767225600));
    /* after 2025-01-01 00:14:59 (1735690499) → 00:15:00 (1735690500) */
    assert_int_equal(next_of("*/15 * * * *", INT64_C(1735690499)), INT64_C(1735690500));
    /* after 00:15:00 itself → 00:30:00 */
    assert_int_equal(next_of("*/15 * * * *", INT64_C(1735690500)), INT64_C(1735690500) + 900);
    /* after 2025-01-01 18:05 (1735754700) → Thu 2025-01-02 00:05 (1735776300) */
    assert_int_equal(next_of("5 */6 * * *", INT64_C(1735754700)), INT64_C(1735776300));
    /* after Fri 2025-01-03 10:00 (1735898400) → Mon 2025-01-06 09:30 (1736155800) */
    assert_int_equal(next_of("30 9 * * MON-FRI", INT64_C(1735898400)), INT64_C(1736155800));
    /* Before the epoch: after 1969-12-31 23:58:30 → 23:59:00 (-60), and the
     * midnight after -1 is the epoch itself. */
    assert_int_equal(next_of("* * * * *", -90), -60);
    assert_int_equal(next_of("0 0 * * *", -1), 0);
}

static void month_ends_and_leap_years(void **state)
{
    (void)state;
    /* after 2025-01-31 00:00 (1738281600) → 2025-03-31 00:00 (1743379200), skipping February */
    assert_int_equal(next_of("0 0 31 * *", INT64_C(1738281600)), INT64_C(1743379200));
    /* after 2025-03-31 → 2025-05-31 00:00 (1748649600), skipping April */
    assert_int_equal(next_of("0 0 31 * *", INT64_C(1743379200)), INT64_C(1748649600));
    /* from 2025 → Tue 2028-02-29 00:00 */
    assert_int_equal(next_of("0 0 29 2 *", T_2025_01_01_0000), INT64_C(1835395200));
    /* after 2028-02-29 → Sun 2032-02-29 00:00 */
    assert_int_equal(next_of("0 0 29 2 *", INT64_C(1835395200)), INT64_C(1961625600));
    /* from 2096-03-01 (3981398400) the next Feb 29 is 2104 (2100 is not a
     * leap year), past the 5-year horizon. */
    assert_int_equal(next_of("0 0 29 2 *", INT64_C(3981398400)), -1);
    /* Never: Feb 30, Apr 31. */
    assert_int_equal(next_of("0 0 30 2 *", T_2025_01_01_0000), -1);
    assert_int_equal(next_of("0 0 31 APR *", T_2025_01_01_0000), -1);
    /* ...unless the weekday field ORs other days in: in February, the 30th
     * OR a Sunday → Sun 2025-02-02 00:00. */
    assert_int_equal(next_of("0 0 30 2 SUN", T_2025_01_01_0000), INT64_C(1738454400));
}

static void year_rollover(void **state)
{
    (void)state;
    /* after 2025-12-31 23:59 (1767225540) → 2026-01-01 00:00 (1767225600) */
    assert_int_equal(next_of("0 0 1 1 *", INT64_C(1767225540)), INT64_C(1767225600));
    /* after 2025-12-31 23:59:30 (1767225570) → 2026-01-01 00:00 */
    assert_int_equal(next_of("* * * * *", INT64_C(1767225570)), INT64_C(1767225600));
    /* after 2025-12-31 23:59 itself → 2026-12-31 23:59 (1798761540) */
    assert_int_equal(next_of("59 23 31 12 *", INT64_C(1767225540)), INT64_C(1798761540));
    /* after 2025-09-01 00:00 (1756684800) → 2026-06-01 12:00 (1780315200) */
    assert_int_equal(next_of("0 12 * JUN-AUG *", INT64_C(1756684800)), INT64_C(1780315200));
}

static void macros_expand(void **state)
{
    (void)state;
    const int64_t after = INT64_C(1742034000);   /* Sat 2025-03-15 10:20 */
    const struct {
        const char *expr;
        int64_t next;
    } cases[] = {
        { "@yearly",     INT64_C(1767225600) },  /* 2026-01-01 00:00 */
        { "@annually",   INT64_C(1767225600) },
        { "@monthly",    INT64_C(1743465600) },  /* 2025-04-01 00:00 */
        { "@weekly",     INT64_C(1742083200) },  /* Sun 2025-03-16 00:00 */
        { "@daily",      INT64_C(1742083200) },  /* 2025-03-16 00:00 */
        { "@midnight",   INT64_C(1742083200) },
        { "@hourly",     INT64_C(1742036400) },  /* 2025-03-15 11:00 */
        { "  @HOURLY\t", INT64_C(1742036400) },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t got = next_of(cases[i].expr, after);
        if (got != cases[i].next)
            fail_msg("%s: next %lld, want %lld", cases[i].expr, (long long)got,
                     (long long)cases[i].next);
    }
    assert_true(cron_equal(parse_ok("@weekly"), parse_ok("0 0 * * 0")));
    assert_true(cron_equal(parse_ok("@yearly"), parse_ok("0 0 1 1 *")));
    assert_false(cron_equal(parse_ok("@daily"), parse_ok("@hourly")));
}

static void errors_name_the_field_and_token(void **state)
{
    (void)state;
    const struct {
        const char *expr;
        int code;
        const char *msg;
    } cases[] = {
        { "61 * * * *", KEEL_EPARSE, "cron \"61 * * * *\": minute field: 61 is out of range 0-59" },
        { "* 24 * * *", KEEL_EPARSE, "cron \"* 24 * * *\": hour field: 24 is out of range 0-23" },
        { "* * 0 * *", KEEL_EPARSE,
          "cron \"* * 0 * *\": day-of-month field: 0 is out of range 1-31" },
        { "* * 32 * *", KEEL_EPARSE,
          "cron \"* * 32 * *\": day-of-month field: 32 is out of range 1-31" },
        { "* * * 13 *", KEEL_EPARSE, "cron \"* * * 13 *\": month field: 13 is out of range 1-12" },
        { "* * * * 8", KEEL_EPARSE,
          "cron \"* * * * 8\": day-of-week field: 8 is out of range 0-7" },
        { "99999999999 * * * *", KEEL_EPARSE,
          "cron \"99999999999 * * * *\": minute field: 99999999999 is out of range 0-59" },
        { "* * * *", KEEL_EPARSE,
          "cron \"* * * *\": expected 5 fields (minute hour day-of-month month "
          "day-of-week), got 4" },
        { "* * * * * *", KEEL_EPARSE,
          "cron \"* * * * * *\": expected 5 fields (minute hour day-of-month month "
          "day-of-week), got 6" },
        { "", KEEL_EPARSE,
          "cron \"\": expected 5 fields (minute hour day-of-month month day-of-week), got 0" },
        { "1,,2 * * * *", KEEL_EPARSE,
          "cron \"1,,2 * * * *\": minute field: empty list item in \"1,,2\"" },
        { "* * * * MON,", KEEL_EPARSE,
          "cron \"* * * * MON,\": day-of-week field: empty list item in \"MON,\"" },
        { "* ,3 * * *", KEEL_EPARSE, "cron \"* ,3 * * *\": hour field: empty list item in \",3\"" },
        { "*/0 * * * *", KEEL_EPARSE,
          "cron \"*/0 * * * *\": minute field: step 0 in \"*/0\" is out of range 1-60" },
        { "* * * 1-12/13 *", KEEL_EPARSE,
          "cron \"* * * 1-12/13 *\": month field: step 13 in \"1-12/13\" is out of range 1-12" },
        { "*/ * * * *", KEEL_EPARSE,
          "cron \"*/ * * * *\": minute field: expected a step after \"/\" in \"*/\"" },
        { "5-2 * * * *", KEEL_EPARSE,
          "cron \"5-2 * * * *\": minute field: range \"5-2\" is reversed (5 > 2)" },
        { "* * * * FRI-MON", KEEL_EPARSE,
          "cron \"* * * * FRI-MON\": day-of-week field: range \"FRI-MON\" is reversed (5 > 1)" },
        { "5x * * * *", KEEL_EPARSE,
          "cron \"5x * * * *\": minute field: unexpected \"x\" in \"5x\"" },
        { "*/5x * * * *", KEEL_EPARSE,
          "cron \"*/5x * * * *\": minute field: unexpected \"x\" in \"*/5x\"" },
        { "1-2-3 * * * *", KEEL_EPARSE,
          "cron \"1-2-3 * * * *\": minute field: unexpected \"-3\" in \"1-2-3\"" },
        { "*-5 * * * *", KEEL_EPARSE,
          "cron \"*-5 * * * *\": minute field: unexpected \"-5\" in \"*-5\"" },
        { "1- * * * *", KEEL_EPARSE,
          "cron \"1- * * * *\": minute field: expected a number at the end of \"1-\"" },
        { "1-? * * * *", KEEL_EPARSE,
          "cron \"1-? * * * *\": minute field: expected a number at \"?\" in \"1-?\"" },
        { "-5 * * * *", KEEL_EPARSE,
          "cron \"-5 * * * *\": minute field: expected a number or * at \"-5\"" },
        { "* * * ? *", KEEL_EPARSE,
          "cron \"* * * ? *\": month field: expected a number, name or * at \"?\"" },
        { "MON * * * *", KEEL_EPARSE,
          "cron \"MON * * * *\": minute field: \"MON\" is not a number" },
        { "* * * FOO *", KEEL_EPARSE,
          "cron \"* * * FOO *\": month field: \"FOO\" is not a month name JAN-DEC" },
        { "* * * * MONDAY", KEEL_EPARSE,
          "cron \"* * * * MONDAY\": day-of-week field: \"MONDAY\" is not a weekday name SUN-SAT" },
        { "* * * * JAN", KEEL_EPARSE,
          "cron \"* * * * JAN\": day-of-week field: \"JAN\" is not a weekday name SUN-SAT" },
        { "@reboot", KEEL_EPARSE,
          "cron \"@reboot\": unknown macro \"@reboot\" (expected @yearly, @annually, @monthly, "
          "@weekly, @daily, @midnight or @hourly)" },
        { "@daily 5", KEEL_EPARSE, "cron \"@daily 5\": unexpected \"5\" after @daily" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        keel_cron c;
        memset(&c, 0xAB, sizeof c);
        unsigned char before[sizeof c];
        memcpy(before, &c, sizeof c);
        keel_err err;
        keel_err_clear(&err);
        int rc = keel_cron_parse(cases[i].expr, &c, &err);
        if (rc != cases[i].code || strcmp(err.msg, cases[i].msg) != 0)
            fail_msg("\"%s\": rc %d msg '%s'; want rc %d msg '%s'", cases[i].expr, rc, err.msg,
                     cases[i].code, cases[i].msg);
        assert_int_equal(err.code, cases[i].code);
        assert_memory_equal(&c, before, sizeof c);   /* untouched on failure */
    }
}

static void length_cap_and_null_arguments(void **state)
{
    (void)state;
    keel_cron c;
    keel_err err;

    /* Exactly 256 bytes is accepted; 257 is not. */
    char expr[KEEL_CRON_EXPR_MAX + 2];
    memset(expr, ' ', sizeof expr);
    memcpy(expr, "0 0 1 1 *", 9);
    expr[KEEL_CRON_EXPR_MAX] = '\0';
    assert_int_equal(keel_cron_parse(expr, &c, &err), KEEL_OK);
    expr[KEEL_CRON_EXPR_MAX] = ' ';
    expr[KEEL_CRON_EXPR_MAX + 1] = '\0';
    keel_err_clear(&err);
    assert_int_equal(keel_cron_parse(expr, &c, &err), KEEL_ELIMIT);
    assert_non_null(strstr(err.msg, "longer than the limit of 256 bytes"));
    assert_non_null(strstr(err.msg, "cron \"0 0 1 1 *"));

    /* A long bad expression is quoted shortened, keeping the field's name. */
    char many[KEEL_CRON_EXPR_MAX + 1];
    memset(many, '1', sizeof many);
    memcpy(many + 200, " * * * *", 8);
    many[208] = '\0';
    keel_err_clear(&err);
    assert_int_equal(keel_cron_parse(many, &c, &err), KEEL_EPARSE);
    assert_non_null(strstr(err.msg, "...\": minute field: 1111"));
    assert_non_null(strstr(err.msg, "... is out of range 0-59"));

    keel_err_clear(&err);
    assert_int_equal(keel_cron_parse(NULL, &c, &err), KEEL_EINVAL);
    assert_non_null(strstr(err.msg, "expr is NULL"));
    assert_int_equal(keel_cron_parse("* * * * *", NULL, &err), KEEL_EINVAL);
    /* err may be NULL */
    assert_int_equal(keel_cron_parse("61 * * * *", &c, NULL), KEEL_EPARSE);
}

static void next_stays_within_bounds(void **state)
{
    (void)state;
    keel_cron none = { 0 };
    assert_int_equal(keel_cron_next(&none, T_2025_01_01_0000), -1);
    keel_cron every = parse_ok("* * * * *");
    assert_int_equal(keel_cron_next(&every, INT64_MAX), -1);
    assert_int_equal(keel_cron_next(&every, INT64_MIN), -1);
    /* Every minute of a day, in order, with nothing skipped or repeated. */
    int64_t t = T_2025_01_01_0000 - 60;
    for (int i = 0; i < 24 * 60; i++) {
        int64_t n = keel_cron_next(&every, t);
        assert_int_equal(n, t + 60);
        t = n;
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_syntax_form_sets_the_right_bits),
        cmocka_unit_test(names_are_case_insensitive_and_mix_with_numbers),
        cmocka_unit_test(weekday_7_is_sunday),
        cmocka_unit_test(day_fields_or_when_both_restricted),
        cmocka_unit_test(next_is_strictly_after_and_rounds_to_minutes),
        cmocka_unit_test(month_ends_and_leap_years),
        cmocka_unit_test(year_rollover),
        cmocka_unit_test(macros_expand),
        cmocka_unit_test(errors_name_the_field_and_token),
        cmocka_unit_test(length_cap_and_null_arguments),
        cmocka_unit_test(next_stays_within_bounds),
    };
    return keel_test_main(argc, argv, "cron", tests);
}
