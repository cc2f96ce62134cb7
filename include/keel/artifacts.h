/*
 * keel/artifacts.h — the content-addressed object store and run artifact
 * trees.
 *
 * Objects live at ROOT/ab/cdef… (the SHA-256 of their bytes, sharded by the
 * first two hex digits). They are written to ROOT/tmp/ first, fsynced, then
 * renamed into place, so an object file either is complete or does not
 * exist; writing bytes that are already stored keeps the existing object
 * (deduplication). Every read recomputes the hash and fails with
 * KEEL_ECORRUPT when it differs, before anything reaches the destination.
 *
 * A run's artifacts are a tree of relative paths, each mapped to an object
 * hash, kept in the metadata store (table run_artifacts). Two runs that log
 * the same 1 GB file store it once.
 */
#ifndef KEEL_ARTIFACTS_H
#define KEEL_ARTIFACTS_H

#include <keel/arena.h>
#include <keel/error.h>
#include <keel/store.h>
#include <keel/util.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct keel_cas keel_cas;
typedef struct keel_cas_writer keel_cas_writer;

/* Opens (creating if needed) an object store rooted at root. */
int keel_cas_open(const char *root, keel_cas **out, keel_err *err);
void keel_cas_close(keel_cas *cas);

/* Streams a new object in: begin, write any number of times, then commit
 * (which returns its hash and size and frees the writer) or abort. */
int keel_cas_writer_begin(keel_cas *cas, keel_cas_writer **out, keel_err *err);
int keel_cas_writer_write(keel_cas_writer *w, const void *p, size_t n, keel_err *err);
int keel_cas_writer_commit(keel_cas_writer *w, char out_hash[KEEL_SHA256_HEX_LEN + 1],
                           int64_t *out_size, keel_err *err);
void keel_cas_writer_abort(keel_cas_writer *w);

/* Stores a file's bytes / n bytes; returns the hash and size. */
int keel_cas_put_file(keel_cas *cas, const char *path, char out_hash[KEEL_SHA256_HEX_LEN + 1],
                      int64_t *out_size, keel_err *err);
int keel_cas_put_bytes(keel_cas *cas, const void *p, size_t n,
                       char out_hash[KEEL_SHA256_HEX_LEN + 1], keel_err *err);

/* True when an object with this hash is stored. */
bool keel_cas_has(keel_cas *cas, const char *hash);

/* Copies object hash to dest (atomically: temp, fsync, rename), verifying
 * its hash on the way; KEEL_ECORRUPT leaves dest untouched. */
int keel_cas_get_file(keel_cas *cas, const char *hash, const char *dest, keel_err *err);

/* Reads a whole object of at most max bytes into a heap buffer (free() it),
 * verified. */
int keel_cas_get_bytes(keel_cas *cas, const char *hash, size_t max, char **out_data,
                       size_t *out_len, keel_err *err);

/* Re-hashes a stored object: KEEL_OK, KEEL_ENOTFOUND or KEEL_ECORRUPT. */
int keel_cas_verify(keel_cas *cas, const char *hash, keel_err *err);

/* Writes the object's file path into out (for tests and diagnostics). */
int keel_cas_object_path(keel_cas *cas, const char *hash, char *out, size_t out_size,
                         keel_err *err);

/* ---- run artifact trees ---- */

typedef struct keel_artifact_entry {
    const char *path;   /* relative to the run's artifact root */
    bool is_dir;
    int64_t size;       /* file size; for directories the sum below them */
    const char *hash;   /* object hash; NULL for directories */
} keel_artifact_entry;

/* Logs a local file, or the contents of a directory (recursively), into the
 * run's artifacts under artifact_path (NULL or "" = the root), as MLflow's
 * log_artifact / log_artifacts do: a file keeps its base name, a directory's
 * children land directly under artifact_path. Paths
 * already logged are replaced. All rows go in one transaction. The run must
 * exist and be active. */
int keel_artifacts_log(keel_store *store, keel_cas *cas, const char *run_id,
                       const char *local_path, const char *artifact_path, keel_err *err);

/* Records one already-stored object at path (used by the MLflow artifact
 * proxy after a streamed upload). */
int keel_artifacts_put_entry(keel_store *store, const char *run_id, const char *path,
                             const char *hash, int64_t size, keel_err *err);

/* Lists the direct children of path (NULL or "" = root), as MLflow's
 * list-artifacts does: files with size and hash, directories with is_dir.
 * Sorted by path. Arrays and strings come from arena a. KEEL_ENOTFOUND for an
 * unknown run. */
int keel_artifacts_list(keel_store *store, const char *run_id, const char *path,
                        keel_arena *a, keel_artifact_entry **out, size_t *out_n,
                        keel_err *err);

/* Fetches path (a file, or a directory and everything below it) into
 * dest_dir, keeping relative paths; every object is verified. */
int keel_artifacts_get(keel_store *store, keel_cas *cas, const char *run_id, const char *path,
                       const char *dest_dir, keel_err *err);

/* Looks up one file entry: its hash and size. KEEL_ENOTFOUND if absent. */
int keel_artifacts_stat(keel_store *store, const char *run_id, const char *path,
                        char out_hash[KEEL_SHA256_HEX_LEN + 1], int64_t *out_size,
                        keel_err *err);

/* Removes path (a file or a whole directory) from the run's tree; objects
 * stay in the store (other runs may share them). */
int keel_artifacts_delete(keel_store *store, const char *run_id, const char *path,
                          keel_err *err);

/* Checks an artifact path: relative, no "..", no empty or "." segments, no
 * NUL or backslash, at most 1024 bytes. KEEL_EINVAL naming it otherwise. */
int keel_artifact_path_check(const char *path, keel_err *err);

#endif
