/*
 * fuzz_resp.c — the Redis reply parser of the online store: bytes as what a
 * server sent, read as a pipeline of replies through keel_resp_parse until
 * one is incomplete or broken, each reply freed.
 *
 * Invariants checked (abort on violation): a parsed reply used at least one
 * and at most the remaining bytes, has a known type, strings NUL-terminated
 * at their length (read to the end, so ASan sees a short one), bulk and
 * array lengths of -1 (nil) or within the limits, elements only for a
 * non-empty array and no deeper than KEEL_RESP_MAX_DEPTH; the same reply
 * parses alike from exactly its bytes, and is incomplete one byte short; an
 * incomplete parse asks for more bytes than it had; a failure leaves
 * nothing allocated (LeakSanitizer).
 */
#include "features/resp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_reply(const keel_resp_reply *r, int depth)
{
    if (depth > KEEL_RESP_MAX_DEPTH + 1)
        abort();
    switch (r->type) {
    case '+':
    case '-':
    case '$':
        if (r->type == '$' && r->integer == -1) {
            if (r->str != NULL || r->len != 0)
                abort();
            break;
        }
        if (r->str == NULL || r->str[r->len] != '\0' ||
            (r->type == '$' && (r->integer < 0 || (size_t)r->integer != r->len ||
                                r->len > KEEL_RESP_MAX_BULK)))
            abort();
        for (size_t i = 0; i < r->len; i++) {
            volatile char ch = r->str[i];
            (void)ch;
        }
        if (r->elems != NULL)
            abort();
        break;
    case ':':
        if (r->str != NULL || r->elems != NULL)
            abort();
        break;
    case '*':
        if (r->str != NULL || r->integer < -1 || r->integer > KEEL_RESP_MAX_ARRAY ||
            (r->integer > 0) != (r->elems != NULL))
            abort();
        for (long long i = 0; i < r->integer; i++)
            check_reply(&r->elems[i], depth + 1);
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t at = 0;
    while (at < size) {
        keel_resp_reply r;
        size_t n = 0;
        enum keel_resp_status s = keel_resp_parse(buf + at, size - at, &r, &n);
        if (s == KEEL_RESP_INCOMPLETE) {
            if (n <= size - at || r.str != NULL || r.elems != NULL)
                abort();
            break;
        }
        if (s != KEEL_RESP_OK) {
            if (keel_resp_status_text(s)[0] == '\0' || r.str != NULL || r.elems != NULL)
                abort();
            break;
        }
        if (n == 0 || n > size - at)
            abort();
        check_reply(&r, 0);
        /* Exactly its bytes, copied so that ASan sees a read past them. */
        char *exact = malloc(n);
        if (exact == NULL)
            abort();
        memcpy(exact, buf + at, n);
        keel_resp_reply again;
        size_t n2 = 0;
        if (keel_resp_parse(exact, n, &again, &n2) != KEEL_RESP_OK || n2 != n ||
            again.type != r.type || again.integer != r.integer || again.len != r.len)
            abort();
        keel_resp_reply_free(&again);
        if (keel_resp_parse(exact, n - 1, &again, &n2) != KEEL_RESP_INCOMPLETE || n2 <= n - 1)
            abort();
        free(exact);
        keel_resp_reply_free(&r);
        if (r.str != NULL || r.elems != NULL || r.type != 0)
            abort();
        at += n;
    }
    return 0;
}
