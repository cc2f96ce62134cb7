/*
 * clock.c — wall and monotonic clocks, time formatting.
 */
#include <keel/util.h>

#include <stdio.h>
#include <time.h>

int64_t keel_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t keel_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void keel_format_time(int64_t ms, char *out, size_t out_size)
{
    if (ms <= 0) {
        snprintf(out, out_size, "-");
        return;
    }
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, out_size, "%Y-%m-%d %H:%M:%S", &tm);
}
