/*
 * lineage.c — the source-code half of a run's lineage: which commit of which
 * repository produced it, and whether the working tree had uncommitted
 * changes (libgit2). The data half is the run's dataset inputs.
 */
#include "tracking_internal.h"

#include <git2.h>
#include <stdio.h>
#include <string.h>

/* Collects what is recorded; strings are copied into fixed buffers so the
 * libgit2 objects can be freed before the store is touched. */
typedef struct git_state {
    char commit[GIT_OID_HEXSZ + 1];
    char branch[256];
    char remote_url[1024];
    bool dirty;
} git_state;

static int read_git_state(const char *dir, git_state *gs, bool *out_found, keel_err *err)
{
    *out_found = false;
    git_repository *repo = NULL;
    int grc = git_repository_open_ext(&repo, dir, 0, NULL);
    if (grc == GIT_ENOTFOUND)
        return KEEL_OK;
    if (grc != 0) {
        const git_error *e = git_error_last();
        return keel_errf(err, KEEL_EIO, "git: cannot open repository at '%s': %s", dir,
                         e != NULL ? e->message : "unknown error");
    }
    git_reference *head = NULL;
    grc = git_repository_head(&head, repo);
    if (grc == GIT_EUNBORNBRANCH || grc == GIT_ENOTFOUND) {
        git_repository_free(repo);
        return KEEL_OK;  /* a repository without commits has no commit to record */
    }
    if (grc != 0) {
        git_repository_free(repo);
        return keel_errf(err, KEEL_EIO, "git: cannot read HEAD in '%s'", dir);
    }
    git_oid_tostr(gs->commit, sizeof gs->commit, git_reference_target(head));
    if (git_reference_is_branch(head))
        snprintf(gs->branch, sizeof gs->branch, "%s", git_reference_shorthand(head));
    git_reference_free(head);

    git_remote *origin = NULL;
    if (git_remote_lookup(&origin, repo, "origin") == 0) {
        const char *url = git_remote_url(origin);
        snprintf(gs->remote_url, sizeof gs->remote_url, "%s", url != NULL ? url : "");
        git_remote_free(origin);
    }

    git_status_options opts = GIT_STATUS_OPTIONS_INIT;
    opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
    opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;  /* untracked files do not make it dirty */
    git_status_list *status = NULL;
    grc = git_status_list_new(&status, repo, &opts);
    if (grc == 0) {
        gs->dirty = git_status_list_entrycount(status) > 0;
        git_status_list_free(status);
    }
    git_repository_free(repo);
    if (grc != 0)
        return keel_errf(err, KEEL_EIO, "git: cannot read working tree status in '%s'", dir);
    *out_found = true;
    return KEEL_OK;
}

int keel_run_record_git(keel_store *s, const char *run_id, const char *dir, keel_err *err)
{
    git_libgit2_init();
    git_state gs = { 0 };
    bool found = false;
    int rc = read_git_state(dir, &gs, &found, err);
    git_libgit2_shutdown();
    if (rc != KEEL_OK || !found)
        return rc;
    keel_kv tags[4];
    size_t n = 0;
    tags[n++] = (keel_kv){ "mlflow.source.git.commit", gs.commit };
    tags[n++] = (keel_kv){ "keel.source.git.dirty", gs.dirty ? "true" : "false" };
    if (gs.branch[0] != '\0')
        tags[n++] = (keel_kv){ "mlflow.source.git.branch", gs.branch };
    if (gs.remote_url[0] != '\0')
        tags[n++] = (keel_kv){ "mlflow.source.git.repoURL", gs.remote_url };
    return keel_run_log_batch(s, run_id, NULL, 0, NULL, 0, tags, n, err);
}
