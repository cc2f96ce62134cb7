/*
 * cron.h — cron expressions for pipeline schedules: parsing the standard
 * five fields (minute hour day-of-month month day-of-week) and finding the
 * next time a schedule fires. Times are epoch seconds, always in UTC.
 *
 * Syntax, per field: `*`, a value, a range `a-b`, a step `/n` after `*`, after
 * a range or after a value (`a/n` is a through the field's maximum), and
 * comma lists of those. Months take JAN-DEC and weekdays SUN-SAT (any case);
 * weekday 7 is Sunday, like 0, and a weekday range ending in the name SUN
 * runs to the end of the week (FRI-SUN is Friday, Saturday, Sunday).
 * Whole-expression macros: @yearly @annually @monthly @weekly @daily
 * @midnight @hourly. An expression is at most KEEL_CRON_EXPR_MAX bytes.
 *
 * Day semantics are Vixie cron's (crontab(5)): a day-of-month or
 * day-of-week field whose text starts with `*` (so also `*` with a step) is
 * "unrestricted". If either day field is unrestricted a day must match both;
 * if both are restricted a day matches when EITHER does, so "0 0 13 * FRI"
 * fires on every 13th and on every Friday.
 *
 * Invariants of a parsed keel_cron: bit i of each set means value i is
 * allowed; only bits inside a field's range are set (minutes 0-59, hours
 * 0-23, mdays 1-31, months 1-12, wdays 0-6 with Sunday 0); every set is
 * non-empty. A keel_cron is plain data: copy it freely, no cleanup.
 */
#ifndef KEEL_PIPELINE_CRON_H
#define KEEL_PIPELINE_CRON_H

#include <keel/error.h>

#include <stdbool.h>
#include <stdint.h>

#define KEEL_CRON_EXPR_MAX 256   /* bytes, without the NUL */

/* How far keel_cron_next looks ahead, in years. */
#define KEEL_CRON_HORIZON_YEARS 5

typedef struct keel_cron {
    uint64_t minutes;   /* bits 0-59 */
    uint32_t hours;     /* bits 0-23 */
    uint32_t mdays;     /* bits 1-31 */
    uint16_t months;    /* bits 1-12 */
    uint8_t wdays;      /* bits 0-6, Sunday = 0 */
    bool mday_star;     /* day-of-month field started with `*` */
    bool wday_star;     /* day-of-week field started with `*` */
} keel_cron;

/* Parses expr (borrowed, NUL-terminated) into *out. Leading and trailing
 * whitespace is ignored; fields are separated by runs of whitespace.
 * Fails with KEEL_EPARSE and a message naming the field and the offending
 * token, e.g. `cron "61 * * * *": minute field: 61 is out of range 0-59`;
 * KEEL_ELIMIT past KEEL_CRON_EXPR_MAX bytes; KEEL_EINVAL for NULL arguments.
 * *out is written only on success. */
int keel_cron_parse(const char *expr, keel_cron *out, keel_err *err);

/* The first minute strictly after `after` (epoch seconds, UTC) at which c
 * fires, as epoch seconds (always a whole minute). -1 if c does not fire
 * within KEEL_CRON_HORIZON_YEARS years after `after` (e.g. "0 0 30 2 *", or
 * "0 0 29 2 *" from March 2096, as 2100 is not a leap year), or if `after` is
 * outside what gmtime_r can represent. c is borrowed and must not be NULL. */
int64_t keel_cron_next(const keel_cron *c, int64_t after);

#endif
