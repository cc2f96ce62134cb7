/*
 * http_server.c — the route table over libmicrohttpd.
 *
 * Each connection's request gets a context (struct request) when its headers
 * arrive: the route is matched and the declared Content-Length checked
 * against the route's limit there, so an oversized upload is refused with
 * 413 before its body is read. The body is then buffered up to the limit, or
 * handed to the route's upload callbacks as it arrives. The context and its
 * arena are freed in the completion callback, which writes the access log.
 */
#include "http.h"

#include <keel/json.h>
#include <keel/util.h>

#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Seconds a connection may sit idle (or an upload stall) before it is
 * closed. It also bounds how long libmicrohttpd's event loop sleeps, and so
 * how soon a client that vanished mid-upload is noticed and its partial
 * object removed. */
#define HTTP_IDLE_TIMEOUT_S 10

struct keel_http_server {
    struct MHD_Daemon *daemon;
    char id_prefix[33];          /* random per server: request ids differ across restarts */
    atomic_uint_fast64_t next_request;
    keel_http_config cfg;
    int port;
    pthread_mutex_t log_lock;
};

struct request {
    keel_http_server *srv;
    const keel_http_route *route;
    keel_arena arena;
    keel_http_req req;
    keel_http_resp resp;
    keel_buf body;
    size_t limit;
    bool too_large;
    bool path_known;        /* no route, but the path exists for another method */
    bool upload_started;
    bool upload_failed;
    void *upload_state;
    int64_t started_ns;
    int status_sent;
    char request_id[33];
};

static const keel_http_route *match_route(const keel_http_config *cfg, const char *method,
                                          const char *url, const char **out_rest,
                                          bool *out_path_known)
{
    *out_path_known = false;
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const keel_http_route *r = &cfg->routes[i];
        size_t n = strlen(r->path);
        bool hit = r->match == KEEL_ROUTE_EXACT ? strcmp(url, r->path) == 0
                                                : strncmp(url, r->path, n) == 0;
        if (!hit)
            continue;
        *out_path_known = true;
        if (strcmp(method, r->method) != 0 &&
            !(strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            continue;
        *out_rest = url + (r->match == KEEL_ROUTE_PREFIX ? n : strlen(url));
        return r;
    }
    return NULL;
}

void keel_http_header_add(keel_http_resp *resp, const char *name, const char *value)
{
    if (resp->n_headers >= KEEL_HTTP_MAX_HEADERS)
        return;
    resp->headers[resp->n_headers][0] = name;
    resp->headers[resp->n_headers][1] = value;
    resp->n_headers++;
}

void keel_http_json(keel_http_resp *resp, int status, json_t *body)
{
    resp->status = status;
    resp->content_type = "application/json";
    keel_buf_reset(&resp->body);
    if (body != NULL) {
        if (keel_json_dump_buf(body, false, &resp->body) != KEEL_OK) {
            keel_buf_reset(&resp->body);
            keel_buf_puts(&resp->body, "{\"error_code\":\"INTERNAL_ERROR\","
                                       "\"message\":\"response too large\"}");
            resp->status = 500;
        }
        json_decref(body);
    }
}

static void default_error(keel_http_resp *resp, int status, const char *code, const char *msg)
{
    keel_http_json(resp, status, json_pack("{s:s, s:s}", "error_code", code, "message", msg));
}

const char *keel_http_query(const keel_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *keel_http_header(const keel_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    json_t *obj = cls;
    json_t *v = json_string(value != NULL ? value : "");
    if (v == NULL)
        return MHD_YES;  /* not valid UTF-8: leave it out; the handler sees it missing */
    json_t *prev = json_object_get(obj, key);
    if (prev == NULL) {
        json_object_set_new(obj, key, v);
    } else if (json_is_array(prev)) {
        json_array_append_new(prev, v);
    } else {
        json_t *arr = json_array();
        json_array_append(arr, prev);
        json_array_append_new(arr, v);
        json_object_set_new(obj, key, arr);
    }
    return MHD_YES;
}

json_t *keel_http_query_json(const keel_http_req *req)
{
    json_t *obj = json_object();
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, add_query_arg, obj);
    return obj;
}

/* Accepts a client's X-Request-Id when it is short and plain, else makes one:
 * a per-server random prefix and a counter, unique and cheap (no syscall or
 * CSPRNG call per request). */
static void set_request_id(struct request *rq, struct MHD_Connection *conn)
{
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given != NULL) {
        size_t n = strlen(given);
        bool plain = n > 0 && n < sizeof rq->request_id;
        for (size_t i = 0; plain && i < n; i++)
            plain = (given[i] >= '0' && given[i] <= '9') || (given[i] >= 'a' && given[i] <= 'z') ||
                    (given[i] >= 'A' && given[i] <= 'Z') || given[i] == '-' || given[i] == '_';
        if (plain) {
            memcpy(rq->request_id, given, n + 1);
            return;
        }
    }
    uint64_t n = atomic_fetch_add(&rq->srv->next_request, 1);
    snprintf(rq->request_id, sizeof rq->request_id, "%.8s%08llx", rq->srv->id_prefix,
             (unsigned long long)n);
}

static struct request *request_new(keel_http_server *srv, struct MHD_Connection *conn,
                                   const char *method, const char *url)
{
    struct request *rq = calloc(1, sizeof *rq);
    if (rq == NULL)
        return NULL;
    rq->srv = srv;
    rq->started_ns = keel_monotonic_ns();
    keel_arena_init(&rq->arena, 0);
    keel_buf_init(&rq->resp.body, (size_t)1 << 30);
    rq->resp.file_fd = -1;
    rq->resp.status = 200;
    set_request_id(rq, conn);
    rq->req.method = keel_arena_strdup(&rq->arena, method);
    rq->req.url = keel_arena_strdup(&rq->arena, url);
    rq->req.request_id = rq->request_id;
    rq->req.arena = &rq->arena;
    rq->req.app = srv->cfg.app;
    rq->req.conn = conn;
    return rq;
}

static void request_free(struct request *rq)
{
    if (rq->upload_started && rq->upload_state != NULL && rq->route->upload->abort != NULL)
        rq->route->upload->abort(rq->upload_state);
    if (rq->resp.file_fd >= 0)
        close(rq->resp.file_fd);
    keel_buf_free(&rq->body);
    keel_buf_free(&rq->resp.body);
    keel_arena_free(&rq->arena);
    free(rq);
}

static enum MHD_Result send_response(struct request *rq, struct MHD_Connection *conn)
{
    keel_http_resp *resp = &rq->resp;
    struct MHD_Response *r;
    if (resp->file_fd >= 0) {
        r = MHD_create_response_from_fd64((uint64_t)resp->file_size, resp->file_fd);
        resp->file_fd = -1;  /* MHD owns it now */
    } else {
        r = MHD_create_response_from_buffer(resp->body.len, resp->body.data != NULL
                                                                ? resp->body.data : "",
                                            MHD_RESPMEM_MUST_COPY);
    }
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type",
                            resp->content_type != NULL ? resp->content_type : "application/json");
    MHD_add_response_header(r, "X-Request-Id", rq->request_id);
    for (int i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
    MHD_add_response_header(r, "Server", "keel/" KEEL_VERSION);
    rq->status_sent = resp->status;
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static size_t declared_length(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    return cl != NULL ? (size_t)strtoull(cl, NULL, 10) : 0;
}

/* First call for a request: match, check the declared size, start uploads. */
static enum MHD_Result request_begin(struct request *rq, struct MHD_Connection *conn)
{
    const keel_http_config *cfg = &rq->srv->cfg;
    bool path_known = false;
    rq->route = match_route(cfg, rq->req.method, rq->req.url, &rq->req.path_rest, &path_known);
    if (rq->route == NULL) {
        rq->path_known = path_known;
        return MHD_YES;  /* answered once the body (ignored) is in */
    }
    rq->limit = rq->route->max_body != 0 ? rq->route->max_body : KEEL_HTTP_DEFAULT_MAX_BODY;
    if (declared_length(conn) > rq->limit) {
        rq->too_large = true;
        return MHD_YES;
    }
    if (rq->route->upload == NULL) {
        keel_buf_init(&rq->body, rq->limit);
        return MHD_YES;
    }
    rq->upload_started = true;
    if (rq->route->upload->begin(&rq->req, &rq->resp, &rq->upload_state) != KEEL_OK)
        rq->upload_failed = true;
    return MHD_YES;
}

static void request_body(struct request *rq, const char *data, size_t n)
{
    if (rq->route == NULL || rq->too_large || rq->upload_failed)
        return;
    if (rq->route->upload != NULL) {
        if (rq->route->upload->chunk(&rq->req, &rq->resp, rq->upload_state, data, n) != KEEL_OK)
            rq->upload_failed = true;
        return;
    }
    if (keel_buf_append(&rq->body, data, n) != KEEL_OK)
        rq->too_large = true;
}

static void request_dispatch(struct request *rq)
{
    const keel_http_config *cfg = &rq->srv->cfg;
    if (rq->too_large) {
        rq->resp.status = 413;
        if (cfg->too_large != NULL) {
            cfg->too_large(&rq->req, &rq->resp, rq->limit);
        } else {
            default_error(&rq->resp, 413, "REQUEST_TOO_LARGE", "request body too large");
        }
        return;
    }
    if (rq->route == NULL) {
        rq->resp.status = rq->path_known ? 405 : 404;
        if (cfg->not_found != NULL)
            cfg->not_found(&rq->req, &rq->resp);
        else
            default_error(&rq->resp, rq->resp.status, "ENDPOINT_NOT_FOUND", "no such endpoint");
        return;
    }
    if (rq->route->upload != NULL) {
        if (!rq->upload_failed) {
            rq->upload_failed =
                rq->route->upload->end(&rq->req, &rq->resp, rq->upload_state) != KEEL_OK;
            rq->upload_state = NULL;  /* end owns the state from here on */
        }
        return;
    }
    rq->req.body = rq->body.data != NULL ? rq->body.data : "";
    rq->req.body_len = rq->body.len;
    rq->route->handler(&rq->req, &rq->resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    keel_http_server *srv = cls;
    struct request *rq = *con_cls;
    if (rq == NULL) {
        rq = request_new(srv, conn, method, url);
        if (rq == NULL)
            return MHD_NO;
        *con_cls = rq;
        return request_begin(rq, conn);
    }
    if (*upload_data_size > 0) {
        request_body(rq, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    request_dispatch(rq);
    return send_response(rq, conn);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    keel_http_server *srv = cls;
    struct request *rq = *con_cls;
    if (rq == NULL)
        return;
    if (srv->cfg.access_log != NULL) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        double ms = (double)(keel_monotonic_ns() - rq->started_ns) / 1e6;
        pthread_mutex_lock(&srv->log_lock);
        fprintf(srv->cfg.access_log, "%s %s %s %s %d %zu %.2fms%s\n", stamp, rq->request_id,
                rq->req.method, rq->req.url, rq->status_sent,
                rq->resp.file_fd >= 0 ? (size_t)rq->resp.file_size : rq->resp.body.len, ms,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
        fflush(srv->cfg.access_log);
        pthread_mutex_unlock(&srv->log_lock);
    }
    request_free(rq);
    *con_cls = NULL;
}

int keel_http_start(const keel_http_config *cfg, keel_http_server **out, keel_err *err)
{
    if (cfg->port < 0 || cfg->port > 65535)
        return keel_errf(err, KEEL_EINVAL, "port %d is out of range (0-65535)", cfg->port);
    keel_http_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    srv->cfg = *cfg;
    pthread_mutex_init(&srv->log_lock, NULL);
    if (keel_random_hex32(srv->id_prefix, err) != KEEL_OK) {
        pthread_mutex_destroy(&srv->log_lock);
        free(srv);
        return err->code;
    }

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    const char *host = cfg->host != NULL ? cfg->host : "127.0.0.1";
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        free(srv);
        return keel_errf(err, KEEL_EINVAL, "--host '%s' is not an IPv4 address", host);
    }
    int threads = cfg->threads > 0 ? cfg->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (cfg->thread_per_connection)
        srv->daemon = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
                MHD_USE_TURBO | MHD_USE_ITC | MHD_USE_ERROR_LOG,
            (uint16_t)cfg->port, NULL, NULL, on_request, srv,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
            MHD_OPTION_END);
    else
        srv->daemon = MHD_start_daemon(
            MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ITC | MHD_USE_ERROR_LOG,
            (uint16_t)cfg->port, NULL, NULL, on_request, srv,
            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
            MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
            MHD_OPTION_END);
    if (srv->daemon == NULL) {
        pthread_mutex_destroy(&srv->log_lock);
        free(srv);
        return keel_errf(err, KEEL_EIO, "cannot listen on %s:%d (in use, or not allowed)", host,
                         cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info != NULL ? info->port : cfg->port;
    *out = srv;
    return KEEL_OK;
}

int keel_http_port(const keel_http_server *srv)
{
    return srv->port;
}

void keel_http_stop(keel_http_server *srv, int grace_ms)
{
    if (srv == NULL)
        return;
    MHD_socket listener = MHD_quiesce_daemon(srv->daemon);
    if (listener != MHD_INVALID_SOCKET)
        close(listener);
    int64_t deadline = keel_monotonic_ns() + (int64_t)grace_ms * 1000000;
    while (keel_monotonic_ns() < deadline) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (info == NULL || info->num_connections == 0)
            break;
        struct timespec pause = { 0, 10 * 1000000L };
        nanosleep(&pause, NULL);
    }
    MHD_stop_daemon(srv->daemon);
    pthread_mutex_destroy(&srv->log_lock);
    free(srv);
}
