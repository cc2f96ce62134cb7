/*
 * keel/buf.h — growable byte buffer with a hard maximum.
 *
 * Every buffer that grows from outside input has a cap; appending past it
 * fails with KEEL_ELIMIT and leaves the buffer as it was. data is always
 * NUL-terminated (the NUL is not counted in len).
 */
#ifndef KEEL_BUF_H
#define KEEL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct keel_buf {
    char *data;    /* heap, owned by the buffer; NULL until first append */
    size_t len;
    size_t cap;    /* allocated bytes */
    size_t max;    /* most bytes len may reach */
} keel_buf;

/* Initialises an embedded buffer that may hold up to max bytes. */
void keel_buf_init(keel_buf *b, size_t max);

/* Frees the storage; the buffer is empty and usable afterwards. */
void keel_buf_free(keel_buf *b);

/* Empties the buffer, keeping its storage. */
void keel_buf_reset(keel_buf *b);

/* Appends n bytes; KEEL_ELIMIT past max, KEEL_ENOMEM when out of memory. */
int keel_buf_append(keel_buf *b, const void *p, size_t n);
int keel_buf_puts(keel_buf *b, const char *s);
int keel_buf_printf(keel_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Hands the storage to the caller (free() it) and empties the buffer.
 * Returns an empty heap string rather than NULL for an empty buffer. */
char *keel_buf_take(keel_buf *b);

#endif
