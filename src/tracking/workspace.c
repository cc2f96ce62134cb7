/*
 * workspace.c — finding, creating and opening a keel home (.keel/).
 */
#include <keel/workspace.h>
#include <keel/util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int home_paths(const char *home, char *db, size_t db_size, char *objects,
                      size_t objects_size, keel_err *err)
{
    if ((size_t)snprintf(db, db_size, "%s/keel.db", home) >= db_size ||
        (size_t)snprintf(objects, objects_size, "%s/objects", home) >= objects_size)
        return keel_errf(err, KEEL_EINVAL, "keel home path '%s' is too long", home);
    return KEEL_OK;
}

static const char *store_uri(const char *db_path)
{
    const char *uri = getenv("KEEL_STORE_URI");
    return uri != NULL && uri[0] != '\0' ? uri : db_path;
}

int keel_workspace_init(const char *dir, char *out_home, size_t out_home_size, keel_err *err)
{
    char cwd[PATH_MAX];
    if (dir == NULL) {
        if (getcwd(cwd, sizeof cwd) == NULL)
            return keel_errf(err, KEEL_EIO, "cannot read the working directory: %s",
                             strerror(errno));
        dir = cwd;
    }
    char home[PATH_MAX], db[PATH_MAX], objects[PATH_MAX];
    if ((size_t)snprintf(home, sizeof home, "%s/.keel", dir) >= sizeof home)
        return keel_errf(err, KEEL_EINVAL, "directory path '%s' is too long", dir);
    int rc = home_paths(home, db, sizeof db, objects, sizeof objects, err);
    if (rc == KEEL_OK)
        rc = keel_mkdir_p(objects, err);
    if (rc != KEEL_OK)
        return rc;
    char ignore[PATH_MAX + 16];
    snprintf(ignore, sizeof ignore, "%s/.gitignore", home);
    if (!keel_path_exists(ignore)) {
        static const char text[] = "# keel's local state: metadata and artifacts\n*\n";
        rc = keel_write_file_atomic(ignore, text, sizeof text - 1, err);
        if (rc != KEEL_OK)
            return rc;
    }
    keel_store *store = NULL;
    rc = keel_store_open(store_uri(db), &store, err);
    keel_store_close(store);
    if (rc == KEEL_OK && out_home != NULL)
        snprintf(out_home, out_home_size, "%s", home);
    return rc;
}

/* KEEL_HOME, else the nearest .keel at or above the working directory. */
static int find_home(char out[PATH_MAX], keel_err *err)
{
    const char *env = getenv("KEEL_HOME");
    if (env != NULL && env[0] != '\0') {
        if (!keel_path_is_dir(env))
            return keel_errf(err, KEEL_ENOTFOUND, "KEEL_HOME '%s' is not a directory", env);
        char *abs = realpath(env, NULL);
        if (abs == NULL)
            return keel_errf(err, KEEL_EIO, "KEEL_HOME '%s': %s", env, strerror(errno));
        snprintf(out, PATH_MAX, "%s", abs);
        free(abs);
        return KEEL_OK;
    }
    char dir[PATH_MAX];
    if (getcwd(dir, sizeof dir) == NULL)
        return keel_errf(err, KEEL_EIO, "cannot read the working directory: %s",
                         strerror(errno));
    for (;;) {
        char candidate[PATH_MAX + 8];
        snprintf(candidate, sizeof candidate, "%s/.keel", strcmp(dir, "/") == 0 ? "" : dir);
        if (keel_path_is_dir(candidate) && strlen(candidate) < PATH_MAX) {
            memcpy(out, candidate, strlen(candidate) + 1);
            return KEEL_OK;
        }
        char *slash = strrchr(dir, '/');
        if (slash == NULL || strcmp(dir, "/") == 0)
            break;
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    return keel_errf(err, KEEL_ENOTFOUND,
                     "no keel home found in this directory or any parent; run 'keel init' "
                     "or set KEEL_HOME");
}

int keel_workspace_open(keel_workspace **out, keel_err *err)
{
    keel_workspace *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    int rc = find_home(ws->home, err);
    char db[PATH_MAX], objects[PATH_MAX];
    if (rc == KEEL_OK)
        rc = home_paths(ws->home, db, sizeof db, objects, sizeof objects, err);
    if (rc == KEEL_OK)
        rc = keel_store_open(store_uri(db), &ws->store, err);
    if (rc == KEEL_OK)
        rc = keel_cas_open(objects, &ws->cas, err);
    if (rc != KEEL_OK) {
        keel_workspace_close(ws);
        return rc;
    }
    *out = ws;
    return KEEL_OK;
}

void keel_workspace_close(keel_workspace *ws)
{
    if (ws == NULL)
        return;
    keel_cas_close(ws->cas);
    keel_store_close(ws->store);
    free(ws);
}
