/*
 * webhook.c — registry events POSTed to subscribers with libcurl: signed
 * with HMAC-SHA256 when the webhook has a secret, retried with exponential
 * backoff, every delivery recorded (see keel/webhook.h).
 */
#include <keel/json.h>
#include <keel/util.h>
#include <keel/webhook.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WEBHOOK_ATTEMPTS 3
#define WEBHOOK_TIMEOUT_MS 5000L
#define WEBHOOK_FIRST_BACKOFF_MS 200

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int keel_webhook_add(keel_store *s, const char *url, const char *events, const char *secret,
                     int64_t *out_id, keel_err *err)
{
    if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return keel_errf(err, KEEL_EINVAL, "webhook URL '%s' must start with http:// or https://",
                         url != NULL ? url : "");
    if (strlen(url) > 2048)
        return keel_errf(err, KEEL_EINVAL, "webhook URL is longer than 2048 characters");
    if (events == NULL || events[0] == '\0')
        events = "*";
    static const char *const known[] = { "version_created", "alias_moved", "gate_failed", "*" };
    char copy[512];
    snprintf(copy, sizeof copy, "%s", events);
    for (char *save = NULL, *e = strtok_r(copy, ",", &save); e != NULL;
         e = strtok_r(NULL, ",", &save)) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= strcmp(e, known[i]) == 0;
        if (!ok)
            return keel_errf(err, KEEL_EINVAL, "unknown webhook event '%s' (version_created, "
                             "alias_moved, gate_failed or *)", e);
    }
    int rc = keel_store_execv(s, "INSERT INTO webhooks (url, events, secret, created_time) "
                                 "VALUES (?, ?, ?, ?)", NULL, err, "ttti", url, events,
                              secret != NULL && secret[0] != '\0' ? secret : NULL, keel_now_ms());
    if (rc != KEEL_OK || out_id == NULL)
        return rc;
    keel_stmt *st;
    rc = keel_store_prepare(s, "SELECT MAX(id) FROM webhooks", true, &st, err);
    if (rc == KEEL_OK) {
        if (keel_stmt_step(st, err) == KEEL_STEP_ROW)
            *out_id = keel_stmt_int64(st, 0);
        keel_stmt_release(st);
    }
    return rc;
}

int keel_webhook_remove(keel_store *s, int64_t id, keel_err *err)
{
    int64_t changed = 0;
    int rc = keel_store_execv(s, "DELETE FROM webhooks WHERE id = ?", &changed, err, "i", id);
    if (rc == KEEL_OK && changed == 0)
        rc = keel_errf(err, KEEL_ENOTFOUND, "no webhook with id %lld", (long long)id);
    return rc;
}

static const char *dup_text(keel_arena *a, keel_stmt *st, int col)
{
    const char *t = keel_stmt_text(st, col);
    return keel_arena_strdup(a, t != NULL ? t : "");
}

int keel_webhook_list(keel_store *s, keel_arena *a, keel_webhook **out, size_t *out_n,
                      keel_err *err)
{
    keel_stmt *st;
    int rc = keel_store_prepare(s, "SELECT id, url, events, secret IS NOT NULL, created_time "
                                   "FROM webhooks ORDER BY id", true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    size_t n = 0, cap = 16;
    keel_webhook *list = keel_arena_alloc(a, cap * sizeof *list);
    enum keel_step r;
    while (list != NULL && (r = keel_stmt_step(st, err)) == KEEL_STEP_ROW) {
        if (n == cap) {
            keel_webhook *grown = keel_arena_alloc(a, cap * 2 * sizeof *grown);
            if (grown == NULL)
                break;
            memcpy(grown, list, n * sizeof *grown);
            list = grown;
            cap *= 2;
        }
        list[n++] = (keel_webhook){ keel_stmt_int64(st, 0), dup_text(a, st, 1),
                                    dup_text(a, st, 2), keel_stmt_int64(st, 3) != 0,
                                    keel_stmt_int64(st, 4) };
    }
    keel_stmt_release(st);
    *out = list;
    *out_n = n;
    return list != NULL ? KEEL_OK : keel_errf(err, KEEL_ENOMEM, "out of memory");
}

int keel_webhook_deliveries(keel_store *s, int64_t limit, keel_arena *a,
                            keel_webhook_delivery **out, size_t *out_n, keel_err *err)
{
    if (limit <= 0)
        limit = 100;
    keel_stmt *st;
    int rc = keel_store_prepare(s, "SELECT webhook_id, event, time, status, attempts, delivered, "
                                   "error FROM webhook_deliveries ORDER BY time DESC LIMIT ?",
                                true, &st, err);
    if (rc != KEEL_OK)
        return rc;
    keel_stmt_bind_int64(st, 1, limit);
    keel_webhook_delivery *list = keel_arena_alloc(a, (size_t)limit * sizeof *list);
    size_t n = 0;
    while (list != NULL && keel_stmt_step(st, err) == KEEL_STEP_ROW)
        list[n++] = (keel_webhook_delivery){ keel_stmt_int64(st, 0), dup_text(a, st, 1),
                                             keel_stmt_int64(st, 2), keel_stmt_int64(st, 3),
                                             keel_stmt_int64(st, 4), keel_stmt_int64(st, 5) != 0,
                                             dup_text(a, st, 6) };
    keel_stmt_release(st);
    *out = list;
    *out_n = n;
    return list != NULL ? KEEL_OK : keel_errf(err, KEEL_ENOMEM, "out of memory");
}

static bool wants(const char *events, const char *event)
{
    if (strcmp(events, "*") == 0)
        return true;
    size_t n = strlen(event);
    for (const char *p = events; (p = strstr(p, event)) != NULL; p += n) {
        bool starts = p == events || p[-1] == ',';
        bool ends = p[n] == '\0' || p[n] == ',';
        if (starts && ends)
            return true;
    }
    return false;
}

static void sign(const char *secret, const char *body, char out[80])
{
    unsigned char mac[32];
    size_t len = 0;
    out[0] = '\0';
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
                  (const unsigned char *)body, strlen(body), mac, sizeof mac, &len) == NULL)
        return;
    char *w = out + sprintf(out, "sha256=");
    for (size_t i = 0; i < len; i++)
        w += sprintf(w, "%02x", mac[i]);
}

static size_t discard(char *p, size_t size, size_t n, void *user)
{
    (void)p;
    (void)user;
    return size * n;
}

/* One POST; returns the HTTP status (0 when nothing answered). */
static long post_once(const char *url, const char *event, const char *signature,
                      const char *body, char *error, size_t error_size)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(error, error_size, "curl: cannot start a request");
        return 0;
    }
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    char line[160];
    snprintf(line, sizeof line, "X-Keel-Event: %s", event);
    headers = curl_slist_append(headers, line);
    if (signature[0] != '\0') {
        snprintf(line, sizeof line, "X-Keel-Signature: %s", signature);
        headers = curl_slist_append(headers, line);
    }
    char curl_error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, WEBHOOK_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    long status = 0;
    CURLcode res = curl_easy_perform(c);
    if (res == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (res != CURLE_OK)
        snprintf(error, error_size, "%s", curl_error[0] != '\0' ? curl_error
                                                                  : curl_easy_strerror(res));
    else if (status < 200 || status >= 300)
        snprintf(error, error_size, "HTTP %ld", status);
    else
        error[0] = '\0';
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return status;
}

static void deliver(keel_store *s, int64_t id, const char *url, const char *secret,
                    const char *event, const char *body, int *failures)
{
    char signature[80] = "";
    if (secret != NULL && secret[0] != '\0')
        sign(secret, body, signature);
    char error[CURL_ERROR_SIZE + 32] = "";
    long status = 0;
    int attempt = 0;
    long backoff_ms = WEBHOOK_FIRST_BACKOFF_MS;
    while (attempt < WEBHOOK_ATTEMPTS) {
        attempt++;
        status = post_once(url, event, signature, body, error, sizeof error);
        if (error[0] == '\0')
            break;
        if (attempt < WEBHOOK_ATTEMPTS) {
            struct timespec pause = { backoff_ms / 1000, (backoff_ms % 1000) * 1000000L };
            nanosleep(&pause, NULL);
            backoff_ms *= 4;
        }
    }
    bool delivered = error[0] == '\0';
    if (!delivered) {
        (*failures)++;
        keel_log(KEEL_LOG_WARN, "webhook %lld (%s) %s: %s after %d attempts", (long long)id, url,
                 event, error, attempt);
    }
    keel_err err;
    keel_store_execv(s, "INSERT INTO webhook_deliveries (webhook_id, event, time, status, "
                        "attempts, delivered, error, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     NULL, &err, "itiiiitt", id, event, keel_now_ms(), (int64_t)status,
                     (int64_t)attempt, (int64_t)delivered, error, body);
}

int keel_webhooks_fire(keel_store *s, const char *event, json_t *data)
{
    pthread_once(&curl_once, curl_init_once);
    json_t *envelope = json_pack("{s:s, s:I, s:o}", "event", event, "time",
                                 (json_int_t)keel_now_ms(), "data", data != NULL ? data
                                                                                : json_object());
    char *body = keel_json_dumps(envelope, false);
    json_decref(envelope);
    if (body == NULL)
        return 1;
    /* Read the subscribers first; deliveries write to the store. */
    keel_arena a;
    keel_arena_init(&a, 0);
    keel_stmt *st;
    keel_err err;
    typedef struct target { int64_t id; const char *url, *secret; } target;
    target *targets = NULL;
    size_t n = 0, cap = 0;
    if (keel_store_prepare(s, "SELECT id, url, events, secret FROM webhooks ORDER BY id", true, &st,
                           &err) == KEEL_OK) {
        while (keel_stmt_step(st, &err) == KEEL_STEP_ROW) {
            const char *events = keel_stmt_text(st, 2);
            if (events == NULL || !wants(events, event))
                continue;
            if (n == cap) {
                size_t ncap = cap == 0 ? 8 : cap * 2;
                target *grown = keel_arena_alloc(&a, ncap * sizeof *grown);
                if (grown == NULL)
                    break;
                if (n > 0)
                    memcpy(grown, targets, n * sizeof *grown);
                targets = grown;
                cap = ncap;
            }
            const char *secret = keel_stmt_text(st, 3);
            targets[n++] = (target){ keel_stmt_int64(st, 0), dup_text(&a, st, 1),
                                     secret != NULL ? keel_arena_strdup(&a, secret) : NULL };
        }
        keel_stmt_release(st);
    }
    int failures = 0;
    for (size_t i = 0; i < n; i++)
        deliver(s, targets[i].id, targets[i].url, targets[i].secret, event, body, &failures);
    keel_arena_free(&a);
    free(body);
    return failures;
}
