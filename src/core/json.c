/*
 * json.c — jansson helpers with explicit limits and field-naming errors.
 */
#include <keel/buf.h>
#include <keel/json.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Depth check on the raw text before handing it to jansson, so hostile input
 * cannot make the parser recurse deeply. Strings are skipped properly. */
static int check_depth(const char *data, size_t len, int max_depth, keel_err *err)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return keel_errf(err, KEEL_ELIMIT,
                                 "JSON nests deeper than %d levels at byte %zu", max_depth, i);
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return KEEL_OK;
}

int keel_json_parse(const char *data, size_t len, int max_depth, json_t **out, keel_err *err)
{
    int rc = check_depth(data, len, max_depth, err);
    if (rc != KEEL_OK)
        return rc;
    json_error_t jerr;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        return keel_errf(err, KEEL_EPARSE, "invalid JSON at line %d column %d: %s", jerr.line,
                         jerr.column, jerr.text);
    *out = v;
    return KEEL_OK;
}

json_t *keel_json_double(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

int keel_json_to_double(const json_t *v, const char *field, double *out, keel_err *err)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return KEEL_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return KEEL_OK;
        }
        if (strcmp(s, "Infinity") == 0) {
            *out = INFINITY;
            return KEEL_OK;
        }
        if (strcmp(s, "-Infinity") == 0) {
            *out = -INFINITY;
            return KEEL_OK;
        }
        char *end = NULL;
        errno = 0;
        double d = strtod(s, &end);
        if (end != s && *end == '\0' && errno == 0) {
            *out = d;
            return KEEL_OK;
        }
    }
    return keel_errf(err, KEEL_EINVAL, "field '%s' must be a number", field);
}

int keel_json_get_string(const json_t *obj, const char *field, bool required,
                         const char **out, keel_err *err)
{
    const json_t *v = json_object_get(obj, field);
    if (v == NULL || json_is_null(v)) {
        if (required)
            return keel_errf(err, KEEL_EINVAL, "missing value for required field '%s'", field);
        return KEEL_OK;
    }
    if (!json_is_string(v))
        return keel_errf(err, KEEL_EINVAL, "field '%s' must be a string", field);
    *out = json_string_value(v);
    return KEEL_OK;
}

int keel_json_get_int64(const json_t *obj, const char *field, bool required,
                        int64_t *out, keel_err *err)
{
    const json_t *v = json_object_get(obj, field);
    if (v == NULL || json_is_null(v)) {
        if (required)
            return keel_errf(err, KEEL_EINVAL, "missing value for required field '%s'", field);
        return KEEL_OK;
    }
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return KEEL_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end = NULL;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (end != s && *end == '\0' && errno == 0) {
            *out = (int64_t)n;
            return KEEL_OK;
        }
    }
    return keel_errf(err, KEEL_EINVAL, "field '%s' must be an integer", field);
}

int keel_json_get_bool(const json_t *obj, const char *field, bool required,
                       bool *out, keel_err *err)
{
    const json_t *v = json_object_get(obj, field);
    if (v == NULL || json_is_null(v)) {
        if (required)
            return keel_errf(err, KEEL_EINVAL, "missing value for required field '%s'", field);
        return KEEL_OK;
    }
    if (!json_is_boolean(v))
        return keel_errf(err, KEEL_EINVAL, "field '%s' must be a boolean", field);
    *out = json_is_true(v);
    return KEEL_OK;
}

/* Shortest text that reads back as the same double ("0.1", not
 * "0.10000000000000001" as jansson's fixed %.17g writes). */
static int dump_real(keel_buf *b, double d)
{
    if (!isfinite(d))
        return keel_buf_puts(b, isnan(d) ? "\"NaN\"" : d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    char text[40];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, d);
        if (strtod(text, NULL) == d)
            break;
    }
    int rc = keel_buf_puts(b, text);
    /* Keep it a JSON real: 1.0 stays "1.0", not the integer "1". */
    if (rc == KEEL_OK && strpbrk(text, ".eEn") == NULL)
        rc = keel_buf_puts(b, ".0");
    return rc;
}

static int dump_string(keel_buf *b, const char *s, size_t n)
{
    int rc = keel_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; rc == KEEL_OK && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = keel_buf_append(b, s + run, i - run);
        run = i + 1;
        if (rc != KEEL_OK)
            break;
        switch (c) {
        case '"': rc = keel_buf_puts(b, "\\\""); break;
        case '\\': rc = keel_buf_puts(b, "\\\\"); break;
        case '\n': rc = keel_buf_puts(b, "\\n"); break;
        case '\r': rc = keel_buf_puts(b, "\\r"); break;
        case '\t': rc = keel_buf_puts(b, "\\t"); break;
        default: rc = keel_buf_printf(b, "\\u%04x", c); break;
        }
    }
    if (rc == KEEL_OK)
        rc = keel_buf_append(b, s + run, n - run);
    return rc == KEEL_OK ? keel_buf_append(b, "\"", 1) : rc;
}

static int dump_newline(keel_buf *b, bool pretty, int depth)
{
    if (!pretty)
        return KEEL_OK;
    int rc = keel_buf_append(b, "\n", 1);
    for (int i = 0; rc == KEEL_OK && i < depth; i++)
        rc = keel_buf_append(b, "  ", 2);
    return rc;
}

static int dump_value(keel_buf *b, const json_t *v, bool pretty, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (json_object_size(v) == 0)
            return keel_buf_puts(b, "{}");
        int rc = keel_buf_append(b, "{", 1);
        const char *key;
        json_t *item;
        bool first = true;
        json_object_foreach((json_t *)v, key, item) {
            if (rc == KEEL_OK && !first)
                rc = keel_buf_append(b, ",", 1);
            first = false;
            if (rc == KEEL_OK)
                rc = dump_newline(b, pretty, depth + 1);
            if (rc == KEEL_OK)
                rc = dump_string(b, key, strlen(key));
            if (rc == KEEL_OK)
                rc = keel_buf_puts(b, pretty ? ": " : ":");
            if (rc == KEEL_OK)
                rc = dump_value(b, item, pretty, depth + 1);
        }
        if (rc == KEEL_OK)
            rc = dump_newline(b, pretty, depth);
        return rc == KEEL_OK ? keel_buf_append(b, "}", 1) : rc;
    }
    case JSON_ARRAY: {
        if (json_array_size(v) == 0)
            return keel_buf_puts(b, "[]");
        int rc = keel_buf_append(b, "[", 1);
        for (size_t i = 0; rc == KEEL_OK && i < json_array_size(v); i++) {
            if (i > 0)
                rc = keel_buf_append(b, ",", 1);
            if (rc == KEEL_OK)
                rc = dump_newline(b, pretty, depth + 1);
            if (rc == KEEL_OK)
                rc = dump_value(b, json_array_get(v, i), pretty, depth + 1);
        }
        if (rc == KEEL_OK)
            rc = dump_newline(b, pretty, depth);
        return rc == KEEL_OK ? keel_buf_append(b, "]", 1) : rc;
    }
    case JSON_STRING:
        return dump_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return keel_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return dump_real(b, json_real_value(v));
    case JSON_TRUE:
        return keel_buf_puts(b, "true");
    case JSON_FALSE:
        return keel_buf_puts(b, "false");
    case JSON_NULL:
        return keel_buf_puts(b, "null");
    }
    return KEEL_EINVAL;
}

int keel_json_dump_buf(const json_t *v, bool pretty, keel_buf *out)
{
    return dump_value(out, v, pretty, 0);
}

int keel_json_write_string(keel_buf *out, const char *s, size_t n)
{
    return dump_string(out, s, n);
}

int keel_json_write_double(keel_buf *out, double d)
{
    return dump_real(out, d);
}

char *keel_json_dumps(const json_t *v, bool pretty)
{
    keel_buf b;
    keel_buf_init(&b, (size_t)1 << 31);
    if (dump_value(&b, v, pretty, 0) != KEEL_OK) {
        keel_buf_free(&b);
        return NULL;
    }
    return keel_buf_take(&b);
}

size_t keel_json_number_span(const char *p, const char *end, bool *out_integral)
{
    const char *q = p;
    *out_integral = true;
#define DIGIT(x) ((x) < end && *(x) >= '0' && *(x) <= '9')
    if (q < end && *q == '-')
        q++;
    if (!DIGIT(q))
        return 0;
    if (*q == '0') {
        q++;
    } else {
        while (DIGIT(q))
            q++;
    }
    if (q < end && *q == '.') {
        *out_integral = false;
        q++;
        if (!DIGIT(q))
            return 0;
        while (DIGIT(q))
            q++;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        *out_integral = false;
        q++;
        if (q < end && (*q == '+' || *q == '-'))
            q++;
        if (!DIGIT(q))
            return 0;
        while (DIGIT(q))
            q++;
    }
#undef DIGIT
    return (size_t)(q - p);
}
