/*
 * keel/util.h — small core services: clocks, SHA-256, random ids, logging,
 * and files written atomically.
 */
#ifndef KEEL_UTIL_H
#define KEEL_UTIL_H

#include <keel/arena.h>
#include <keel/error.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- clocks ---- */

/* Wall-clock milliseconds since the Unix epoch (MLflow's timestamp unit). */
int64_t keel_now_ms(void);

/* "500ms", "30s", "1.5m", "2h", "7d" or a number of seconds → seconds in
 * *out; KEEL_EINVAL for anything else (negative, unknown unit, junk). */
int keel_parse_duration(const char *s, double *out);

/* Monotonic nanoseconds, for measuring durations. */
int64_t keel_monotonic_ns(void);

/* Formats epoch milliseconds as "YYYY-MM-DD HH:MM:SS" (UTC) into out
 * (at least 20 bytes); "-" for 0 or negative. */
void keel_format_time(int64_t ms, char *out, size_t out_size);

/* ---- SHA-256 ---- */

#define KEEL_SHA256_HEX_LEN 64

typedef struct keel_sha256 {
    void *ctx;  /* EVP_MD_CTX */
} keel_sha256;

int keel_sha256_init(keel_sha256 *h, keel_err *err);
void keel_sha256_update(keel_sha256 *h, const void *p, size_t n);
/* Writes 64 lowercase hex digits and a NUL into out_hex and frees the
 * context. */
void keel_sha256_final(keel_sha256 *h, char out_hex[KEEL_SHA256_HEX_LEN + 1]);
/* Frees a context without producing a digest (error paths). */
void keel_sha256_abort(keel_sha256 *h);

/* One-shot digest of n bytes. */
int keel_sha256_hex(const void *p, size_t n, char out_hex[KEEL_SHA256_HEX_LEN + 1],
                    keel_err *err);

/* Digest of a whole file, streamed. */
int keel_sha256_file(const char *path, char out_hex[KEEL_SHA256_HEX_LEN + 1],
                     int64_t *out_size, keel_err *err);

/* ---- random ids ---- */

/* 32 lowercase hex digits from the OS CSPRNG (MLflow's run id form). */
int keel_random_hex32(char out[33], keel_err *err);

/* ---- logging ---- */

enum keel_log_level { KEEL_LOG_DEBUG, KEEL_LOG_INFO, KEEL_LOG_WARN, KEEL_LOG_ERROR, KEEL_LOG_OFF };

/* Logs to stderr when level is at or above the threshold, which comes from
 * KEEL_LOG (debug|info|warn|error|off; default warn), read once. */
void keel_log(enum keel_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- files ---- */

/* Creates dir and its parents (mode 0755); existing directories are fine. */
int keel_mkdir_p(const char *dir, keel_err *err);

/* Writes n bytes to path so that a reader sees the old file or the new one,
 * never a torn one: temp file in the same directory, fsync, rename, fsync of
 * the directory. */
int keel_write_file_atomic(const char *path, const void *p, size_t n, keel_err *err);

/* fsync of a directory, so a rename or create in it survives a crash. */
int keel_fsync_dir(const char *dir, keel_err *err);

/* Reads a whole file of at most max bytes into a heap buffer (NUL-terminated;
 * free() it). KEEL_ELIMIT when larger, naming the path. */
int keel_read_file(const char *path, size_t max, char **out_data, size_t *out_len,
                   keel_err *err);

/* Removes path and, for a directory, everything below it (no symlinks are
 * followed). A missing path is fine. */
int keel_remove_tree(const char *path, keel_err *err);

/* Makes a new directory under $TMPDIR (or /tmp) named prefix-XXXXXX and
 * writes its path into out (PATH_MAX bytes). */
int keel_make_temp_dir(const char *prefix, char *out, size_t out_size, keel_err *err);

bool keel_path_is_dir(const char *path);
bool keel_path_exists(const char *path);

/* dir/path (path as is when absolute) made absolute and tidied lexically:
 * "." and ".." segments and doubled slashes go, so the same text always
 * gives the same path whether the file exists or not. Arena string. */
char *keel_path_join_absolute(keel_arena *a, const char *dir, const char *path);

/* The absolute directory of a file path (symlinks resolved when it exists,
 * else made absolute against the working directory). Arena string. */
const char *keel_path_dir_absolute(keel_arena *a, const char *path);

#endif
