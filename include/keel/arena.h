/*
 * keel/arena.h — region allocator.
 *
 * A request, a CLI command and a job attempt each get one arena; everything
 * allocated from it is freed at once by keel_arena_free. Allocation failure
 * returns NULL (callers report KEEL_ENOMEM); an arena can have a byte cap.
 */
#ifndef KEEL_ARENA_H
#define KEEL_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct keel_arena_chunk;

typedef struct keel_arena {
    struct keel_arena_chunk *head;
    size_t used_total;  /* bytes handed out, for the cap */
    size_t cap;         /* 0 = unlimited */
} keel_arena;

/* Initialises an embedded arena. cap is the most bytes it will hand out
 * (0 = no cap). */
void keel_arena_init(keel_arena *a, size_t cap);

/* Frees every allocation made from a; a stays usable (empty). */
void keel_arena_free(keel_arena *a);

/* n bytes aligned for any type, zeroed; NULL when out of memory or past cap.
 * The memory is owned by the arena. */
void *keel_arena_alloc(keel_arena *a, size_t n);

/* The same, not zeroed: for big arrays whose every element the caller
 * writes (untouched pages of a large request then cost no memory). */
void *keel_arena_alloc_uninit(keel_arena *a, size_t n);

/* Copies of a NUL-terminated string / of n counted bytes (NUL added). */
char *keel_arena_strdup(keel_arena *a, const char *s);
char *keel_arena_strndup(keel_arena *a, const char *s, size_t n);

/* printf into arena memory. */
char *keel_arena_sprintf(keel_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *keel_arena_vsprintf(keel_arena *a, const char *fmt, va_list ap);

#endif
