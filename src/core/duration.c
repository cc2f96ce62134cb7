/*
 * duration.c — durations as people write them in keel's YAML files and
 * flags: "500ms", "30s", "5m", "2h", "7d", or a bare number of seconds.
 */
#include <keel/util.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int keel_parse_duration(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = s != NULL ? strtod(s, &end) : NAN;
    if (s == NULL || end == s || errno != 0 || !isfinite(v) || v < 0)
        return KEEL_EINVAL;
    static const struct { const char *unit; double mult; } units[] = {
        { "", 1 }, { "ms", 0.001 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].unit) == 0) {
            *out = v * units[i].mult;
            return KEEL_OK;
        }
    return KEEL_EINVAL;
}

