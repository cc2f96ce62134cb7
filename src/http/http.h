/*
 * http.h — keel's HTTP server: libmicrohttpd underneath, a static route
 * table on top.
 *
 * A route is a row (method, path, match kind, handler, flags, body limit).
 * The server matches once, enforces the row's limits (413 for a body over
 * max_body, before it is read), buffers the body or streams it to the
 * route's upload callbacks, then calls the handler with a per-request arena.
 * Every response carries X-Request-Id; every request gets an access-log
 * line. Handlers run on a pool of threads: they must only touch per-thread
 * or locked state.
 */
#ifndef KEEL_HTTP_H
#define KEEL_HTTP_H

#include <keel/arena.h>
#include <keel/buf.h>
#include <keel/error.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEL_HTTP_DEFAULT_MAX_BODY (1u << 20)

typedef struct keel_http_server keel_http_server;

typedef struct keel_http_req {
    const char *method;        /* "GET", "POST", … */
    const char *url;           /* path as requested (decoded), no query */
    const char *path_rest;     /* for prefix routes: what follows the prefix */
    const char *request_id;
    const char *body;          /* buffered body (NUL-terminated), or NULL */
    size_t body_len;
    keel_arena *arena;         /* freed when the response is sent */
    void *app;                 /* the server's application context */
    void *conn;                /* struct MHD_Connection, for the helpers below */
} keel_http_req;

#define KEEL_HTTP_MAX_HEADERS 4

typedef struct keel_http_resp {
    int status;
    const char *content_type;  /* default application/json */
    keel_buf body;
    int file_fd;               /* >= 0: send this file instead of body (closed after) */
    int64_t file_size;
    const char *headers[KEEL_HTTP_MAX_HEADERS][2];  /* extra (name, value), borrowed */
    int n_headers;
} keel_http_resp;

/* Adds a response header (name and value must live until the response is
 * sent: string literals or request-arena memory). Ignored past the limit. */
void keel_http_header_add(keel_http_resp *resp, const char *name, const char *value);

/* A route's upload callbacks stream a request body instead of buffering it.
 * begin runs before the first byte (it may fill resp and fail, e.g. 404),
 * chunk for each piece, end after the last; abort when the client goes away
 * or an earlier callback failed. State is the callback's own. */
typedef struct keel_http_upload {
    int (*begin)(keel_http_req *req, keel_http_resp *resp, void **state);
    int (*chunk)(keel_http_req *req, keel_http_resp *resp, void *state, const char *data,
                 size_t n);
    int (*end)(keel_http_req *req, keel_http_resp *resp, void *state);
    void (*abort)(void *state);
} keel_http_upload;

enum keel_route_match { KEEL_ROUTE_EXACT, KEEL_ROUTE_PREFIX };

typedef struct keel_http_route {
    const char *method;
    const char *path;
    enum keel_route_match match;
    int (*handler)(keel_http_req *req, keel_http_resp *resp);  /* NULL with upload */
    const keel_http_upload *upload;
    size_t max_body;           /* 0 = KEEL_HTTP_DEFAULT_MAX_BODY */
} keel_http_route;

typedef struct keel_http_config {
    const char *host;          /* "127.0.0.1" */
    int port;                  /* 0 = pick a free port (see keel_http_port) */
    int threads;               /* 0 = number of cores */
    const keel_http_route *routes;
    size_t n_routes;
    /* Answers requests no route matched (e.g. MLflow's ENDPOINT_NOT_FOUND);
     * resp->status is already 404, or 405 when the path exists for another
     * method. */
    int (*not_found)(keel_http_req *req, keel_http_resp *resp);
    /* Answers a body over the route's limit (status 413 already set). */
    void (*too_large)(keel_http_req *req, keel_http_resp *resp, size_t limit);
    void *app;
    FILE *access_log;          /* NULL = no access log */
    /* One thread per connection instead of a pool of event loops: spreads
     * a few busy keep-alive connections over all cores (a pool's loops
     * accept unevenly), at the cost of a thread per client. */
    bool thread_per_connection;
} keel_http_config;

/* Starts listening; the routes and app must outlive the server. */
int keel_http_start(const keel_http_config *cfg, keel_http_server **out, keel_err *err);

/* The port actually bound (useful with port 0). */
int keel_http_port(const keel_http_server *srv);

/* Stops accepting, waits up to grace_ms for requests in flight, then stops.
 * NULL is fine. */
void keel_http_stop(keel_http_server *srv, int grace_ms);

/* Query-string value of name, or NULL. Repeated names: the first. */
const char *keel_http_query(const keel_http_req *req, const char *name);

/* Every query argument as a JSON object of strings; a name given more than
 * once becomes an array. New reference. */
json_t *keel_http_query_json(const keel_http_req *req);

/* Request header value, or NULL. */
const char *keel_http_header(const keel_http_req *req, const char *name);

/* Sets the response to status and a JSON body (takes the reference). */
void keel_http_json(keel_http_resp *resp, int status, json_t *body);

#endif
