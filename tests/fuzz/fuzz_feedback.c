/*
 * fuzz_feedback.c — POST /feedback: bytes as the request body through
 * serve_feedback (keel's JSON reader, the single-item and batch forms, the
 * join with remembered predictions, label checks), with a request and a
 * response made by hand instead of the HTTP server's.
 *
 * Two servers answer each body. Both remember the same predictions:
 *   a  elec (binary, classes DOWN/UP), 1 row
 *   b  elec, 3 rows
 *   c  elec, 9 rows (past the rows labels are kept for: never joined)
 *   d  kind (multiclass, classes cat/dog/7), 2 rows x 3 classes
 * The first keeps them for a long time; the second's TTL is already past,
 * so every remembered prediction has expired. Both tables and models are
 * built once, on the first body, so the corpus replay (which has no
 * LLVMFuzzerInitialize) gets them as well. The feedback log is off.
 *
 * Invariants checked (abort on violation): the answer is 200 or 400 with a
 * JSON object; a 400 for the body as a whole has an error_code, otherwise
 * the counts are there, the status follows them (200 when a label was
 * accepted or none was invalid) and every refused item is explained (up to
 * 20); the two servers sort the items alike (what is unknown to one is to
 * the other; what one accepts or finds invalid, the other finds expired or
 * invalid) and the expired one accepts nothing; the handler leaves the
 * models' references as it found them.
 */
#include "serve/serve.h"

#include <keel/json.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ERRORS 20

static const char elec_encoder[] =
    "{\"columns\": ["
    " {\"column\": \"nswprice\", \"type\": \"float\", \"encoding\": \"numeric\"},"
    " {\"column\": \"day\", \"type\": \"string\", \"encoding\": \"onehot\","
    "  \"vocabulary\": [\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\"]}]}";

static const char elec_manifest[] =
    "{\"classes\": [\"DOWN\", \"UP\"],"
    " \"reference_profile\": {\"rows\": 100, \"columns\": {"
    "  \"nswprice\": {\"type\": \"float\", \"missing_rate\": 0,"
    "   \"bins\": [0, 0.05, 0.1, 0.2, 1], \"bin_counts\": [40, 30, 20, 10]},"
    "  \"day\": {\"type\": \"string\", \"missing_rate\": 0,"
    "   \"top\": {\"1\": 14, \"2\": 14, \"3\": 14, \"4\": 14, \"5\": 14, \"6\": 15, \"7\": 15},"
    "   \"other\": 0}}}}";

static const char kind_manifest[] = "{\"classes\": [\"cat\", \"dog\", 7]}";

enum { LIVE, EXPIRED, N_SERVERS };

typedef struct fixture {
    serve_app servers[N_SERVERS];
    served_model *elec, *kind;
    int elec_refs, kind_refs;       /* with both tables filled */
} fixture;

static json_t *json_of(const char *text)
{
    json_t *j = NULL;
    keel_err err;
    if (keel_json_parse(text, strlen(text), 16, &j, &err) != KEEL_OK)
        abort();
    return j;
}

/* A served model with one reference; monitored when encoder is given. */
static served_model *model_new(const char *name, const char *task, const char *manifest,
                               const char *encoder)
{
    served_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        abort();
    atomic_init(&m->refs, 1);
    m->name = strdup(name);
    m->version = 1;
    snprintf(m->version_text, sizeof m->version_text, "1");
    m->task = task;
    m->manifest = json_of(manifest);
    m->classes = json_object_get(m->manifest, "classes");
    if (encoder != NULL) {
        json_t *j = json_of(encoder);
        keel_err err;
        if (keel_encoder_from_json(j, &m->enc, &err) != KEEL_OK)
            abort();
        json_decref(j);
        m->mon = monitor_new(m->manifest, m->enc, task);
        if (m->mon == NULL)
            abort();
    }
    return m;
}

static void remember_all(feedback_table *t, served_model *elec, served_model *kind)
{
    static const float one[1] = { 0.8f };
    static const float three[3] = { 0.1f, 0.6f, 0.9f };
    static const float nine[9] = { 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f };
    static const float classes[6] = { 0.1f, 0.2f, 0.7f, 0.5f, 0.3f, 0.2f };
    feedback_remember(t, "a", 0, elec, one, 1, 1);
    feedback_remember(t, "b", 0, elec, three, 3, 1);
    feedback_remember(t, "c", 0, elec, nine, 9, 1);
    feedback_remember(t, "d", 1, kind, classes, 2, 3);
}

static fixture *fixture_get(void)
{
    static fixture f;
    static bool ready;
    if (ready)
        return &f;
    f.elec = model_new("elec", "binary", elec_manifest, elec_encoder);
    f.kind = model_new("kind", "multiclass", kind_manifest, NULL);
    static const int64_t ttl_ms[N_SERVERS] = { INT64_C(1) << 50, -1 };
    for (int s = 0; s < N_SERVERS; s++) {
        keel_err err;
        if (feedback_table_new(16, ttl_ms[s], &f.servers[s].feedback, &err) != KEEL_OK)
            abort();
        remember_all(f.servers[s].feedback, f.elec, f.kind);
    }
    f.elec_refs = atomic_load(&f.elec->refs);
    f.kind_refs = atomic_load(&f.kind->refs);
    ready = true;
    return &f;
}

typedef struct answer {
    bool whole_body_refused;        /* 400 with an error_code */
    json_int_t accepted, unknown, expired, invalid;
} answer;

static json_int_t count_of(const json_t *doc, const char *key)
{
    const json_t *v = json_object_get(doc, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        abort();
    return json_integer_value(v);
}

/* Posts body (NUL-terminated, as the server buffers it) and checks the
 * answer on its own. */
static answer post(serve_app *server, const char *body, size_t len)
{
    keel_arena arena;
    keel_arena_init(&arena, 0);
    keel_http_req req = { .method = "POST", .url = "/feedback", .request_id = "fuzz",
                          .body = body, .body_len = len, .arena = &arena, .app = server };
    keel_http_resp resp = { .file_fd = -1 };
    keel_buf_init(&resp.body, 1 << 20);
    serve_feedback(&req, &resp);
    if ((resp.status != 200 && resp.status != 400) || resp.body.len == 0)
        abort();
    json_t *doc = json_loadb(resp.body.data, resp.body.len, 0, NULL);
    if (!json_is_object(doc))
        abort();
    answer ans = { .whole_body_refused = json_object_get(doc, "error_code") != NULL };
    if (ans.whole_body_refused) {
        if (resp.status != 400 || !json_is_string(json_object_get(doc, "error")))
            abort();
    } else {
        ans.accepted = count_of(doc, "accepted");
        ans.unknown = count_of(doc, "unknown");
        ans.expired = count_of(doc, "expired");
        ans.invalid = count_of(doc, "invalid");
        json_int_t refused = ans.unknown + ans.expired + ans.invalid;
        size_t explained = json_array_size(json_object_get(doc, "errors"));
        if (resp.status != (ans.accepted > 0 || ans.invalid == 0 ? 200 : 400) ||
            explained != (size_t)(refused < MAX_ERRORS ? refused : MAX_ERRORS))
            abort();
    }
    json_decref(doc);
    keel_buf_free(&resp.body);
    keel_arena_free(&arena);
    return ans;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fixture *f = fixture_get();
    char *body = malloc(size + 1);
    if (body == NULL)
        return 0;
    memcpy(body, data, size);
    body[size] = '\0';
    answer live = post(&f->servers[LIVE], body, size);
    answer old = post(&f->servers[EXPIRED], body, size);
    free(body);
    if (live.whole_body_refused != old.whole_body_refused || live.expired != 0 ||
        old.accepted != 0 || live.unknown != old.unknown ||
        live.accepted + live.invalid != old.expired + old.invalid)
        abort();
    if (atomic_load(&f->elec->refs) != f->elec_refs || atomic_load(&f->kind->refs) != f->kind_refs)
        abort();
    return 0;
}
