/*
 * keel_metrics.c — GET /metrics on `keel server`, in Prometheus' text
 * format: pipeline runs by pipeline and status (from the metadata store) and,
 * when the server has feature definitions, the freshness of each online
 * feature view (the age of the newest event written to the online store).
 */
#include "api.h"

#include <keel/features.h>
#include <keel/util.h>

#include <stdio.h>

static void pipeline_runs(keel_store *s, keel_buf *b)
{
    keel_stmt *q = NULL;
    keel_err err;
    keel_buf_puts(b, "# HELP keel_pipeline_runs Pipeline runs recorded, by pipeline and status.\n"
                     "# TYPE keel_pipeline_runs gauge\n");
    if (keel_store_prepare(s, "SELECT pipeline, status, count(*) FROM pipeline_runs GROUP BY "
                              "pipeline, status ORDER BY pipeline, status", true, &q,
                           &err) != KEEL_OK)
        return;
    while (keel_stmt_step(q, &err) == KEEL_STEP_ROW)
        keel_buf_printf(b, "keel_pipeline_runs{pipeline=\"%s\",status=\"%s\"} %lld\n",
                        keel_stmt_text(q, 0), keel_stmt_text(q, 1),
                        (long long)keel_stmt_int64(q, 2));
    keel_stmt_release(q);
}

static void feature_freshness(keel_api_app *app, keel_buf *b)
{
    const keel_feature_repo *repo = app->feature_repo;
    if (repo == NULL || app->online_store == NULL)
        return;
    keel_buf_puts(b, "# HELP keel_feature_view_staleness_seconds Age of the newest event "
                     "written to the online store, per feature view.\n"
                     "# TYPE keel_feature_view_staleness_seconds gauge\n"
                     "# HELP keel_feature_view_rows Rows stored by the view's last write.\n"
                     "# TYPE keel_feature_view_rows gauge\n");
    int64_t now = keel_now_ms();
    for (size_t v = 0; v < repo->n_views; v++) {
        keel_online_freshness f;
        keel_err err;
        if (!repo->views[v].online ||
            keel_online_freshness_get(app->online_store, repo, v, &f, &err) != KEEL_OK ||
            f.written_ms == 0)
            continue;
        keel_buf_printf(b, "keel_feature_view_staleness_seconds{project=\"%s\",view=\"%s\"} "
                           "%.3f\nkeel_feature_view_rows{project=\"%s\",view=\"%s\"} %lld\n",
                        repo->project, repo->views[v].name,
                        (double)(now - f.max_event_ms) / 1000.0, repo->project,
                        repo->views[v].name, (long long)f.rows);
    }
}

int keel_api_metrics(keel_http_req *req, keel_http_resp *resp)
{
    keel_api_app *app = req->app;
    keel_store *s = api_store(req, resp);
    if (s == NULL)
        return KEEL_ESTORE;
    keel_buf *b = &resp->body;
    keel_buf_reset(b);
    keel_buf_puts(b, "# TYPE keel_server_up gauge\nkeel_server_up 1\n");
    pipeline_runs(s, b);
    feature_freshness(app, b);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4";
    return KEEL_OK;
}
