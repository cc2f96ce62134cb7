/*
 * cmd_features.c — `keel features apply|list|show|diff`: the feature
 * definitions in features.yaml (src/features), checked, recorded as
 * versions of their project in the metadata store, and compared.
 *
 * The file is --file, else ./features.yaml. apply, list and show read it
 * with every check (CSV sources' headers included); diff compares
 * definitions only, so it skips the header checks on both sides (a stored
 * version's CSV may have changed since). Exit codes: 0 ok, 1 failure
 * (including an invalid file), 2 usage.
 */
#include "cli.h"

#include "features/features_internal.h"

#include <keel/features.h>
#include <keel/util.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *repo_path(struct cli_ctx *ctx)
{
    const char *f = cli_opt(ctx, "file");
    return f != NULL ? f : "features.yaml";
}

static const char *type_name(enum keel_col_type t)
{
    return keel_col_type_name(t);
}

static const char *join_keys_text(keel_arena *a, const keel_entity *e)
{
    const char *s = "";
    for (size_t k = 0; k < e->n_join_keys; k++)
        s = keel_arena_sprintf(a, "%s%s%s %s", s, k ? ", " : "", e->join_keys[k],
                               type_name(e->key_types[k]));
    return s;
}

static const char *view_entities_text(keel_arena *a, const keel_feature_repo *repo,
                                      const keel_feature_view *fv)
{
    const char *s = "";
    for (size_t i = 0; i < fv->n_entities; i++)
        s = keel_arena_sprintf(a, "%s%s%s", s, i ? ", " : "",
                               repo->entities[fv->entities[i]].name);
    return s;
}

static const char *ref_text(keel_arena *a, const keel_feature_repo *repo, keel_feature_ref r)
{
    return keel_arena_sprintf(a, "%s:%s", repo->views[r.view].name,
                              repo->views[r.view].features[r.feature].name);
}

/* ---- JSON ---- */

static json_t *entity_json(const keel_entity *e)
{
    json_t *keys = json_array();
    for (size_t k = 0; k < e->n_join_keys; k++)
        json_array_append_new(keys, json_pack("{s:s, s:s}", "name", e->join_keys[k], "type",
                                              type_name(e->key_types[k])));
    return json_pack("{s:s, s:o, s:I}", "name", e->name, "join_keys", keys, "line",
                     (json_int_t)e->line);
}

static json_t *source_json(const keel_feature_source *s)
{
    return json_pack("{s:s, s:s?, s:s?, s:s, s:s?, s:I}", "name", s->name, "path", s->path,
                     "dataset", s->dataset, "timestamp", s->timestamp, "created_timestamp",
                     s->created_timestamp, "line", (json_int_t)s->line);
}

static json_t *view_json(keel_arena *a, const keel_feature_repo *repo,
                         const keel_feature_view *fv)
{
    json_t *entities = json_array(), *features = json_array();
    for (size_t i = 0; i < fv->n_entities; i++)
        json_array_append_new(entities, json_string(repo->entities[fv->entities[i]].name));
    for (size_t i = 0; i < fv->n_features; i++)
        json_array_append_new(features, json_pack("{s:s, s:s}", "name", fv->features[i].name,
                                                  "type", type_name(fv->features[i].type)));
    return json_pack("{s:s, s:o, s:s, s:s, s:I, s:b, s:o, s:I}", "name", fv->name, "entities",
                     entities, "source", repo->sources[fv->source].name, "ttl",
                     feature_ttl_text(a, fv->ttl_ms), "ttl_ms", (json_int_t)fv->ttl_ms,
                     "online", fv->online, "features", features, "line", (json_int_t)fv->line);
}

static json_t *service_json(keel_arena *a, const keel_feature_repo *repo,
                            const keel_feature_service *svc)
{
    json_t *features = json_array();
    for (size_t i = 0; i < svc->n_features; i++) {
        keel_feature_ref r = svc->features[i];
        json_array_append_new(features, json_pack("{s:s, s:s}", "ref", ref_text(a, repo, r),
                                                  "type",
                                                  type_name(repo->views[r.view]
                                                                .features[r.feature].type)));
    }
    return json_pack("{s:s, s:o, s:I}", "name", svc->name, "features", features, "line",
                     (json_int_t)svc->line);
}

/* ---- apply ---- */

static int cmd_apply(struct cli_ctx *ctx)
{
    keel_feature_repo *repo = NULL;
    if (keel_feature_repo_load(repo_path(ctx), &repo, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    int64_t version = 0;
    bool created = false;
    int rc = keel_feature_repo_apply(ctx->ws, repo, &version, &created, &ctx->err);
    if (rc == KEEL_OK && ctx->json)
        cli_print_json(json_pack("{s:s, s:I, s:b, s:s, s:I, s:I, s:I}", "project",
                                 repo->project, "version", (json_int_t)version, "created",
                                 created, "digest", repo->digest, "views",
                                 (json_int_t)repo->n_views, "services",
                                 (json_int_t)repo->n_services, "entities",
                                 (json_int_t)repo->n_entities));
    else if (rc == KEEL_OK)
        printf("project %s: definitions version %lld (%s)\n", repo->project, (long long)version,
               created ? "new" : "unchanged");
    keel_feature_repo_free(repo);
    return rc == KEEL_OK ? CLI_EXIT_OK : cli_fail(ctx);
}

/* ---- list ---- */

static int cmd_list(struct cli_ctx *ctx)
{
    keel_feature_repo *repo = NULL;
    if (keel_feature_repo_load(repo_path(ctx), &repo, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    keel_arena *a = &ctx->arena;
    if (ctx->json) {
        json_t *entities = json_array(), *sources = json_array(), *views = json_array(),
               *services = json_array();
        for (size_t i = 0; i < repo->n_entities; i++)
            json_array_append_new(entities, entity_json(&repo->entities[i]));
        for (size_t i = 0; i < repo->n_sources; i++)
            json_array_append_new(sources, source_json(&repo->sources[i]));
        for (size_t i = 0; i < repo->n_views; i++)
            json_array_append_new(views, view_json(a, repo, &repo->views[i]));
        for (size_t i = 0; i < repo->n_services; i++)
            json_array_append_new(services, service_json(a, repo, &repo->services[i]));
        cli_print_json(json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "project",
                                 repo->project, "file", repo->file, "digest", repo->digest,
                                 "entities", entities, "sources", sources, "views", views,
                                 "services", services));
        keel_feature_repo_free(repo);
        return CLI_EXIT_OK;
    }
    printf("project %s (%s, sha256 %.12s)\n\n", repo->project, repo->file, repo->digest);
    static const char *const view_header[] = { "VIEW", "ENTITIES", "SOURCE", "TTL", "ONLINE",
                                               "FEATURES" };
    struct cli_table t;
    cli_table_init(&t, a, 6, view_header);
    for (size_t i = 0; i < repo->n_views; i++) {
        const keel_feature_view *fv = &repo->views[i];
        const char *row[] = { fv->name, view_entities_text(a, repo, fv),
                              repo->sources[fv->source].name, feature_ttl_text(a, fv->ttl_ms),
                              fv->online ? "yes" : "no",
                              cli_fmt_int(a, (long long)fv->n_features) };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    if (repo->n_services > 0) {
        static const char *const svc_header[] = { "SERVICE", "FEATURES", "VIEWS" };
        cli_table_init(&t, a, 3, svc_header);
        for (size_t i = 0; i < repo->n_services; i++) {
            const keel_feature_service *svc = &repo->services[i];
            const char *views = "";
            for (size_t k = 0; k < svc->n_features; k++) {
                const char *name = repo->views[svc->features[k].view].name;
                bool seen = false;
                for (size_t j = 0; j < k && !seen; j++)
                    seen = svc->features[j].view == svc->features[k].view;
                if (!seen)
                    views = keel_arena_sprintf(a, "%s%s%s", views, views[0] ? ", " : "", name);
            }
            const char *row[] = { svc->name, cli_fmt_int(a, (long long)svc->n_features), views };
            cli_table_row(&t, row);
        }
        printf("\n");
        cli_table_print(&t);
    }
    keel_feature_repo_free(repo);
    return CLI_EXIT_OK;
}

/* ---- show ---- */

static void show_view(struct cli_ctx *ctx, const keel_feature_repo *repo,
                      const keel_feature_view *fv)
{
    keel_arena *a = &ctx->arena;
    const keel_feature_source *s = &repo->sources[fv->source];
    printf("feature view: %s (%s:%zu:%zu)\n", fv->name, repo->file, fv->line, fv->column);
    for (size_t i = 0; i < fv->n_entities; i++) {
        const keel_entity *e = &repo->entities[fv->entities[i]];
        printf("%s %s (join keys: %s)\n", i == 0 ? "entities:    " : "             ", e->name,
               join_keys_text(a, e));
    }
    printf("source:       %s: %s %s, timestamp %s", s->name, s->path != NULL ? "file" : "dataset",
           s->path != NULL ? s->path : s->dataset, s->timestamp);
    if (s->created_timestamp != NULL)
        printf(", created_timestamp %s", s->created_timestamp);
    printf("\nttl:          %s\nonline:       %s\n\n", feature_ttl_text(a, fv->ttl_ms),
           fv->online ? "yes" : "no");
    static const char *const header[] = { "FEATURE", "TYPE" };
    struct cli_table t;
    cli_table_init(&t, a, 2, header);
    for (size_t i = 0; i < fv->n_features; i++) {
        const char *row[] = { fv->features[i].name, type_name(fv->features[i].type) };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
}

static void show_service(struct cli_ctx *ctx, const keel_feature_repo *repo,
                         const keel_feature_service *svc)
{
    keel_arena *a = &ctx->arena;
    printf("feature service: %s (%s:%zu:%zu), %zu features\n\n", svc->name, repo->file,
           svc->line, svc->column, svc->n_features);
    static const char *const header[] = { "FEATURE", "TYPE", "ENTITIES", "TTL", "ONLINE" };
    struct cli_table t;
    cli_table_init(&t, a, 5, header);
    for (size_t i = 0; i < svc->n_features; i++) {
        keel_feature_ref r = svc->features[i];
        const keel_feature_view *fv = &repo->views[r.view];
        const char *row[] = { ref_text(a, repo, r), type_name(fv->features[r.feature].type),
                              view_entities_text(a, repo, fv), feature_ttl_text(a, fv->ttl_ms),
                              fv->online ? "yes" : "no" };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
}

static int cmd_show(struct cli_ctx *ctx)
{
    keel_feature_repo *repo = NULL;
    if (keel_feature_repo_load(repo_path(ctx), &repo, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    const char *name = ctx->args[0];
    long vi = keel_feature_view_index(repo, name);
    long si = keel_feature_service_index(repo, name);
    int code = CLI_EXIT_OK;
    if (vi < 0 && si < 0) {
        keel_errf(&ctx->err, KEEL_ENOTFOUND, "%s has no feature view or service '%s' "
                  "(keel features list shows them)", repo->file, name);
        code = cli_fail(ctx);
    } else if (ctx->json) {
        json_t *o = vi >= 0 ? view_json(&ctx->arena, repo, &repo->views[vi])
                            : service_json(&ctx->arena, repo, &repo->services[si]);
        json_object_set_new(o, "kind", json_string(vi >= 0 ? "feature_view" : "feature_service"));
        if (vi >= 0) {
            const keel_feature_view *fv = &repo->views[vi];
            json_t *entities = json_array();
            for (size_t i = 0; i < fv->n_entities; i++)
                json_array_append_new(entities, entity_json(&repo->entities[fv->entities[i]]));
            json_object_set_new(o, "entities", entities);
            json_object_set_new(o, "source", source_json(&repo->sources[fv->source]));
        }
        cli_print_json(o);
    } else if (vi >= 0) {
        show_view(ctx, repo, &repo->views[vi]);
    } else {
        show_service(ctx, repo, &repo->services[si]);
    }
    keel_feature_repo_free(repo);
    return code;
}

/* ---- diff ---- */

struct change {
    char sign;               /* '+' added, '-' removed, '~' changed */
    const char *kind;        /* entity, source, view, feature, service */
    const char *name;
    const char *detail;      /* "" when there is nothing to add */
};

struct changes {
    struct change *items;
    size_t n, cap;
    keel_arena *a;
};

static void add_change(struct changes *c, char sign, const char *kind, const char *name,
                       const char *detail)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        struct change *grown = keel_arena_alloc(c->a, cap * sizeof *grown);
        if (grown == NULL)
            return;
        if (c->n > 0)
            memcpy(grown, c->items, c->n * sizeof *grown);
        c->items = grown;
        c->cap = cap;
    }
    c->items[c->n++] = (struct change){ sign, kind, name, detail != NULL ? detail : "" };
}

/* acc + "; " + "what old → new" when old and new differ. */
static const char *note(keel_arena *a, const char *acc, const char *what, const char *old,
                        const char *new_text)
{
    old = old != NULL ? old : "none";
    new_text = new_text != NULL ? new_text : "none";
    if (strcmp(old, new_text) == 0)
        return acc;
    return keel_arena_sprintf(a, "%s%s%s %s → %s", acc, acc[0] ? "; " : "", what, old, new_text);
}

static void diff_entities(struct changes *c, const keel_feature_repo *o,
                          const keel_feature_repo *n)
{
    for (size_t i = 0; i < o->n_entities; i++) {
        const keel_entity *e = &o->entities[i];
        long j = feature_entity_index(n, e->name);
        const char *was = join_keys_text(c->a, e);
        if (j < 0) {
            add_change(c, '-', "entity", e->name, keel_arena_sprintf(c->a, "join keys %s", was));
            continue;
        }
        const char *d = note(c->a, "", "join keys", was, join_keys_text(c->a, &n->entities[j]));
        if (d[0] != '\0')
            add_change(c, '~', "entity", e->name, d);
    }
    for (size_t j = 0; j < n->n_entities; j++)
        if (feature_entity_index(o, n->entities[j].name) < 0)
            add_change(c, '+', "entity", n->entities[j].name,
                       keel_arena_sprintf(c->a, "join keys %s",
                                          join_keys_text(c->a, &n->entities[j])));
}

static const char *source_text(keel_arena *a, const keel_feature_source *s)
{
    return keel_arena_sprintf(a, "%s %s, timestamp %s%s%s", s->path != NULL ? "path" : "dataset",
                              s->path != NULL ? s->path : s->dataset, s->timestamp,
                              s->created_timestamp != NULL ? ", created_timestamp " : "",
                              s->created_timestamp != NULL ? s->created_timestamp : "");
}

static void diff_sources(struct changes *c, const keel_feature_repo *o,
                         const keel_feature_repo *n)
{
    for (size_t i = 0; i < o->n_sources; i++) {
        const keel_feature_source *s = &o->sources[i];
        long j = feature_source_index(n, s->name);
        if (j < 0) {
            add_change(c, '-', "source", s->name, source_text(c->a, s));
            continue;
        }
        const keel_feature_source *t = &n->sources[j];
        const char *d = note(c->a, "", "path", s->path, t->path);
        d = note(c->a, d, "dataset", s->dataset, t->dataset);
        d = note(c->a, d, "timestamp", s->timestamp, t->timestamp);
        d = note(c->a, d, "created_timestamp", s->created_timestamp, t->created_timestamp);
        if (d[0] != '\0')
            add_change(c, '~', "source", s->name, d);
    }
    for (size_t j = 0; j < n->n_sources; j++)
        if (feature_source_index(o, n->sources[j].name) < 0)
            add_change(c, '+', "source", n->sources[j].name, source_text(c->a, &n->sources[j]));
}

static long feature_index(const keel_feature_view *fv, const char *name)
{
    for (size_t i = 0; i < fv->n_features; i++)
        if (strcmp(fv->features[i].name, name) == 0)
            return (long)i;
    return -1;
}

static const char *view_text(keel_arena *a, const keel_feature_repo *repo,
                             const keel_feature_view *fv)
{
    return keel_arena_sprintf(a, "entities %s; source %s; ttl %s; online %s; %zu feature%s",
                              view_entities_text(a, repo, fv), repo->sources[fv->source].name,
                              feature_ttl_text(a, fv->ttl_ms), fv->online ? "yes" : "no",
                              fv->n_features, fv->n_features == 1 ? "" : "s");
}

static void diff_features(struct changes *c, const keel_feature_view *ov,
                          const keel_feature_view *nv)
{
    for (size_t i = 0; i < ov->n_features; i++) {
        const keel_feature *f = &ov->features[i];
        const char *name = keel_arena_sprintf(c->a, "%s:%s", ov->name, f->name);
        long j = feature_index(nv, f->name);
        if (j < 0)
            add_change(c, '-', "feature", name, type_name(f->type));
        else if (nv->features[j].type != f->type)
            add_change(c, '~', "feature", name,
                       note(c->a, "", "type", type_name(f->type),
                            type_name(nv->features[j].type)));
    }
    for (size_t j = 0; j < nv->n_features; j++)
        if (feature_index(ov, nv->features[j].name) < 0)
            add_change(c, '+', "feature",
                       keel_arena_sprintf(c->a, "%s:%s", nv->name, nv->features[j].name),
                       type_name(nv->features[j].type));
}

static void diff_views(struct changes *c, const keel_feature_repo *o, const keel_feature_repo *n)
{
    keel_arena *a = c->a;
    for (size_t i = 0; i < o->n_views; i++) {
        const keel_feature_view *ov = &o->views[i];
        long j = keel_feature_view_index(n, ov->name);
        if (j < 0) {
            add_change(c, '-', "view", ov->name, view_text(a, o, ov));
            continue;
        }
        const keel_feature_view *nv = &n->views[j];
        const char *d = note(a, "", "entities", view_entities_text(a, o, ov),
                             view_entities_text(a, n, nv));
        d = note(a, d, "source", o->sources[ov->source].name, n->sources[nv->source].name);
        d = note(a, d, "ttl", feature_ttl_text(a, ov->ttl_ms), feature_ttl_text(a, nv->ttl_ms));
        d = note(a, d, "online", ov->online ? "yes" : "no", nv->online ? "yes" : "no");
        if (d[0] != '\0')
            add_change(c, '~', "view", ov->name, d);
        diff_features(c, ov, nv);
    }
    for (size_t j = 0; j < n->n_views; j++)
        if (keel_feature_view_index(o, n->views[j].name) < 0)
            add_change(c, '+', "view", n->views[j].name, view_text(a, n, &n->views[j]));
}

static bool service_has(keel_arena *a, const keel_feature_repo *repo,
                        const keel_feature_service *svc, const char *ref)
{
    for (size_t i = 0; i < svc->n_features; i++)
        if (strcmp(ref_text(a, repo, svc->features[i]), ref) == 0)
            return true;
    return false;
}

static const char *service_text(keel_arena *a, const keel_feature_repo *repo,
                                const keel_feature_service *svc)
{
    const char *s = "";
    for (size_t i = 0; i < svc->n_features; i++)
        s = keel_arena_sprintf(a, "%s%s%s", s, i ? ", " : "",
                               ref_text(a, repo, svc->features[i]));
    return s;
}

static void diff_services(struct changes *c, const keel_feature_repo *o,
                          const keel_feature_repo *n)
{
    keel_arena *a = c->a;
    for (size_t i = 0; i < o->n_services; i++) {
        const keel_feature_service *os = &o->services[i];
        long j = keel_feature_service_index(n, os->name);
        if (j < 0) {
            add_change(c, '-', "service", os->name, service_text(a, o, os));
            continue;
        }
        const keel_feature_service *ns = &n->services[j];
        const char *d = "";
        for (size_t k = 0; k < ns->n_features; k++) {
            const char *ref = ref_text(a, n, ns->features[k]);
            if (!service_has(a, o, os, ref))
                d = keel_arena_sprintf(a, "%s%s+%s", d, d[0] ? ", " : "", ref);
        }
        for (size_t k = 0; k < os->n_features; k++) {
            const char *ref = ref_text(a, o, os->features[k]);
            if (!service_has(a, n, ns, ref))
                d = keel_arena_sprintf(a, "%s%s-%s", d, d[0] ? ", " : "", ref);
        }
        /* The order is the order of a model's input vector. */
        if (d[0] == '\0' && strcmp(service_text(a, o, os), service_text(a, n, ns)) != 0)
            d = "order changed";
        if (d[0] != '\0')
            add_change(c, '~', "service", os->name, d);
    }
    for (size_t j = 0; j < n->n_services; j++)
        if (keel_feature_service_index(o, n->services[j].name) < 0)
            add_change(c, '+', "service", n->services[j].name,
                       service_text(a, n, &n->services[j]));
}

static int cmd_diff(struct cli_ctx *ctx)
{
    long long against = 0;
    const char *against_text = cli_opt(ctx, "against");
    if (against_text != NULL &&
        (cli_parse_int64(ctx, "--against", against_text, &against) != KEEL_OK || against < 1))
        return cli_usage_error(ctx, "--against must be a definitions version from 1");
    const char *path = repo_path(ctx);
    char *text = NULL;
    size_t len = 0;
    keel_feature_repo *now = NULL, *before = NULL;
    if (keel_read_file(path, FEATURE_REPO_MAX_BYTES, &text, &len, &ctx->err) != KEEL_OK)
        return cli_fail(ctx);
    int rc = feature_repo_parse_opts(path, text, len, false, &now, &ctx->err);
    free(text);
    if (rc != KEEL_OK)
        return cli_fail(ctx);
    feature_definitions stored = { 0 };
    rc = feature_registry_get(ctx->ws->store, now->project, against, &ctx->arena, &stored,
                              &ctx->err);
    bool nothing_applied = rc == KEEL_ENOTFOUND && against == 0;
    if (rc == KEEL_OK) {
        /* Read as if it were this file, so relative paths resolve alike. */
        rc = feature_repo_parse_opts(path, stored.text, strlen(stored.text), false, &before,
                                     &ctx->err);
        if (rc != KEEL_OK)
            keel_err_prefix(&ctx->err, "project %s definitions version %lld", now->project,
                            (long long)stored.version);
    } else if (nothing_applied) {
        rc = KEEL_OK;
    }
    if (rc != KEEL_OK) {
        keel_feature_repo_free(now);
        return cli_fail(ctx);
    }
    static const keel_feature_repo nothing = { 0 };
    const keel_feature_repo *old = before != NULL ? before : &nothing;
    struct changes c = { .a = &ctx->arena };
    diff_entities(&c, old, now);
    diff_sources(&c, old, now);
    diff_views(&c, old, now);
    diff_services(&c, old, now);
    if (ctx->json) {
        json_t *list = json_array();
        for (size_t i = 0; i < c.n; i++) {
            const struct change *ch = &c.items[i];
            json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "change",
                                                  ch->sign == '+'   ? "added"
                                                  : ch->sign == '-' ? "removed"
                                                                    : "changed",
                                                  "kind", ch->kind, "name", ch->name, "detail",
                                                  ch->detail));
        }
        json_t *o = json_pack("{s:s, s:s, s:o}", "project", now->project, "digest", now->digest,
                              "changes", list);
        json_object_set_new(o, "against", nothing_applied ? json_null()
                                                          : json_integer(stored.version));
        cli_print_json(o);
    } else {
        const char *base = nothing_applied
            ? keel_arena_sprintf(&ctx->arena, "project %s (nothing applied yet)", now->project)
            : keel_arena_sprintf(&ctx->arena, "project %s definitions version %lld",
                                 now->project, (long long)stored.version);
        if (c.n == 0)
            printf("%s: no changes against %s\n", now->file, base);
        else
            printf("%s against %s:\n", now->file, base);
        /* "~ view     weather: ttl 3h → 6h", "+ feature  weather:DEWP (float)" */
        for (size_t i = 0; i < c.n; i++) {
            const struct change *ch = &c.items[i];
            if (ch->detail[0] == '\0')
                printf("%c %-8s %s\n", ch->sign, ch->kind, ch->name);
            else if (ch->sign == '~')
                printf("%c %-8s %s: %s\n", ch->sign, ch->kind, ch->name, ch->detail);
            else
                printf("%c %-8s %s (%s)\n", ch->sign, ch->kind, ch->name, ch->detail);
        }
    }
    keel_feature_repo_free(before);
    keel_feature_repo_free(now);
    return CLI_EXIT_OK;
}

static const struct cli_opt file_opts[] = {
    { "file", CLI_VALUE, "FILE", "the feature definitions (features.yaml)", 'f' },
    { NULL },
};

static const struct cli_opt diff_opts[] = {
    { "file", CLI_VALUE, "FILE", "the feature definitions (features.yaml)", 'f' },
    { "against", CLI_VALUE, "VERSION", "an applied definitions version (default: the newest)" },
    { NULL },
};

const struct cli_cmd cli_features_cmds[] = {
    { "features", "apply", "", 0, 0, file_opts, cmd_apply,
      "check features.yaml and record it as its project's next definitions version", true },
    { "features", "list", "", 0, 0, file_opts, cmd_list,
      "feature views (entities, source, ttl, online, features) and services", false },
    { "features", "show", "NAME", 1, 1, file_opts, cmd_show,
      "a feature view or service in detail", false },
    { "features", "diff", "", 0, 0, diff_opts, cmd_diff,
      "what changed between features.yaml and the applied definitions", true },
    { NULL },
};
