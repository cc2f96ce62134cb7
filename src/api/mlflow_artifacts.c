/*
 * mlflow_artifacts.c — MLflow's artifact proxy (/api/2.0/mlflow-artifacts/)
 * over keel's content-addressed store.
 *
 * Paths are the ones MLflow clients build from a run's artifact URI
 * "mlflow-artifacts:/<experiment_id>/<run_id>/artifacts": the proxy path
 * "<experiment_id>/<run_id>/artifacts/<relative path>" names one entry of
 * that run's artifact tree. Uploads stream into the object store (never held
 * whole in memory); the tree entry is written only once the object is
 * complete and hashed, so a truncated upload leaves nothing behind.
 */
#include "api.h"
#include "mlflow_handlers.h"

#include <keel/tracking.h>
#include <keel/util.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Splits "<exp>/<run_id>/artifacts[/<rel>]" into the run id and the relative
 * path (NULL for the root). Fills an error response when it does not fit. */
static int parse_proxy_path(keel_http_resp *resp, keel_arena *a, const char *path,
                            const char **out_run_id, const char **out_rel, bool need_rel)
{
    if (path == NULL)
        path = "";
    while (*path == '/')
        path++;
    const char *slash1 = strchr(path, '/');
    const char *slash2 = slash1 != NULL ? strchr(slash1 + 1, '/') : NULL;
    bool ok = slash1 != NULL && slash2 != NULL && slash1 > path &&
              strspn(path, "0123456789") == (size_t)(slash1 - path) &&
              strncmp(slash2 + 1, "artifacts", 9) == 0 &&
              (slash2[10] == '\0' || slash2[10] == '/');
    if (!ok) {
        char msg[600];
        snprintf(msg, sizeof msg, "artifact path '%.400s' is not of the form "
                 "<experiment_id>/<run_id>/artifacts/<path>", path);
        return api_error(resp, KEEL_EINVAL, msg);
    }
    const char *run_id = keel_arena_strndup(a, slash1 + 1, (size_t)(slash2 - slash1 - 1));
    keel_err err;
    if (keel_validate_run_id(run_id, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    const char *rel = slash2[10] == '/' ? slash2 + 11 : "";
    size_t rel_len = strlen(rel);
    while (rel_len > 0 && rel[rel_len - 1] == '/')
        rel_len--;
    rel = keel_arena_strndup(a, rel, rel_len);
    if (rel[0] != '\0' && keel_artifact_path_check(rel, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    if (need_rel && rel[0] == '\0')
        return api_error(resp, KEEL_EINVAL, "an artifact path must name a file below "
                                            "<experiment_id>/<run_id>/artifacts/");
    *out_run_id = run_id;
    *out_rel = rel[0] != '\0' ? rel : NULL;
    return KEEL_OK;
}

int mlflow_artifact_download(keel_http_req *req, keel_http_resp *resp)
{
    keel_api_app *app = req->app;
    const char *run_id, *rel;
    if (parse_proxy_path(resp, req->arena, req->path_rest, &run_id, &rel, true) != KEEL_OK)
        return KEEL_EINVAL;
    keel_store *s = api_store(req, resp);
    if (s == NULL)
        return KEEL_ESTORE;
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    keel_err err;
    char object[4096];
    if (keel_artifacts_stat(s, run_id, rel, hash, &size, &err) != KEEL_OK ||
        keel_cas_verify(app->cas, hash, &err) != KEEL_OK ||
        keel_cas_object_path(app->cas, hash, object, sizeof object, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    int fd = open(object, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return api_error(resp, KEEL_EIO, strerror(errno));
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    resp->file_fd = fd;
    resp->file_size = size;
    return KEEL_OK;
}

int mlflow_artifact_delete(keel_http_req *req, keel_http_resp *resp)
{
    const char *run_id, *rel;
    if (parse_proxy_path(resp, req->arena, req->path_rest, &run_id, &rel, true) != KEEL_OK)
        return KEEL_EINVAL;
    keel_store *s = api_store(req, resp);
    if (s == NULL)
        return KEEL_ESTORE;
    keel_err err;
    if (keel_artifacts_delete(s, run_id, rel, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    return api_ok(resp, NULL);
}

/* GET /api/2.0/mlflow-artifacts/artifacts?path=…: children of path, named
 * relative to it, as MLflow's proxy lists them. */
int mlflow_artifact_list_proxy(keel_http_req *req, keel_http_resp *resp)
{
    const char *run_id, *rel;
    if (parse_proxy_path(resp, req->arena, keel_http_query(req, "path"), &run_id, &rel, false) !=
        KEEL_OK)
        return KEEL_EINVAL;
    keel_store *s = api_store(req, resp);
    if (s == NULL)
        return KEEL_ESTORE;
    keel_artifact_entry *list = NULL;
    size_t n = 0;
    keel_err err;
    if (keel_artifacts_list(s, run_id, rel, req->arena, &list, &n, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    size_t prefix = rel != NULL ? strlen(rel) + 1 : 0;
    json_t *files = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_pack("{s:s, s:b}", "path", list[i].path + prefix, "is_dir",
                              list[i].is_dir);
        if (!list[i].is_dir)
            json_object_set_new(f, "file_size", json_integer(list[i].size));
        json_array_append_new(files, f);
    }
    return api_ok(resp, json_pack("{s:o}", "files", files));
}

typedef struct upload {
    keel_cas_writer *writer;
    const char *run_id;
    const char *rel;
} upload;

static int upload_begin(keel_http_req *req, keel_http_resp *resp, void **state)
{
    keel_api_app *app = req->app;
    const char *run_id, *rel;
    if (parse_proxy_path(resp, req->arena, req->path_rest, &run_id, &rel, true) != KEEL_OK)
        return KEEL_EINVAL;
    keel_store *s = api_store(req, resp);
    if (s == NULL)
        return KEEL_ESTORE;
    /* Refuse before reading the body when the run cannot take artifacts. */
    keel_err err;
    if (keel_run_check_active(s, run_id, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    upload *up = keel_arena_alloc(req->arena, sizeof *up);
    if (up == NULL)
        return api_error(resp, KEEL_ENOMEM, "out of memory");
    up->run_id = run_id;
    up->rel = rel;
    if (keel_cas_writer_begin(app->cas, &up->writer, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    *state = up;
    return KEEL_OK;
}

static int upload_chunk(keel_http_req *req, keel_http_resp *resp, void *state, const char *data,
                        size_t n)
{
    (void)req;
    upload *up = state;
    keel_err err;
    if (keel_cas_writer_write(up->writer, data, n, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    return KEEL_OK;
}

static int upload_end(keel_http_req *req, keel_http_resp *resp, void *state)
{
    upload *up = state;
    char hash[KEEL_SHA256_HEX_LEN + 1];
    int64_t size = 0;
    keel_err err;
    keel_cas_writer *w = up->writer;
    up->writer = NULL;
    if (keel_cas_writer_commit(w, hash, &size, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    keel_store *s = api_store(req, resp);
    if (s == NULL)
        return KEEL_ESTORE;
    if (keel_artifacts_put_entry(s, up->run_id, up->rel, hash, size, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    return api_ok(resp, NULL);
}

static void upload_abort(void *state)
{
    upload *up = state;
    if (up->writer != NULL)
        keel_cas_writer_abort(up->writer);
    up->writer = NULL;
}

const keel_http_upload mlflow_artifact_upload = {
    .begin = upload_begin,
    .chunk = upload_chunk,
    .end = upload_end,
    .abort = upload_abort,
};
