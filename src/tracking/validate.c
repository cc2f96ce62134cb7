/*
 * validate.c — the naming rules MLflow enforces on keys and ids, shared by
 * the C API, the CLI and the REST layer.
 */
#include "tracking_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int tracking_check_len(const char *what, const char *value, size_t max, keel_err *err)
{
    size_t n = strlen(value);
    if (n > max)
        return keel_errf(err, KEEL_EINVAL, "%s is %zu characters long; the limit is %zu", what,
                         n, max);
    return KEEL_OK;
}

int tracking_check_kv(const char *what, const char *key, const char *value, size_t max_value,
                      keel_err *err)
{
    int rc = keel_validate_key(what, key, err);
    if (rc != KEEL_OK)
        return rc;
    char label[64];
    snprintf(label, sizeof label, "%s value", what);
    return tracking_check_len(label, value != NULL ? value : "", max_value, err);
}

static bool key_char_ok(unsigned char c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '-' || c == ' ' || c == '/' || c == ':' ||
           c >= 0x80;
}

int keel_validate_key(const char *what, const char *key, keel_err *err)
{
    if (key == NULL || key[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "%s name must not be empty", what);
    size_t n = strlen(key);
    if (n > KEEL_MAX_KEY_LEN)
        return keel_errf(err, KEEL_EINVAL, "%s name '%.40s…' is %zu characters; the limit is %d",
                         what, key, n, KEEL_MAX_KEY_LEN);
    for (size_t i = 0; i < n; i++) {
        if (!key_char_ok((unsigned char)key[i]))
            return keel_errf(err, KEEL_EINVAL,
                             "invalid %s name '%s': character %zu ('%c') is not allowed; names "
                             "may contain letters, digits, '_', '-', '.', ' ', ':' and '/'",
                             what, key, i + 1, key[i]);
    }
    /* Names may become file paths; they must not resolve to another name. */
    bool bad = key[0] == '/' || key[n - 1] == '/' || strstr(key, "//") != NULL;
    const char *seg = key;
    while (!bad && seg != NULL) {
        const char *end = strchr(seg, '/');
        size_t len = end != NULL ? (size_t)(end - seg) : strlen(seg);
        if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            bad = true;
        seg = end != NULL ? end + 1 : NULL;
    }
    if (bad)
        return keel_errf(err, KEEL_EINVAL,
                         "invalid %s name '%s': it would resolve to a different path", what, key);
    return KEEL_OK;
}

int keel_validate_run_id(const char *run_id, keel_err *err)
{
    if (run_id == NULL || run_id[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "run id must not be empty");
    size_t n = strlen(run_id);
    bool ok = n == 32;
    for (size_t i = 0; ok && i < n; i++)
        ok = isxdigit((unsigned char)run_id[i]) != 0;
    if (!ok)
        return keel_errf(err, KEEL_EINVAL, "invalid run id '%.64s': expected 32 hex digits",
                         run_id);
    return KEEL_OK;
}

int tracking_run_ref_check(const char *run_id, keel_err *err)
{
    if (run_id == NULL || run_id[0] == '\0')
        return keel_errf(err, KEEL_EINVAL, "missing value for required field 'run_id'");
    keel_err ignored;
    if (keel_validate_run_id(run_id, &ignored) != KEEL_OK)
        return keel_errf(err, KEEL_ENOTFOUND, "run '%.64s' not found", run_id);
    return KEEL_OK;
}

int keel_view_type_parse(const char *s, enum keel_view_type *out, keel_err *err)
{
    static const struct { const char *name; enum keel_view_type view; } views[] = {
        { "ACTIVE_ONLY", KEEL_VIEW_ACTIVE_ONLY },
        { "DELETED_ONLY", KEEL_VIEW_DELETED_ONLY },
        { "ALL", KEEL_VIEW_ALL },
    };
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        if (strcasecmp(s, views[i].name) == 0) {
            *out = views[i].view;
            return KEEL_OK;
        }
    }
    return keel_errf(err, KEEL_EINVAL,
                     "invalid view type '%s': expected ACTIVE_ONLY, DELETED_ONLY or ALL", s);
}
