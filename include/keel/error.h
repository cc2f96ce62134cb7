/*
 * keel/error.h — result codes and error detail.
 *
 * Every fallible keel function returns an `int` that is a `enum keel_rc`
 * (KEEL_OK == 0) and, when it fails, fills the caller's `keel_err` with the
 * code and a message that names the offending file, field or value. The code
 * list is append-only: codes are part of the C API and of exit statuses.
 */
#ifndef KEEL_ERROR_H
#define KEEL_ERROR_H

#include <stddef.h>

#define KEEL_RC_LIST(X)                                         \
    X(KEEL_OK,        "ok")                                     \
    X(KEEL_EINVAL,    "invalid argument")                       \
    X(KEEL_ENOMEM,    "out of memory")                          \
    X(KEEL_EIO,       "input/output error")                     \
    X(KEEL_ENOTFOUND, "not found")                              \
    X(KEEL_EEXIST,    "already exists")                         \
    X(KEEL_ECONFLICT, "conflicts with a stored value")          \
    X(KEEL_ECORRUPT,  "stored data is corrupt")                 \
    X(KEEL_ESTORE,    "metadata store error")                   \
    X(KEEL_ELIMIT,    "size limit exceeded")                    \
    X(KEEL_EPARSE,    "syntax error")                           \
    X(KEEL_ESTATE,    "not allowed in the current state")       \
    X(KEEL_EBUSY,     "resource busy")                          \
    X(KEEL_EINTERNAL, "internal error")

enum keel_rc {
#define KEEL_RC_ENUM(name, text) name,
    KEEL_RC_LIST(KEEL_RC_ENUM)
#undef KEEL_RC_ENUM
    KEEL_RC_COUNT
};

#define KEEL_ERR_MSG_MAX 512

/* Error detail filled by a failing call. Embedded by value; no cleanup. */
typedef struct keel_err {
    int code;                    /* enum keel_rc */
    char msg[KEEL_ERR_MSG_MAX];  /* human-readable, NUL-terminated */
} keel_err;

/* Static text for a code ("not found"); never NULL. */
const char *keel_rc_text(int code);

/* Symbolic name for a code ("KEEL_ENOTFOUND"); never NULL. */
const char *keel_rc_name(int code);

/* Sets err (which may be NULL) to code and a printf-formatted message and
 * returns code, so call sites read `return keel_errf(err, KEEL_EINVAL, …)`. */
int keel_errf(keel_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "<context>: " to err's message, keeping its code; returns the code.
 * Used where a lower layer's message lacks the file or field name. */
int keel_err_prefix(keel_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Resets err to KEEL_OK with an empty message. */
void keel_err_clear(keel_err *err);

#endif
