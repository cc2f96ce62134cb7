/*
 * json.c — jansson helpers with explicit limits and field-naming errors.
 */
#include <keel/json.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
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

char *keel_json_dumps(const json_t *v, bool pretty)
{
    size_t flags = JSON_ENCODE_ANY | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17);
    if (pretty)
        flags |= JSON_INDENT(2);
    return json_dumps(v, flags);
}
