/*
 * data_values.c — parsers for one CSV cell: integers, numbers, booleans,
 * dates and datetimes, all over counted bytes.
 *
 * Numbers: a plain decimal with at most 19 significant digits whose value
 * m * 10^e has m <= 2^53 and |e| <= 22 is computed as one IEEE multiply or
 * divide of two exactly representable doubles, which rounds correctly
 * (Clinger's fast path) and so equals strtod's result bit for bit. Anything
 * else goes to strtod on a NUL-terminated copy. The grammar is checked first,
 * so strtod never sees (and accepts) hex floats or leading spaces.
 */
#include "data_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* inf, infinity, nan (any case) after an optional sign. */
bool keel__is_special_number(const char *p, size_t len)
{
    if (len > 0 && (p[0] == '-' || p[0] == '+')) {
        p++;
        len--;
    }
    return (len == 3 && (strncasecmp(p, "inf", 3) == 0 || strncasecmp(p, "nan", 3) == 0)) ||
           (len == 8 && strncasecmp(p, "infinity", 8) == 0);
}

static bool strtod_whole(const char *p, size_t len, double *out)
{
    char small[128];
    char *copy = small;
    if (len >= sizeof small) {
        copy = malloc(len + 1);
        if (copy == NULL)
            return false;
    }
    memcpy(copy, p, len);
    copy[len] = '\0';
    char *end = NULL;
    double v = strtod(copy, &end);
    bool ok = end == copy + len;
    if (copy != small)
        free(copy);
    if (ok)
        *out = v;
    return ok;
}

bool keel__parse_f64(const char *p, size_t len, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (len > 0 && (p[0] == '-' || p[0] == '+')) {
        neg = p[0] == '-';
        i = 1;
    }
    uint64_t m = 0;
    int sig = 0;          /* significant digits taken into m */
    bool dropped = false; /* a nonzero digit did not fit in m */
    int64_t e10 = 0;
    size_t digits = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9)
            break;
        digits++;
        if (sig < 19) {
            m = m * 10 + d;
            sig += m != 0;
        } else {
            e10++;
            dropped |= d != 0;
        }
    }
    if (i < len && p[i] == '.') {
        for (i++; i < len; i++) {
            unsigned d = (unsigned char)p[i] - '0';
            if (d > 9)
                break;
            digits++;
            if (sig < 19) {
                m = m * 10 + d;
                sig += m != 0;
                e10--;
            } else {
                dropped |= d != 0;
            }
        }
    }
    if (digits == 0)
        return keel__is_special_number(p, len) && strtod_whole(p, len, out);
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (p[i] == '-' || p[i] == '+')) {
            eneg = p[i] == '-';
            i++;
        }
        if (i == len)
            return false;
        int64_t x = 0;
        for (; i < len; i++) {
            unsigned d = (unsigned char)p[i] - '0';
            if (d > 9)
                return false;
            if (x < 100000)
                x = x * 10 + d;
        }
        e10 += eneg ? -x : x;
    }
    if (i != len)
        return false;
    if (m == 0 && !dropped) {
        *out = neg ? -0.0 : 0.0;
        return true;
    }
    if (!dropped && m <= ((uint64_t)1 << 53) && e10 >= -22 && e10 <= 22) {
        double v = (double)m;
        v = e10 >= 0 ? v * pow10_exact[e10] : v / pow10_exact[-e10];
        *out = neg ? -v : v;
        return true;
    }
    return strtod_whole(p, len, out);
}

bool keel__parse_bool(const char *p, size_t len, int64_t *out)
{
    if (len == 4 && strncasecmp(p, "true", 4) == 0) {
        *out = 1;
        return true;
    }
    if (len == 5 && strncasecmp(p, "false", 5) == 0) {
        *out = 0;
        return true;
    }
    return false;
}

static bool digits_at(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9)
            return false;
        v = v * 10 + (int)d;
    }
    *out = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool ymd_at(const char *p, int64_t *out_days)
{
    int y, m, d;
    if (p[4] != '-' || p[7] != '-' || !digits_at(p, 4, &y) || !digits_at(p + 5, 2, &m) ||
        !digits_at(p + 8, 2, &d))
        return false;
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap)
        return false;
    *out_days = days_from_civil(y, (unsigned)m, (unsigned)d);
    return true;
}

bool keel__parse_date(const char *p, size_t len, int64_t *out)
{
    return len == 10 && ymd_at(p, out);
}

bool keel__parse_datetime(const char *p, size_t len, bool allow_date, int64_t *out)
{
    int64_t days;
    if (len == 10 && allow_date) {
        if (!ymd_at(p, &days))
            return false;
        *out = days * 86400;
        return true;
    }
    if ((len != 16 && len != 19) || (p[10] != ' ' && p[10] != 'T') || p[13] != ':')
        return false;
    int hh, mm, ss = 0;
    if (!digits_at(p + 11, 2, &hh) || !digits_at(p + 14, 2, &mm) || hh > 23 || mm > 59)
        return false;
    if (len == 19 && (p[16] != ':' || !digits_at(p + 17, 2, &ss) || ss > 59))
        return false;
    if (!ymd_at(p, &days))
        return false;
    *out = days * 86400 + hh * 3600 + mm * 60 + ss;
    return true;
}
