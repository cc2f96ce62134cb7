/*
 * cmd_server.c — `keel server`: the MLflow-compatible tracking server.
 * Runs until SIGINT or SIGTERM, then stops accepting, lets requests in
 * flight finish (up to 10 s) and closes the store cleanly.
 */
#include "cli.h"

#include <keel/features.h>
#include <keel/pipeline.h>

#include "api/api.h"

#include <keel/util.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHUTDOWN_GRACE_MS 10000

static int cmd_server(struct cli_ctx *ctx)
{
    const char *host = cli_opt(ctx, "host") != NULL ? cli_opt(ctx, "host") : "127.0.0.1";
    long long port = 5000, threads = 0;
    if (cli_opt(ctx, "port") != NULL &&
        (cli_parse_int64(ctx, "--port", cli_opt(ctx, "port"), &port) != KEEL_OK || port < 0 ||
         port > 65535))
        return cli_usage_error(ctx, "--port must be a number from 0 to 65535");
    if (cli_opt(ctx, "threads") != NULL &&
        (cli_parse_int64(ctx, "--threads", cli_opt(ctx, "threads"), &threads) != KEEL_OK ||
         threads < 0 || threads > 256))
        return cli_usage_error(ctx, "--threads must be a number from 0 to 256");

    /* The store and artifacts: flags, else the keel home. */
    const char *store = cli_opt(ctx, "store");
    const char *artifacts = cli_opt(ctx, "artifacts");
    keel_workspace *ws = NULL;
    char db[PATH_MAX + 16], objects[PATH_MAX + 16], home[PATH_MAX] = "";
    char pipelines[PATH_MAX] = "";
    const char *pipelines_opt = cli_opt(ctx, "pipelines");
    const char *features_opt = cli_opt(ctx, "features");
    char features[PATH_MAX] = "";
    if (features_opt != NULL)
        snprintf(features, sizeof features, "%s", features_opt);
    if (store == NULL || artifacts == NULL || pipelines_opt != NULL) {
        if (keel_workspace_open(&ws, &ctx->err) != KEEL_OK)
            return cli_fail(ctx);
        snprintf(home, sizeof home, "%s", ws->home);
        /* keel.yaml beside .keel, as `keel run` finds it in the project. */
        snprintf(pipelines, sizeof pipelines - 16, "%.*s/keel.yaml",
                 (int)(strrchr(ws->home, '/') - ws->home), ws->home);
        if (pipelines_opt != NULL && realpath(pipelines_opt, pipelines) == NULL) {
            keel_errf(&ctx->err, KEEL_ENOTFOUND, "--pipelines %s: %s", pipelines_opt,
                      strerror(errno));
            keel_workspace_close(ws);
            return cli_fail(ctx);
        }
        if (pipelines_opt == NULL && !keel_path_exists(pipelines))
            pipelines[0] = '\0';
        /* features.yaml beside .keel, like keel.yaml. */
        if (features_opt == NULL) {
            snprintf(features, sizeof features - 16, "%.*s/features.yaml",
                     (int)(strrchr(ws->home, '/') - ws->home), ws->home);
            if (!keel_path_exists(features))
                features[0] = '\0';
        }
        snprintf(db, sizeof db, "%s/keel.db", ws->home);
        snprintf(objects, sizeof objects, "%s/objects", ws->home);
        if (store == NULL)
            store = getenv("KEEL_STORE_URI") != NULL ? getenv("KEEL_STORE_URI") : db;
        if (artifacts == NULL)
            artifacts = objects;
        keel_workspace_close(ws);
    }
    FILE *access_log = stderr;
    const char *log_opt = cli_opt(ctx, "access-log");
    if (log_opt != NULL && strcmp(log_opt, "off") == 0) {
        access_log = NULL;
    } else if (log_opt != NULL && strcmp(log_opt, "-") != 0) {
        access_log = fopen(log_opt, "a");
        if (access_log == NULL) {
            keel_errf(&ctx->err, KEEL_EIO, "--access-log %s: %s", log_opt, strerror(errno));
            return cli_fail(ctx);
        }
    }

    keel_api_app app;
    if (keel_api_app_init(&app, store, artifacts, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    snprintf(app.home, sizeof app.home, "%s", home);
    snprintf(app.pipeline_file, sizeof app.pipeline_file, "%s", home[0] ? pipelines : "");
    /* The feature store: definitions and the online store (--online-store,
     * KEEL_ONLINE_STORE, else the home's LMDB), opened once; Redis connects
     * on first use, so a Redis that is down fails requests, not the start. */
    if (features[0] != '\0' &&
        (keel_feature_repo_load(features, &app.feature_repo, &ctx->err) != KEEL_OK ||
         keel_online_store_open(cli_opt(ctx, "online-store"), home[0] ? home : NULL,
                                &app.online_store, &ctx->err) != KEEL_OK)) {
        keel_api_app_free(&app);
        return cli_fail(ctx);
    }

    /* Signals are taken synchronously by this thread; the server's threads
     * inherit the blocked mask. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Started after the mask is set, so the scheduler's thread never takes
     * a stop signal meant for sigwait below. */
    keel_scheduler *scheduler = NULL;
    if (app.pipeline_file[0] != '\0' && !cli_flag(ctx, "no-schedules") &&
        keel_scheduler_start(store, app.home, app.pipeline_file, &scheduler, &ctx->err) !=
            KEEL_OK) {
        keel_api_app_free(&app);
        return cli_fail(ctx);
    }

    keel_http_config cfg = {
        .host = host,
        .port = (int)port,
        .threads = (int)threads,
        .routes = keel_api_routes,
        .n_routes = keel_api_n_routes,
        .not_found = keel_api_not_found,
        .too_large = keel_api_too_large,
        .app = &app,
        .access_log = access_log,
        .thread_per_connection = cli_flag(ctx, "thread-per-connection"),
    };
    keel_http_server *srv = NULL;
    if (keel_http_start(&cfg, &srv, &ctx->err) != KEEL_OK) {
        keel_scheduler_stop(scheduler);
        keel_api_app_free(&app);
        return cli_fail(ctx);
    }
    fprintf(stderr, "keel server listening on http://%s:%d (store %s, artifacts %s%s%s%s%s%s%s)\n",
            host, keel_http_port(srv), store, artifacts,
            app.pipeline_file[0] ? ", pipelines " : "", app.pipeline_file,
            app.feature_repo ? ", features " : "", app.feature_repo ? features : "",
            app.online_store ? ", online store " : "",
            app.online_store ? keel_online_store_uri(app.online_store) : "");
    int sig = 0;
    sigwait(&stop_signals, &sig);
    fprintf(stderr, "keel server: %s received, finishing requests in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    keel_scheduler_stop(scheduler);
    keel_http_stop(srv, SHUTDOWN_GRACE_MS);
    keel_api_app_free(&app);
    if (access_log != NULL && access_log != stderr)
        fclose(access_log);
    fprintf(stderr, "keel server: stopped\n");
    return CLI_EXIT_OK;
}

static const struct cli_opt server_opts[] = {
    { "host", CLI_VALUE, "ADDR", "IPv4 address to listen on (127.0.0.1)" },
    { "port", CLI_VALUE, "PORT", "port to listen on (5000; 0 picks a free one)" },
    { "store", CLI_VALUE, "URI", "metadata store (the keel home's keel.db)" },
    { "artifacts", CLI_VALUE, "PATH", "object store directory (the keel home's objects/)" },
    { "threads", CLI_VALUE, "N", "worker threads (number of cores)" },
    { "access-log", CLI_VALUE, "FILE|-|off", "access log destination (- = stderr)" },
    { "pipelines", CLI_VALUE, "FILE", "keel.yaml whose schedules run here and whose pipelines "
                                      "POST /api/keel/v1/pipelines/NAME/runs starts "
                                      "(keel.yaml beside .keel)" },
    { "features", CLI_VALUE, "FILE", "features.yaml whose online views "
                                     "/features/v1/get-online-features answers "
                                     "(features.yaml beside .keel)" },
    { "online-store", CLI_VALUE, "URI", "online store: redis://HOST:PORT[/DB] or a directory "
                                        "(KEEL_ONLINE_STORE, else the keel home's online/)" },
    { "no-schedules", CLI_FLAG, NULL, "do not run pipeline schedules" },
    { "thread-per-connection", CLI_FLAG, NULL,
      "a thread per client connection instead of a pool of event loops" },
    { NULL },
};

const struct cli_cmd cli_server_cmds[] = {
    { NULL, "server", "", 0, 0, server_opts, cmd_server,
      "serve MLflow's tracking REST API and artifact proxy", false },
    { NULL },
};
