/*
 * error.c — the code→text table and keel_err formatting.
 */
#include <keel/error.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const rc_text[] = {
#define KEEL_RC_TEXT(name, text) text,
    KEEL_RC_LIST(KEEL_RC_TEXT)
#undef KEEL_RC_TEXT
};

static const char *const rc_name[] = {
#define KEEL_RC_NAME(name, text) #name,
    KEEL_RC_LIST(KEEL_RC_NAME)
#undef KEEL_RC_NAME
};

const char *keel_rc_text(int code)
{
    if (code < 0 || code >= KEEL_RC_COUNT)
        return "unknown error";
    return rc_text[code];
}

const char *keel_rc_name(int code)
{
    if (code < 0 || code >= KEEL_RC_COUNT)
        return "KEEL_EUNKNOWN";
    return rc_name[code];
}

int keel_errf(keel_err *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int keel_err_prefix(keel_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return KEEL_EINTERNAL;
    char prefix[KEEL_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char joined[KEEL_ERR_MSG_MAX];
    size_t plen = strlen(prefix);
    if (plen > sizeof joined - 3)
        plen = sizeof joined - 3;
    memcpy(joined, prefix, plen);
    joined[plen] = ':';
    joined[plen + 1] = ' ';
    size_t room = sizeof joined - plen - 3;
    size_t mlen = strnlen(err->msg, room);
    memcpy(joined + plen + 2, err->msg, mlen);
    joined[plen + 2 + mlen] = '\0';
    memcpy(err->msg, joined, sizeof joined);
    return err->code;
}

void keel_err_clear(keel_err *err)
{
    if (err == NULL)
        return;
    err->code = KEEL_OK;
    err->msg[0] = '\0';
}
