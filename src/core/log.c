/*
 * log.c — leveled logging to stderr. The threshold is read once from
 * KEEL_LOG; the only process-wide state in core, set before any thread runs.
 */
#include <keel/util.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

static enum keel_log_level threshold = KEEL_LOG_WARN;
static pthread_once_t threshold_once = PTHREAD_ONCE_INIT;

static void read_threshold(void)
{
    const char *env = getenv("KEEL_LOG");
    if (env == NULL)
        return;
    for (int i = 0; i <= KEEL_LOG_OFF; i++) {
        if (strcmp(env, level_names[i]) == 0)
            threshold = (enum keel_log_level)i;
    }
}

void keel_log(enum keel_log_level level, const char *fmt, ...)
{
    pthread_once(&threshold_once, read_threshold);
    if (level < threshold || level >= KEEL_LOG_OFF)
        return;
    char stamp[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ldZ %s keel: %s\n", stamp, ts.tv_nsec / 1000000,
            level_names[level], line);
}
