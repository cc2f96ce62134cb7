/*
 * cron.c — parsing cron expressions into bitsets and finding the next fire
 * time; the syntax and day semantics are in cron.h.
 *
 * The five fields are rows of one table (name, bounds, names), so every
 * field is parsed by the same code and every message names its field the
 * same way. Parsing reads counted slices of the expression (ptr + len) and
 * never writes to it; no allocation anywhere.
 *
 * keel_cron_next walks a UTC broken-down time forward, skipping a whole month,
 * day or hour whenever that unit cannot match, and jumping straight to the
 * next allowed hour and minute within a day, so a search over years costs at
 * most a few thousand steps. Every step that changes the date goes through
 * timegm/gmtime_r, which carry overflowing fields and set the weekday.
 */
#include "pipeline/cron.h"

#include <assert.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

_Static_assert(sizeof(time_t) >= sizeof(int64_t), "keel needs a 64-bit time_t");

/* Longest expression and token quoted back in a message. */
#define ECHO_EXPR_MAX  64
#define ECHO_TOKEN_MAX 32

enum { FIELD_MINUTE, FIELD_HOUR, FIELD_MDAY, FIELD_MONTH, FIELD_WDAY, FIELD_COUNT };

static const char *const month_names[] = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
};

static const char *const wday_names[] = { "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT" };

typedef struct cron_field {
    const char *name;           /* in messages: "minute field: …" */
    int lo, hi;                 /* values accepted in the text */
    int star_hi;                /* where `*` and `a/n` stop (Saturday for weekdays, not 7) */
    const char *const *names;   /* names[i] is value name_base + i; NULL: numbers only */
    int name_count, name_base;
    const char *name_kind;      /* "month name JAN-DEC" */
} cron_field;

static const cron_field fields[FIELD_COUNT] = {
    [FIELD_MINUTE] = { "minute",       0, 59, 59, NULL,        0,  0, NULL },
    [FIELD_HOUR]   = { "hour",         0, 23, 23, NULL,        0,  0, NULL },
    [FIELD_MDAY]   = { "day-of-month", 1, 31, 31, NULL,        0,  0, NULL },
    [FIELD_MONTH]  = { "month",        1, 12, 12, month_names, 12, 1, "month name JAN-DEC" },
    [FIELD_WDAY]   = { "day-of-week",  0, 7,  6,  wday_names,  7,  0, "weekday name SUN-SAT" },
};

static const struct cron_macro {
    const char *name;
    const char *fields;
} macros[] = {
    { "@yearly",   "0 0 1 1 *" },
    { "@annually", "0 0 1 1 *" },
    { "@monthly",  "0 0 1 * *" },
    { "@weekly",   "0 0 * * 0" },
    { "@daily",    "0 0 * * *" },
    { "@midnight", "0 0 * * *" },
    { "@hourly",   "0 * * * *" },
};

typedef struct parser {
    const char *expr;           /* the caller's text, quoted in messages */
    size_t expr_len;
    const cron_field *field;    /* the field being parsed, NULL outside one */
    keel_err *err;
} parser;

/* Precision and suffix that quote at most `max` bytes of a `len`-byte text. */
static int echo_len(size_t len, size_t max)
{
    return (int)(len < max ? len : max);
}

static const char *echo_more(size_t len, size_t max)
{
    return len > max ? "..." : "";
}

static int fail(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* KEEL_EPARSE with `cron "<expr>": [<field> field: ]<detail>`. */
static int fail(parser *p, const char *fmt, ...)
{
    char detail[KEEL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    int n = echo_len(p->expr_len, ECHO_EXPR_MAX);
    const char *more = echo_more(p->expr_len, ECHO_EXPR_MAX);
    if (p->field == NULL)
        return keel_errf(p->err, KEEL_EPARSE, "cron \"%.*s%s\": %s", n, p->expr, more, detail);
    return keel_errf(p->err, KEEL_EPARSE, "cron \"%.*s%s\": %s field: %s", n, p->expr, more,
                     p->field->name, detail);
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

/* Reads a number or a name at item[*pos] into *out and advances *pos. */
static int parse_value(parser *p, const char *item, size_t len, size_t *pos, int *out)
{
    const cron_field *f = p->field;
    size_t start = *pos, end = start;
    const char *tok = item + start;
    if (end < len && is_digit(item[end])) {
        while (end < len && is_digit(item[end]))
            end++;
        size_t n = end - start;
        int v = 0;
        /* Longer runs are out of range anyway; stopping keeps v from overflowing. */
        for (size_t i = 0; i < n && i < 3; i++)
            v = v * 10 + (tok[i] - '0');
        if (n > 3 || v < f->lo || v > f->hi)
            return fail(p, "%.*s%s is out of range %d-%d", echo_len(n, ECHO_TOKEN_MAX), tok,
                        echo_more(n, ECHO_TOKEN_MAX), f->lo, f->hi);
        *out = v;
        *pos = end;
        return KEEL_OK;
    }
    if (end < len && is_alpha(item[end])) {
        while (end < len && is_alpha(item[end]))
            end++;
        size_t n = end - start;
        int en = echo_len(n, ECHO_TOKEN_MAX);
        const char *more = echo_more(n, ECHO_TOKEN_MAX);
        if (f->names == NULL)
            return fail(p, "\"%.*s%s\" is not a number", en, tok, more);
        for (int i = 0; i < f->name_count; i++) {
            if (n == 3 && strncasecmp(tok, f->names[i], 3) == 0) {
                *out = f->name_base + i;
                *pos = end;
                return KEEL_OK;
            }
        }
        return fail(p, "\"%.*s%s\" is not a %s", en, tok, more, f->name_kind);
    }
    size_t rest = len - start;
    if (start == 0)
        return fail(p, "expected %s at \"%.*s%s\"",
                    f->names != NULL ? "a number, name or *" : "a number or *",
                    echo_len(len, ECHO_TOKEN_MAX), item, echo_more(len, ECHO_TOKEN_MAX));
    const char *expected = f->names != NULL ? "a number or name" : "a number";
    if (rest == 0)
        return fail(p, "expected %s at the end of \"%.*s%s\"", expected,
                    echo_len(len, ECHO_TOKEN_MAX), item, echo_more(len, ECHO_TOKEN_MAX));
    return fail(p, "expected %s at \"%.*s%s\" in \"%.*s%s\"", expected,
                echo_len(rest, ECHO_TOKEN_MAX), tok, echo_more(rest, ECHO_TOKEN_MAX),
                echo_len(len, ECHO_TOKEN_MAX), item, echo_more(len, ECHO_TOKEN_MAX));
}

/* One list item: `*`, `a`, or `a-b`, each optionally followed by `/step`.
 * Sets its values' bits in *bits. */
static int parse_item(parser *p, const char *item, size_t len, uint64_t *bits)
{
    const cron_field *f = p->field;
    int ei = echo_len(len, ECHO_TOKEN_MAX);
    const char *emore = echo_more(len, ECHO_TOKEN_MAX);
    size_t pos = 0;
    int lo, hi;
    bool single = false;
    int rc;
    if (item[0] == '*') {
        lo = f->lo;
        hi = f->star_hi;
        pos = 1;
    } else {
        if ((rc = parse_value(p, item, len, &pos, &lo)) != KEEL_OK)
            return rc;
        hi = lo;
        single = true;
        if (pos < len && item[pos] == '-') {
            size_t hi_at = ++pos;
            if ((rc = parse_value(p, item, len, &pos, &hi)) != KEEL_OK)
                return rc;
            single = false;
            /* FRI-SUN means Friday through the end of the week. */
            if (f == &fields[FIELD_WDAY] && hi == 0 && lo > 0 && is_alpha(item[hi_at]))
                hi = 7;
            if (lo > hi)
                return fail(p, "range \"%.*s%s\" is reversed (%d > %d)",
                            echo_len(pos, ECHO_TOKEN_MAX), item, echo_more(pos, ECHO_TOKEN_MAX),
                            lo, hi);
        }
    }
    int step = 1;
    if (pos < len && item[pos] == '/') {
        pos++;
        size_t start = pos;
        while (pos < len && is_digit(item[pos]))
            pos++;
        size_t n = pos - start;
        int span = f->star_hi - f->lo + 1;
        if (n == 0)
            return fail(p, "expected a step after \"/\" in \"%.*s%s\"", ei, item, emore);
        step = 0;
        for (size_t i = 0; i < n && i < 3; i++)
            step = step * 10 + (item[start + i] - '0');
        if (n > 3 || step < 1 || step > span)
            return fail(p, "step %.*s%s in \"%.*s%s\" is out of range 1-%d",
                        echo_len(n, ECHO_TOKEN_MAX), item + start, echo_more(n, ECHO_TOKEN_MAX), ei,
                        item, emore, span);
        if (single && lo < f->star_hi)
            hi = f->star_hi;
    }
    if (pos < len)
        return fail(p, "unexpected \"%.*s%s\" in \"%.*s%s\"", echo_len(len - pos, ECHO_TOKEN_MAX),
                    item + pos, echo_more(len - pos, ECHO_TOKEN_MAX), ei, item, emore);
    for (int v = lo; v <= hi; v += step)
        *bits |= UINT64_C(1) << v;
    return KEEL_OK;
}

/* One field: a comma list of items. */
static int parse_field(parser *p, const char *text, size_t len, uint64_t *out_bits)
{
    uint64_t bits = 0;
    size_t start = 0;
    for (;;) {
        size_t end = start;
        while (end < len && text[end] != ',')
            end++;
        if (end == start)
            return fail(p, "empty list item in \"%.*s%s\"", echo_len(len, ECHO_TOKEN_MAX), text,
                        echo_more(len, ECHO_TOKEN_MAX));
        int rc = parse_item(p, text + start, end - start, &bits);
        if (rc != KEEL_OK)
            return rc;
        if (end == len)
            break;
        start = end + 1;
    }
    *out_bits = bits;
    return KEEL_OK;
}

/* The five whitespace-separated fields of text (NUL-terminated). */
static int parse_fields(parser *p, const char *text, keel_cron *out)
{
    const char *field_text[FIELD_COUNT];
    size_t field_len[FIELD_COUNT];
    int count = 0;
    const char *s = text;
    for (;;) {
        while (is_space(*s))
            s++;
        if (*s == '\0')
            break;
        const char *start = s;
        while (*s != '\0' && !is_space(*s))
            s++;
        if (count < FIELD_COUNT) {
            field_text[count] = start;
            field_len[count] = (size_t)(s - start);
        }
        count++;
    }
    if (count != FIELD_COUNT)
        return fail(p, "expected 5 fields (minute hour day-of-month month day-of-week), got %d",
                    count);

    uint64_t bits[FIELD_COUNT];
    for (int i = 0; i < FIELD_COUNT; i++) {
        p->field = &fields[i];
        int rc = parse_field(p, field_text[i], field_len[i], &bits[i]);
        if (rc != KEEL_OK)
            return rc;
    }
    p->field = NULL;

    uint64_t wdays = bits[FIELD_WDAY];
    if (wdays & (UINT64_C(1) << 7))
        wdays = (wdays & ~(UINT64_C(1) << 7)) | 1;  /* 7 is Sunday, stored as 0 */
    *out = (keel_cron){
        .minutes = bits[FIELD_MINUTE],
        .hours = (uint32_t)bits[FIELD_HOUR],
        .mdays = (uint32_t)bits[FIELD_MDAY],
        .months = (uint16_t)bits[FIELD_MONTH],
        .wdays = (uint8_t)wdays,
        .mday_star = field_text[FIELD_MDAY][0] == '*',
        .wday_star = field_text[FIELD_WDAY][0] == '*',
    };
    return KEEL_OK;
}

/* An @macro, already found at text[0]. */
static int parse_macro(parser *p, const char *text, keel_cron *out)
{
    size_t n = 0;
    while (text[n] != '\0' && !is_space(text[n]))
        n++;
    int en = echo_len(n, ECHO_TOKEN_MAX);
    const char *more = echo_more(n, ECHO_TOKEN_MAX);
    const char *rest = text + n;
    while (is_space(*rest))
        rest++;
    if (*rest != '\0') {
        size_t rn = strlen(rest);
        return fail(p, "unexpected \"%.*s%s\" after %.*s%s", echo_len(rn, ECHO_TOKEN_MAX), rest,
                    echo_more(rn, ECHO_TOKEN_MAX), en, text, more);
    }
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
        if (strlen(macros[i].name) == n && strncasecmp(text, macros[i].name, n) == 0)
            return parse_fields(p, macros[i].fields, out);
    }
    return fail(p, "unknown macro \"%.*s%s\" (expected @yearly, @annually, @monthly, @weekly, "
                   "@daily, @midnight or @hourly)", en, text, more);
}

int keel_cron_parse(const char *expr, keel_cron *out, keel_err *err)
{
    if (expr == NULL || out == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_cron_parse: %s is NULL",
                         expr == NULL ? "expr" : "out");
    size_t len = strnlen(expr, KEEL_CRON_EXPR_MAX + 1);
    if (len > KEEL_CRON_EXPR_MAX)
        return keel_errf(err, KEEL_ELIMIT, "cron \"%.*s...\": longer than the limit of %d bytes",
                         ECHO_EXPR_MAX, expr, KEEL_CRON_EXPR_MAX);

    parser p = { .expr = expr, .expr_len = len, .field = NULL, .err = err };
    const char *s = expr;
    while (is_space(*s))
        s++;
    if (*s == '@')
        return parse_macro(&p, s, out);
    return parse_fields(&p, s, out);
}

/* ---- next fire time ---- */

/* The lowest set bit of bits at or above `from`, or -1. */
static int next_bit(uint64_t bits, int from)
{
    if (from >= 64)
        return -1;
    uint64_t rest = bits & (~UINT64_C(0) << from);
    return rest == 0 ? -1 : __builtin_ctzll(rest);
}

static bool day_matches(const keel_cron *c, const struct tm *tm)
{
    bool mday = (c->mdays >> tm->tm_mday) & 1u;
    bool wday = (c->wdays >> tm->tm_wday) & 1u;
    if (c->mday_star || c->wday_star)
        return mday && wday;
    return mday || wday;
}

/* Carries tm's overflowing fields (day 32, hour 24 …) and sets its weekday;
 * returns its epoch seconds, or -1 when it cannot be represented. Fire
 * times have second 0, so -1 (23:59:59 on 1969-12-31) is never a real one. */
static int64_t normalize(struct tm *tm)
{
    time_t t = timegm(tm);
    if (t == (time_t)-1 || gmtime_r(&t, tm) == NULL)
        return -1;
    return (int64_t)t;
}

int64_t keel_cron_next(const keel_cron *c, int64_t after)
{
    assert(c != NULL);
    /* Room for the rounding below; gmtime_r rejects these anyway. */
    if (after < INT64_MIN / 2 || after > INT64_MAX / 2)
        return -1;
    int64_t first = after - ((after % 60) + 60) % 60 + 60;  /* next whole minute */

    time_t t = (time_t)first;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year > INT_MAX - 2 * KEEL_CRON_HORIZON_YEARS)
        return -1;
    struct tm horizon_tm = tm;
    horizon_tm.tm_year += KEEL_CRON_HORIZON_YEARS;
    int64_t horizon = normalize(&horizon_tm);
    if (horizon == -1)
        return -1;

    int64_t now = first;
    for (;;) {
        if (now > horizon)
            return -1;
        if (!((c->months >> (tm.tm_mon + 1)) & 1u)) {
            int month = next_bit(c->months, tm.tm_mon + 2);
            if (month < 0 || month > 12) {
                tm.tm_year++;
                tm.tm_mon = 0;
            } else {
                tm.tm_mon = month - 1;
            }
            tm.tm_mday = 1;
            tm.tm_hour = 0;
            tm.tm_min = 0;
        } else if (!day_matches(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = 0;
            tm.tm_min = 0;
        } else {
            int hour = next_bit(c->hours, tm.tm_hour);
            if (hour < 0 || hour > 23) {
                tm.tm_mday++;
                tm.tm_hour = 0;
                tm.tm_min = 0;
            } else {
                if (hour != tm.tm_hour) {
                    tm.tm_hour = hour;
                    tm.tm_min = 0;
                }
                int minute = next_bit(c->minutes, tm.tm_min);
                if (minute >= 0 && minute <= 59) {
                    tm.tm_min = minute;
                    int64_t fire = normalize(&tm);
                    return fire > horizon ? -1 : fire;
                }
                tm.tm_hour++;
                tm.tm_min = 0;
            }
        }
        if ((now = normalize(&tm)) == -1)
            return -1;
    }
}
