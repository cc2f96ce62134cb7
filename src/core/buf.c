/*
 * buf.c — capped growable buffer.
 */
#include <keel/buf.h>
#include <keel/error.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void keel_buf_init(keel_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void keel_buf_free(keel_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void keel_buf_reset(keel_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static int buf_reserve(keel_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return KEEL_ELIMIT;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return KEEL_OK;
    size_t cap = b->cap == 0 ? 256 : b->cap;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        return KEEL_ENOMEM;
    b->data = p;
    b->cap = cap;
    return KEEL_OK;
}

int keel_buf_append(keel_buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc != KEEL_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return KEEL_OK;
}

int keel_buf_puts(keel_buf *b, const char *s)
{
    return keel_buf_append(b, s, strlen(s));
}

int keel_buf_printf(keel_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return KEEL_EINVAL;
    int rc = buf_reserve(b, (size_t)n);
    if (rc != KEEL_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return KEEL_OK;
}

char *keel_buf_take(keel_buf *b)
{
    char *p = b->data;
    if (p == NULL)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
