/*
 * resp.h — the Redis reply (RESP2) parser the online store reads with: one
 * reply at a time from counted bytes, no I/O, so the socket code decides
 * when to read more and the parser can be fuzzed on its own.
 *
 * Memory: a parsed reply owns its strings and elements (malloc); free it
 * with keel_resp_reply_free. The input bytes are borrowed and never read
 * past len.
 */
#ifndef KEEL_RESP_H
#define KEEL_RESP_H

#include <stddef.h>

#define KEEL_RESP_MAX_BULK  (64u << 20)   /* bytes of one bulk string */
#define KEEL_RESP_MAX_LINE  65536         /* bytes of one header or simple line */
#define KEEL_RESP_MAX_ARRAY 1024          /* elements of one array */
#define KEEL_RESP_MAX_DEPTH 2             /* arrays nested in arrays (0 = flat) */

/* What keel_resp_parse found; texts from keel_resp_status_text. */
#define KEEL_RESP_STATUS_LIST(X)                                                \
    X(KEEL_RESP_OK,         "ok")                                               \
    X(KEEL_RESP_INCOMPLETE, "incomplete reply")                                 \
    X(KEEL_RESP_NOMEM,      "out of memory")                                    \
    X(KEEL_RESP_NO_CRLF,    "protocol error (line without CRLF)")               \
    X(KEEL_RESP_LONG_LINE,  "protocol error (line too long)")                   \
    X(KEEL_RESP_EMPTY,      "protocol error (empty reply)")                     \
    X(KEEL_RESP_BAD_TYPE,   "protocol error (unknown reply type)")              \
    X(KEEL_RESP_BAD_NUMBER, "protocol error (bad number or length)")            \
    X(KEEL_RESP_TOO_LARGE,  "reply larger than 64 MiB")                         \
    X(KEEL_RESP_TOO_DEEP,   "unexpected nested or long array reply")

enum keel_resp_status {
#define KEEL_RESP_ENUM(code, text) code,
    KEEL_RESP_STATUS_LIST(KEEL_RESP_ENUM)
#undef KEEL_RESP_ENUM
};

const char *keel_resp_status_text(enum keel_resp_status s);

typedef struct keel_resp_reply {
    char type;                        /* '+', '-', ':', '$', '*' */
    long long integer;                /* ':'; '$' / '*' length, -1 = nil */
    char *str;                        /* '+', '-', '$' (NUL-terminated after len bytes) */
    size_t len;
    struct keel_resp_reply *elems;    /* '*': integer of them when integer > 0 */
} keel_resp_reply;

/* Parses the reply at the start of buf[0..len).
 *   KEEL_RESP_OK          *out is the reply (the caller frees it with
 *                         keel_resp_reply_free); *out_n bytes were used.
 *   KEEL_RESP_INCOMPLETE  buf starts a reply but does not hold all of it:
 *                         *out_n (> len) bytes are worth trying again with.
 *   anything else         a protocol error or out of memory.
 * Except on KEEL_RESP_OK, *out is zeroed and owns nothing. An incomplete
 * reply is parsed again from its start once more bytes are there: the
 * online store's replies are small, and a bulk string's length is known
 * from its header, so its bytes are waited for in one go. */
enum keel_resp_status keel_resp_parse(const char *buf, size_t len, keel_resp_reply *out,
                                      size_t *out_n);

/* Frees what r owns and zeroes it (r itself is the caller's). */
void keel_resp_reply_free(keel_resp_reply *r);

#endif
