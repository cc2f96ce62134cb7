/*
 * keel/webhook.h — registry events delivered to HTTP endpoints.
 *
 * A webhook is a URL, the events it wants ("version_created",
 * "alias_moved", "gate_failed", or "*") and an optional secret. Each event is
 * POSTed as {"event", "time", "data"} with headers X-Keel-Event and, with a
 * secret, X-Keel-Signature: sha256=<hex HMAC-SHA256 of the body>. A failed
 * delivery (connection error, timeout, non-2xx) is retried with exponential
 * backoff (3 attempts); every delivery is recorded with its outcome.
 * Delivery is synchronous: the change that fired it is already committed and
 * is never undone by a failed delivery.
 */
#ifndef KEEL_WEBHOOK_H
#define KEEL_WEBHOOK_H

#include <keel/arena.h>
#include <keel/error.h>
#include <keel/store.h>

#include <stdint.h>

struct json_t;

typedef struct keel_webhook {
    int64_t id;
    const char *url;
    const char *events;        /* comma-separated, or "*" */
    bool has_secret;
    int64_t created_time;
} keel_webhook;

typedef struct keel_webhook_delivery {
    int64_t webhook_id;
    const char *event;
    int64_t time;
    int64_t status;            /* HTTP status of the last attempt, 0 if none answered */
    int64_t attempts;
    bool delivered;
    const char *error;         /* "" when delivered */
} keel_webhook_delivery;

/* Adds a webhook; url must be http:// or https://. */
int keel_webhook_add(keel_store *s, const char *url, const char *events, const char *secret,
                     int64_t *out_id, keel_err *err);
int keel_webhook_remove(keel_store *s, int64_t id, keel_err *err);
int keel_webhook_list(keel_store *s, keel_arena *a, keel_webhook **out, size_t *out_n,
                      keel_err *err);
/* Newest first, at most limit (0 = 100). */
int keel_webhook_deliveries(keel_store *s, int64_t limit, keel_arena *a,
                            keel_webhook_delivery **out, size_t *out_n, keel_err *err);

/* Delivers event with data (the reference is taken) to every webhook that
 * wants it. Returns how many deliveries failed; failures are recorded and
 * logged, never returned as errors. */
int keel_webhooks_fire(keel_store *s, const char *event, struct json_t *data);

#endif
