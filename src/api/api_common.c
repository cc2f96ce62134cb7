/*
 * api_common.c — what every REST handler shares: per-thread store handles,
 * request messages, MLflow's error shape and HTTP statuses.
 */
#include "api.h"

#include <keel/features.h>

#include <keel/json.h>
#include <keel/tracking.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void close_thread_store(void *store)
{
    keel_store_close(store);
}

#define CHECKPOINT_INTERVAL_MS 250
#define WAL_RESTART_BYTES (64 << 20)

/* Copies the write-ahead log back into the database file every quarter
 * second, so no request waits for that copy and its fsync while holding the
 * write lock. PASSIVE never blocks anyone; but under constant writes it can
 * never reach the end of the log, so once the log passes 64 MiB a RESTART
 * checkpoint (writers wait a moment) lets it be reused from the start; when
 * a large log stops growing (the load is over), TRUNCATE gives the disk
 * space back. */
static void *checkpoint_loop(void *arg)
{
    keel_api_app *app = arg;
    keel_store *s = NULL;
    keel_err err;
    if (keel_store_open(app->store_uri, &s, &err) != KEEL_OK)
        return NULL;
    if (keel_store_dialect(s) != KEEL_DIALECT_SQLITE) {
        keel_store_close(s);
        return NULL;
    }
    char wal[sizeof app->store_uri + 8];
    const char *path = strncmp(app->store_uri, "sqlite:", 7) == 0 ? app->store_uri + 7
                                                                  : app->store_uri;
    snprintf(wal, sizeof wal, "%s-wal", path);
    off_t last_size = 0;
    pthread_mutex_lock(&app->stop_lock);
    while (!app->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += CHECKPOINT_INTERVAL_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&app->stop_cond, &app->stop_lock, &until);
        pthread_mutex_unlock(&app->stop_lock);
        struct stat st;
        off_t size = stat(wal, &st) == 0 ? st.st_size : 0;
        bool large = size > WAL_RESTART_BYTES;
        const char *mode = !large ? "PRAGMA wal_checkpoint(PASSIVE)"
                           : size == last_size ? "PRAGMA wal_checkpoint(TRUNCATE)"
                                               : "PRAGMA wal_checkpoint(RESTART)";
        keel_store_exec(s, mode, &err);
        last_size = size;
        pthread_mutex_lock(&app->stop_lock);
    }
    pthread_mutex_unlock(&app->stop_lock);
    keel_store_close(s);
    return NULL;
}

int keel_api_app_init(keel_api_app *app, const char *store_uri, const char *artifacts_root,
                      keel_err *err)
{
    memset(app, 0, sizeof *app);
    pthread_mutex_init(&app->feature_push_lock, NULL);
    if (strlen(store_uri) >= sizeof app->store_uri)
        return keel_errf(err, KEEL_EINVAL, "store URI is too long");
    snprintf(app->store_uri, sizeof app->store_uri, "%s", store_uri);
    keel_store *probe = NULL;
    int rc = keel_store_open(store_uri, &probe, err);
    keel_store_close(probe);
    if (rc != KEEL_OK)
        return rc;
    rc = keel_cas_open(artifacts_root, &app->cas, err);
    if (rc != KEEL_OK)
        return rc;
    app->write_lock = keel_store_lock_new();
    if (app->write_lock == NULL || pthread_key_create(&app->store_key, close_thread_store) != 0) {
        keel_cas_close(app->cas);
        keel_store_lock_destroy(app->write_lock);
        return keel_errf(err, KEEL_ENOMEM, "cannot set up per-thread stores");
    }
    pthread_mutex_init(&app->stop_lock, NULL);
    pthread_cond_init(&app->stop_cond, NULL);
    app->checkpointer_running =
        pthread_create(&app->checkpointer, NULL, checkpoint_loop, app) == 0;
    return KEEL_OK;
}

void keel_api_app_free(keel_api_app *app)
{
    if (app->checkpointer_running) {
        pthread_mutex_lock(&app->stop_lock);
        app->stopping = true;
        pthread_cond_signal(&app->stop_cond);
        pthread_mutex_unlock(&app->stop_lock);
        pthread_join(app->checkpointer, NULL);
    }
    pthread_mutex_destroy(&app->stop_lock);
    pthread_cond_destroy(&app->stop_cond);
    keel_store *mine = pthread_getspecific(app->store_key);
    keel_store_close(mine);
    pthread_setspecific(app->store_key, NULL);
    pthread_key_delete(app->store_key);
    keel_cas_close(app->cas);
    keel_store_lock_destroy(app->write_lock);
    keel_online_store_close(app->online_store);
    keel_feature_repo_free(app->feature_repo);
    pthread_mutex_destroy(&app->feature_push_lock);
}

keel_store *api_store(keel_http_req *req, keel_http_resp *resp)
{
    keel_api_app *app = req->app;
    keel_store *s = pthread_getspecific(app->store_key);
    if (s != NULL)
        return s;
    keel_err err;
    if (keel_store_open(app->store_uri, &s, &err) != KEEL_OK) {
        api_error(resp, err.code, err.msg);
        return NULL;
    }
    keel_store_set_write_lock(s, app->write_lock);
    if (keel_store_dialect(s) == KEEL_DIALECT_SQLITE)
        keel_store_exec(s, "PRAGMA wal_autocheckpoint=0", &err);  /* the checkpointer's job */
    pthread_setspecific(app->store_key, s);
    return s;
}

static const struct {
    int code;
    int status;
    const char *mlflow_code;
} error_map[] = {
    { KEEL_EINVAL, 400, "INVALID_PARAMETER_VALUE" },
    { KEEL_EPARSE, 400, "INVALID_PARAMETER_VALUE" },
    { KEEL_ECONFLICT, 400, "INVALID_PARAMETER_VALUE" },
    { KEEL_ESTATE, 400, "INVALID_PARAMETER_VALUE" },
    { KEEL_ELIMIT, 400, "INVALID_PARAMETER_VALUE" },
    { KEEL_ENOTFOUND, 404, "RESOURCE_DOES_NOT_EXIST" },
    { KEEL_EEXIST, 400, "RESOURCE_ALREADY_EXISTS" },
    { KEEL_EBUSY, 503, "TEMPORARILY_UNAVAILABLE" },
};

int api_error(keel_http_resp *resp, int code, const char *message)
{
    int status = 500;
    const char *mlflow_code = "INTERNAL_ERROR";
    for (size_t i = 0; i < sizeof error_map / sizeof error_map[0]; i++) {
        if (error_map[i].code == code) {
            status = error_map[i].status;
            mlflow_code = error_map[i].mlflow_code;
        }
    }
    keel_http_json(resp, status, json_pack("{s:s, s:s}", "error_code", mlflow_code, "message",
                                           message != NULL ? message : keel_rc_text(code)));
    return code;
}

/* proto3 JSON leaves out empty repeated fields; MLflow clients expect that. */
static void strip_empty_arrays(json_t *v)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            strip_empty_arrays(json_array_get(v, i));
        return;
    }
    if (!json_is_object(v))
        return;
    const char *key;
    json_t *item;
    void *tmp;
    json_object_foreach_safe(v, tmp, key, item) {
        if (json_is_array(item) && json_array_size(item) == 0)
            json_object_del(v, key);
        else
            strip_empty_arrays(item);
    }
}

int api_ok(keel_http_resp *resp, json_t *body)
{
    if (body == NULL)
        body = json_object();
    strip_empty_arrays(body);
    keel_http_json(resp, 200, body);
    return KEEL_OK;
}

json_t *api_request_message(keel_http_req *req, keel_http_resp *resp)
{
    /* MLflow's clients send DELETE with a JSON body; curl users send a query. */
    bool has_body = strcmp(req->method, "POST") == 0 || strcmp(req->method, "PUT") == 0 ||
                    strcmp(req->method, "PATCH") == 0 ||
                    (strcmp(req->method, "DELETE") == 0 && req->body_len > 0);
    if (!has_body)
        return keel_http_query_json(req);
    if (req->body_len == 0)
        return json_object();
    json_t *msg = NULL;
    keel_err err;
    /* MLflow answers a body it cannot read with INVALID_PARAMETER_VALUE;
     * keel does too, and says where the JSON broke. */
    if (keel_json_parse(req->body, req->body_len, KEEL_JSON_MAX_DEPTH, &msg, &err) != KEEL_OK) {
        keel_err_prefix(&err, "request body");
        api_error(resp, KEEL_EINVAL, err.msg);
        return NULL;
    }
    if (!json_is_object(msg)) {
        json_decref(msg);
        api_error(resp, KEEL_EINVAL, "request body must be a JSON object");
        return NULL;
    }
    return msg;
}

int api_get_string(keel_http_resp *resp, const json_t *msg, const char *field, bool required,
                   const char **out)
{
    keel_err err;
    if (keel_json_get_string(msg, field, required, out, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    return KEEL_OK;
}

int api_get_int64(keel_http_resp *resp, const json_t *msg, const char *field, bool required,
                  int64_t *out)
{
    keel_err err;
    if (keel_json_get_int64(msg, field, required, out, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    return KEEL_OK;
}

int api_get_run_id(keel_http_resp *resp, const json_t *msg, const char **out)
{
    *out = NULL;
    int rc = api_get_string(resp, msg, "run_id", false, out);
    if (rc == KEEL_OK && (*out == NULL || (*out)[0] == '\0'))
        rc = api_get_string(resp, msg, "run_uuid", false, out);
    if (rc == KEEL_OK && (*out == NULL || (*out)[0] == '\0'))
        return api_error(resp, KEEL_EINVAL, "missing value for required field 'run_id'");
    return rc;
}

int api_get_experiment_id(keel_http_resp *resp, const json_t *msg, const char *field,
                          int64_t *out)
{
    const char *text = NULL;
    const json_t *v = json_object_get(msg, field);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return KEEL_OK;
    }
    int rc = api_get_string(resp, msg, field, true, &text);
    if (rc != KEEL_OK)
        return rc;
    char *end = NULL;
    errno = 0;
    long long id = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || id < 0) {
        char msg_text[300];
        snprintf(msg_text, sizeof msg_text, "invalid value '%.200s' for field '%s': expected an "
                 "experiment id", text, field);
        return api_error(resp, KEEL_EINVAL, msg_text);
    }
    *out = id;
    return KEEL_OK;
}

int api_write_begin(keel_store *s, keel_http_resp *resp)
{
    keel_err err;
    if (keel_store_begin(s, &err) != KEEL_OK)
        return api_error(resp, err.code, err.msg);
    return KEEL_OK;
}

int api_write_end(keel_store *s, keel_http_resp *resp, int rc, keel_err *err)
{
    if (rc != KEEL_OK) {
        keel_store_rollback(s);
        return api_error(resp, rc, err->msg);
    }
    keel_err cerr;
    if (keel_store_commit(s, &cerr) != KEEL_OK)
        return api_error(resp, cerr.code, cerr.msg);
    return KEEL_OK;
}

int api_finish(keel_http_resp *resp, json_t *msg, int rc, keel_err *err, json_t *body)
{
    json_decref(msg);
    if (rc != KEEL_OK) {
        json_decref(body);
        if (resp->status == 200)
            api_error(resp, rc, err->msg);
        return rc;
    }
    return api_ok(resp, body);
}

int api_string_list(keel_http_req *req, keel_http_resp *resp, const json_t *msg,
                    const char *field, const char ***out, size_t *out_n)
{
    const json_t *v = json_object_get(msg, field);
    *out = NULL;
    *out_n = 0;
    if (v == NULL || json_is_null(v))
        return KEEL_OK;
    if (!json_is_array(v) && strcmp(req->method, "GET") != 0) {
        char text[128];
        snprintf(text, sizeof text, "field '%s' must be a list", field);
        return api_error(resp, KEEL_EINVAL, text);
    }
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    const char **items = keel_arena_alloc(req->arena, (n + 1) * sizeof *items);
    for (size_t i = 0; items != NULL && i < n; i++) {
        const json_t *item = json_is_array(v) ? json_array_get(v, i) : v;
        if (!json_is_string(item) && !json_is_integer(item)) {
            char text[128];
            snprintf(text, sizeof text, "field '%s' must be a list of strings", field);
            return api_error(resp, KEEL_EINVAL, text);
        }
        items[i] = json_is_string(item)
                       ? json_string_value(item)
                       : keel_arena_sprintf(req->arena, "%lld", (long long)json_integer_value(item));
    }
    *out = items;
    *out_n = n;
    return KEEL_OK;
}

json_t *api_page(const char *field, json_t *items, const char *next_page_token)
{
    json_t *body = json_pack("{s:o}", field, items);
    if (next_page_token != NULL)
        json_object_set_new(body, "next_page_token", json_string(next_page_token));
    return body;
}

int api_search_args_get(keel_http_req *req, keel_http_resp *resp, const json_t *msg,
                        api_search_args *out)
{
    *out = (api_search_args){ 0 };
    int rc = api_get_string(resp, msg, "filter", false, &out->filter);
    if (rc == KEEL_OK)
        rc = api_get_int64(resp, msg, "max_results", false, &out->max_results);
    if (rc == KEEL_OK)
        rc = api_get_string(resp, msg, "page_token", false, &out->page_token);
    if (rc == KEEL_OK)
        rc = api_string_list(req, resp, msg, "order_by", &out->order_by, &out->n_order_by);
    return rc;
}
