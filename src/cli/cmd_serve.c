/*
 * cmd_serve.c — `keel serve`, the model server.
 */
#include "cli.h"


#include "serve/serve.h"

#include <keel/buf.h>
#include <keel/util.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 10000

/* The name a slot answers to: NAME of NAME@ALIAS or models:/NAME/…, or a
 * path's base name without ".json". */
static char *slot_name(const char *ref)
{
    const char *start = strncmp(ref, "models:/", 8) == 0 ? ref + 8 : ref;
    if (keel_path_exists(ref)) {
        const char *slash = strrchr(ref, '/');
        start = slash != NULL && slash[1] != '\0' ? slash + 1 : ref;
    }
    size_t n = strcspn(start, "@/");
    if (n > 5 && strncmp(start + n - 5, ".json", 5) == 0)
        n -= 5;
    return strndup(start, n);
}

static int open_slot(struct cli_ctx *ctx, keel_workspace *ws, const char *ref, model_slot *slot)
{
    memset(slot, 0, sizeof *slot);
    pthread_mutex_init(&slot->lock, NULL);
    slot->ref = strdup(ref);
    slot->name = slot_name(ref);
    slot->follows_alias = !keel_path_exists(ref) && strchr(ref, '@') != NULL;
    return served_model_load(ws, ref, &slot->current, &ctx->err);
}

static void close_slot(model_slot *slot)
{
    served_model_release(slot->current);
    served_model_release(slot->canary);
    served_model_release(slot->shadow);
    pthread_mutex_destroy(&slot->lock);
    free(slot->name);
    free(slot->ref);
    free(slot->canary_ref);
    free(slot->shadow_ref);
}

static int parse_int_opt(struct cli_ctx *ctx, const char *name, long long lo, long long hi,
                         long long *out)
{
    const char *text = cli_opt(ctx, name);
    if (text == NULL)
        return KEEL_OK;
    char what[40];
    snprintf(what, sizeof what, "--%s", name);
    if (cli_parse_int64(ctx, what, text, out) != KEEL_OK || *out < lo || *out > hi)
        return keel_errf(&ctx->err, KEEL_EINVAL, "%s must be a number from %lld to %lld", what,
                         lo, hi);
    return KEEL_OK;
}

static int cmd_serve(struct cli_ctx *ctx)
{
    long long port = 8080, threads = 0, poll_ms = 1000, in_flight = 1024;
    double sample = 1.0;
    if (parse_int_opt(ctx, "port", 0, 65535, &port) != KEEL_OK ||
        parse_int_opt(ctx, "threads", 0, 256, &threads) != KEEL_OK ||
        parse_int_opt(ctx, "poll-ms", 50, 3600000, &poll_ms) != KEEL_OK ||
        parse_int_opt(ctx, "max-in-flight", 1, 1000000, &in_flight) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    if (cli_opt(ctx, "log-sample") != NULL &&
        (cli_parse_double(ctx, "--log-sample", cli_opt(ctx, "log-sample"), &sample) != KEEL_OK ||
         !(sample >= 0 && sample <= 1)))
        return cli_usage_error(ctx, "--log-sample must be a number from 0 to 1");

    long long window_rows = 10000, min_rows = 100, capacity = 100000;
    double window_s = 60, ttl_s = 86400;
    if (parse_int_opt(ctx, "window-rows", 1, 1000000000, &window_rows) != KEEL_OK ||
        parse_int_opt(ctx, "min-window-rows", 1, 1000000000, &min_rows) != KEEL_OK ||
        parse_int_opt(ctx, "feedback-capacity", 0, 10000000, &capacity) != KEEL_OK)
        return cli_usage_error(ctx, "%s", ctx->err.msg);
    if ((cli_opt(ctx, "window") != NULL &&
         (keel_parse_duration(cli_opt(ctx, "window"), &window_s) != KEEL_OK || window_s < 0.1)) ||
        (cli_opt(ctx, "feedback-ttl") != NULL &&
         (keel_parse_duration(cli_opt(ctx, "feedback-ttl"), &ttl_s) != KEEL_OK || ttl_s < 1)))
        return cli_usage_error(ctx, "--window and --feedback-ttl are durations such as 30s, 5m, "
                                    "24h (at least 100ms and 1s)");

    keel_workspace *ws = NULL;
    keel_err ws_err;
    bool have_ws = keel_workspace_open(&ws, &ws_err) == KEEL_OK;
    serve_app app;
    memset(&app, 0, sizeof app);
    app.ws = ws;
    app.monitor = !cli_flag(ctx, "no-monitor");
    app.window_ms = (int64_t)(window_s * 1000);
    app.window_rows = (uint64_t)window_rows;
    app.min_rows = (uint64_t)min_rows;
    if (have_ws)
        snprintf(app.home, sizeof app.home, "%s", ws->home);
    pthread_mutex_init(&app.stop_lock, NULL);
    pthread_cond_init(&app.stop_cond, NULL);
    app.max_in_flight = (int)in_flight;
    app.poll_ms = (int)poll_ms;
    app.started_ms = keel_now_ms();
    app.n_slots = (size_t)ctx->n_args;
    app.slots = calloc(app.n_slots, sizeof *app.slots);
    int rc = app.slots != NULL ? KEEL_OK : keel_errf(&ctx->err, KEEL_ENOMEM, "out of memory");
    size_t opened = 0;
    for (; rc == KEEL_OK && opened < app.n_slots; opened++) {
        const char *ref = ctx->args[opened];
        if (!have_ws && !keel_path_exists(ref)) {
            ctx->err = ws_err;
            rc = ws_err.code;
            break;
        }
        rc = open_slot(ctx, ws, ref, &app.slots[opened]);
    }
    /* --canary REF:PERCENT and --shadow REF apply to the first model. */
    const char *canary = cli_opt(ctx, "canary");
    if (rc == KEEL_OK && canary != NULL) {
        const char *colon = strrchr(canary, ':');
        long long pct = -1;
        if (colon != NULL)
            pct = strtoll(colon + 1, NULL, 10);
        if (colon == NULL || pct < 1 || pct > 99)
            rc = keel_errf(&ctx->err, KEEL_EINVAL, "--canary is REF:PERCENT with 1-99 percent");
        else {
            app.slots[0].canary_ref = strndup(canary, (size_t)(colon - canary));
            app.slots[0].canary_percent = (int)pct;
            rc = served_model_load(ws, app.slots[0].canary_ref, &app.slots[0].canary, &ctx->err);
        }
    }
    if (rc == KEEL_OK && cli_opt(ctx, "shadow") != NULL) {
        app.slots[0].shadow_ref = strdup(cli_opt(ctx, "shadow"));
        rc = served_model_load(ws, app.slots[0].shadow_ref, &app.slots[0].shadow, &ctx->err);
    }
    if (rc == KEEL_OK && sample > 0) {
        char dir[PATH_MAX + 32];
        const char *log_dir = cli_opt(ctx, "log-dir");
        if (log_dir == NULL && have_ws)
            snprintf(dir, sizeof dir, "%s/predictions", ws->home);
        else
            snprintf(dir, sizeof dir, "%s", log_dir != NULL ? log_dir : "predictions");
        rc = prediction_log_open(dir, 65536, sample, &app.log, &ctx->err);
    }
    if (rc == KEEL_OK && capacity > 0)
        rc = feedback_table_new((size_t)capacity, (int64_t)(ttl_s * 1000), &app.feedback,
                                &ctx->err);
    if (rc == KEEL_OK && capacity > 0 && have_ws) {
        char dir[PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s/feedback", ws->home);
        rc = prediction_log_open(dir, 65536, 1.0, &app.feedback_log, &ctx->err);
    }
    if (rc == KEEL_OK && (cli_opt(ctx, "features") != NULL) !=
                             (cli_opt(ctx, "feature-service") != NULL))
        rc = keel_errf(&ctx->err, KEEL_EINVAL, "--features and --feature-service go together");
    if (rc == KEEL_OK && cli_opt(ctx, "features") != NULL)
        rc = serve_enrich_setup(&app, cli_opt(ctx, "features"), cli_opt(ctx, "feature-service"),
                                cli_opt(ctx, "online-store"), &ctx->err);
    if (rc == KEEL_OK && cli_opt(ctx, "rules") != NULL) {
        if (!app.monitor)
            rc = keel_errf(&ctx->err, KEEL_EINVAL, "--rules needs monitoring (drop --no-monitor)");
        else
            rc = serve_rules_load(cli_opt(ctx, "rules"), &app, &app.rules, &ctx->err);
    }
    FILE *access_log = NULL;
    const char *log_opt = cli_opt(ctx, "access-log");
    if (rc == KEEL_OK && log_opt != NULL && strcmp(log_opt, "off") != 0) {
        access_log = strcmp(log_opt, "-") == 0 ? stderr : fopen(log_opt, "a");
        if (access_log == NULL)
            rc = keel_errf(&ctx->err, KEEL_EIO, "--access-log %s: %s", log_opt, strerror(errno));
    }
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    keel_http_server *srv = NULL;
    if (rc == KEEL_OK && have_ws)
        rc = serve_watch_start(&app, &ctx->err);
    if (rc == KEEL_OK && app.monitor)
        rc = serve_monitor_start(&app, &ctx->err);
    if (rc == KEEL_OK) {
        keel_http_config cfg = {
            .host = cli_opt(ctx, "host") != NULL ? cli_opt(ctx, "host") : "127.0.0.1",
            .port = (int)port,
            .threads = (int)threads,
            .routes = serve_routes,
            .n_routes = serve_n_routes,
            .not_found = serve_not_found,
            .too_large = serve_too_large,
            .app = &app,
            .access_log = access_log,
            /* Measured on 2 cores with wrk -c16: 47k requests/s with a thread per
             * connection, 28k with a pool of event loops (uneven accepts). */
            .thread_per_connection = !cli_flag(ctx, "event-loops"),
        };
        rc = keel_http_start(&cfg, &srv, &ctx->err);
        if (rc == KEEL_OK) {
            fprintf(stderr, "keel serve listening on http://%s:%d\n", cfg.host,
                    keel_http_port(srv));
            for (size_t i = 0; i < app.n_slots; i++)
                fprintf(stderr, "  %s: version %s (%s)%s\n", app.slots[i].name,
                        app.slots[i].current->version_text, app.slots[i].ref,
                        app.slots[i].follows_alias ? ", follows the alias" : "");
            int sig = 0;
            sigwait(&stop_signals, &sig);
            fprintf(stderr, "keel serve: stopping\n");
            keel_http_stop(srv, SHUTDOWN_GRACE_MS);
        }
    }
    serve_monitor_stop(&app);
    serve_watch_stop(&app);
    prediction_log_close(app.log);
    prediction_log_close(app.feedback_log);
    feedback_table_free(app.feedback);
    serve_rules_free(app.rules);
    serve_enrich_free(&app);
    for (size_t i = 0; i < opened && app.slots != NULL; i++)
        close_slot(&app.slots[i]);
    free(app.slots);
    if (access_log != NULL && access_log != stderr)
        fclose(access_log);
    keel_workspace_close(ws);
    if (rc != KEEL_OK)
        return cli_fail(ctx);
    fprintf(stderr, "keel serve: stopped\n");
    return CLI_EXIT_OK;
}

static const struct cli_opt serve_opts[] = {
    { "host", CLI_VALUE, "ADDR", "IPv4 address to listen on (127.0.0.1)" },
    { "port", CLI_VALUE, "PORT", "port (8080; 0 picks a free one)" },
    { "threads", CLI_VALUE, "N", "worker threads (number of cores)" },
    { "canary", CLI_VALUE, "REF:PERCENT", "send PERCENT of requests to another version" },
    { "shadow", CLI_VALUE, "REF", "copy requests to another version; its answers are only logged" },
    { "poll-ms", CLI_VALUE, "MS", "how often to check whether an alias moved (1000)" },
    { "log-sample", CLI_VALUE, "FRACTION", "share of requests in the prediction log (1; 0 = off)" },
    { "log-dir", CLI_VALUE, "DIR", "prediction log directory (.keel/predictions)" },
    { "max-in-flight", CLI_VALUE, "N", "requests handled at once before 429 (1024)" },
    { "access-log", CLI_VALUE, "FILE|-|off", "access log (off)" },
    { "no-monitor", CLI_FLAG, NULL, "no drift windows (feedback still joins labels)" },
    { "window", CLI_VALUE, "DURATION", "a monitoring window closes after this long (60s)" },
    { "window-rows", CLI_VALUE, "N", "… or after this many rows (10000)" },
    { "min-window-rows", CLI_VALUE, "N", "a window needs this many rows to be measured (100)" },
    { "feedback-capacity", CLI_VALUE, "N", "predictions remembered for delayed labels (100000; "
                                           "0 = no /feedback)" },
    { "feedback-ttl", CLI_VALUE, "DURATION", "labels are taken for predictions this recent (24h)" },
    { "rules", CLI_VALUE, "FILE", "alert rules (docs/monitoring.md)" },
    { "features", CLI_VALUE, "FILE", "features.yaml: requests may carry only entity keys …" },
    { "feature-service", CLI_VALUE, "NAME", "… and get this service's features from the online "
                                            "store (docs/features.md)" },
    { "online-store", CLI_VALUE, "URI", "redis://… or an LMDB directory ($KEEL_ONLINE_STORE; "
                                        "the keel home's)" },
    { "event-loops", CLI_FLAG, NULL,
      "serve with a pool of event loops (--threads) instead of a thread per connection" },
    { NULL },
};

const struct cli_cmd cli_serve_cmds[] = {
    { NULL, "serve", "MODEL…", 1, 16, serve_opts, cmd_serve,
      "serve models (NAME@ALIAS, models:/NAME/V, a bundle dir or model.json) over OIP v2 and "
      "/invocations", false, true },
    { NULL },
};
