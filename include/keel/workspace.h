/*
 * keel/workspace.h — a keel home (`.keel/`): where the metadata store and
 * the object store of one project live.
 *
 * Found like `.git`: KEEL_HOME if set, else the nearest `.keel/` at or above
 * the working directory. Layout: .keel/keel.db (SQLite metadata store, unless
 * KEEL_STORE_URI names another), .keel/objects/ (artifacts).
 */
#ifndef KEEL_WORKSPACE_H
#define KEEL_WORKSPACE_H

#include <keel/artifacts.h>
#include <keel/error.h>
#include <keel/store.h>

#include <limits.h>

typedef struct keel_workspace {
    char home[PATH_MAX];      /* absolute path of the .keel directory */
    keel_store *store;
    keel_cas *cas;
} keel_workspace;

/* Creates DIR/.keel (DIR NULL = the working directory) with its store and
 * object directory; an existing home is left as it is (and migrated). The
 * home's path goes to out_home when not NULL. */
int keel_workspace_init(const char *dir, char *out_home, size_t out_home_size, keel_err *err);

/* Finds and opens the home (see above). KEEL_ENOTFOUND, saying to run
 * `keel init`, when there is none. Close with keel_workspace_close. */
int keel_workspace_open(keel_workspace **out, keel_err *err);

void keel_workspace_close(keel_workspace *ws);

#endif
