/*
 * arena.c — chunked bump allocator. Chunks grow geometrically up to 1 MiB;
 * a request larger than a chunk gets a chunk of its own.
 */
#include <keel/arena.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_MIN_CHUNK 4096u
#define ARENA_MAX_CHUNK (1u << 20)
#define ARENA_ALIGN     16u

struct keel_arena_chunk {
    struct keel_arena_chunk *next;
    size_t size;
    size_t used;
    _Alignas(16) unsigned char data[];
};

void keel_arena_init(keel_arena *a, size_t cap)
{
    a->head = NULL;
    a->used_total = 0;
    a->cap = cap;
}

void keel_arena_free(keel_arena *a)
{
    struct keel_arena_chunk *c = a->head;
    while (c != NULL) {
        struct keel_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

void *keel_arena_alloc_uninit(keel_arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (a->cap != 0 && (need > a->cap || a->used_total > a->cap - need))
        return NULL;

    struct keel_arena_chunk *c = a->head;
    if (c == NULL || c->size - c->used < need) {
        size_t size = c == NULL ? ARENA_MIN_CHUNK : c->size * 2;
        if (size > ARENA_MAX_CHUNK)
            size = ARENA_MAX_CHUNK;
        if (size < need)
            size = need;
        struct keel_arena_chunk *fresh = malloc(sizeof *fresh + size);
        if (fresh == NULL)
            return NULL;
        fresh->size = size;
        fresh->used = 0;
        /* A private oversized chunk goes behind the head, so the head's
         * free space stays usable for small allocations. */
        if (c != NULL && size == need && c->size - c->used > 256) {
            fresh->next = c->next;
            c->next = fresh;
        } else {
            fresh->next = c;
            a->head = fresh;
        }
        c = fresh;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->used_total += need;
    return p;
}

void *keel_arena_alloc(keel_arena *a, size_t n)
{
    void *p = keel_arena_alloc_uninit(a, n);
    if (p != NULL)
        memset(p, 0, n == 0 ? 1 : n);
    return p;
}

char *keel_arena_strndup(keel_arena *a, const char *s, size_t n)
{
    char *p = keel_arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *keel_arena_strdup(keel_arena *a, const char *s)
{
    return keel_arena_strndup(a, s, strlen(s));
}

char *keel_arena_vsprintf(keel_arena *a, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    char *p = keel_arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *keel_arena_sprintf(keel_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = keel_arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return p;
}
