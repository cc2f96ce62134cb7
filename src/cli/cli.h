/*
 * cli.h — the `keel` command: subcommands and options are static tables;
 * main.c parses argv against them once (unknown options, missing values and
 * wrong argument counts are usage errors, exit 2) before any handler runs.
 *
 * Exit codes: 0 ok, 1 failure (the error is printed as "keel: …"), 2 usage.
 */
#ifndef KEEL_CLI_H
#define KEEL_CLI_H

#include <keel/arena.h>
#include <keel/error.h>
#include <keel/tracking.h>
#include <keel/workspace.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CLI_MAX_OPTS   32
#define CLI_MAX_MULTI  1000
#define CLI_EXIT_OK    0
#define CLI_EXIT_FAIL  1
#define CLI_EXIT_USAGE 2

enum cli_opt_kind { CLI_FLAG, CLI_VALUE, CLI_MULTI };

struct cli_opt {
    const char *name;       /* long name without "--" */
    enum cli_opt_kind kind;
    const char *metavar;    /* for help, e.g. "NAME" */
    const char *help;
    char short_name;        /* e.g. 'p' for -p (0 = none); -pVALUE and -p VALUE */
};

struct cli_ctx;

struct cli_cmd {
    const char *noun;       /* "runs"; NULL-noun commands are top level ("init") */
    const char *verb;       /* "log-param" */
    const char *args;       /* positional usage, e.g. "RUN KEY VALUE" */
    int min_args, max_args;
    const struct cli_opt *opts;  /* terminated by a {NULL} row */
    int (*run)(struct cli_ctx *ctx);
    const char *summary;
    bool needs_workspace;
    bool runs_models;       /* calls into XGBoost (OpenMP): see main.c */
};

struct cli_ctx {
    const struct cli_cmd *cmd;
    char **args;            /* positional arguments */
    int n_args;
    const char *values[CLI_MAX_OPTS];       /* CLI_VALUE options by row index */
    bool flags[CLI_MAX_OPTS];
    const char **multi[CLI_MAX_OPTS];       /* CLI_MULTI values */
    size_t n_multi[CLI_MAX_OPTS];
    bool json;                              /* --json */
    keel_workspace *ws;                     /* opened when needs_workspace */
    keel_arena arena;                       /* per command, freed once */
    keel_err err;
};

/* Option access by long name; the name must be in the command's table. */
const char *cli_opt(const struct cli_ctx *ctx, const char *name);
bool cli_flag(const struct cli_ctx *ctx, const char *name);
const char **cli_multi(const struct cli_ctx *ctx, const char *name, size_t *out_n);

/* Reports err as "keel: <message>" and returns CLI_EXIT_FAIL (or
 * CLI_EXIT_USAGE for KEEL_EINVAL raised while reading arguments via
 * cli_usage_error). */
int cli_fail(struct cli_ctx *ctx);
int cli_usage_error(struct cli_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parsing helpers for argument values; on failure they fill ctx->err with a
 * message naming the option and return KEEL_EINVAL. */
int cli_parse_int64(struct cli_ctx *ctx, const char *what, const char *text, long long *out);
int cli_parse_double(struct cli_ctx *ctx, const char *what, const char *text, double *out);
/* Splits "key=value" (value may be empty) into arena copies. */
int cli_parse_kv(struct cli_ctx *ctx, const char *what, const char *text, const char **out_key,
                 const char **out_value);

/* Prints v (takes the reference) as pretty JSON on stdout. */
void cli_print_json(json_t *v);

/* Registers RUN's bundle at PATH as a new version of registered model NAME
 * (created when new; signature from the bundle; version_created webhooks
 * fired). Error in ctx->err. Shared by `models register` and
 * `train --register`. */
int cli_register_run_model(struct cli_ctx *ctx, const char *name, const char *run,
                           const char *path, const char *description, const keel_kv *tags,
                           size_t n_tags, int64_t *out_version);

/* A text table: set the header, add rows (strings are borrowed until print),
 * print once with column widths fitted to the content. */
struct cli_table {
    size_t n_cols;
    const char **cells;     /* row-major, header first */
    size_t n_rows;          /* including the header */
    size_t cap_rows;
    keel_arena *arena;
};
void cli_table_init(struct cli_table *t, keel_arena *a, size_t n_cols, const char *const *header);
void cli_table_row(struct cli_table *t, const char *const *cells);
void cli_table_print(const struct cli_table *t);

/* Formats a double for humans (shortest form that round-trips). */
const char *cli_fmt_double(keel_arena *a, double d);
const char *cli_fmt_time(keel_arena *a, long long ms);
const char *cli_fmt_int(keel_arena *a, long long v);

/* Command tables (cmd_*.c). */
extern const struct cli_cmd cli_init_cmds[];
extern const struct cli_cmd cli_experiment_cmds[];
extern const struct cli_cmd cli_run_cmds[];
extern const struct cli_cmd cli_artifact_cmds[];
extern const struct cli_cmd cli_server_cmds[];
extern const struct cli_cmd cli_data_cmds[];
extern const struct cli_cmd cli_train_cmds[];
extern const struct cli_cmd cli_model_cmds[];
extern const struct cli_cmd cli_serve_cmds[];
extern const struct cli_cmd cli_predict_cmds[];
extern const struct cli_cmd cli_pipeline_cmds[];
extern const struct cli_cmd cli_monitor_cmds[];
extern const struct cli_cmd cli_monitor_drift_cmds[];
extern const struct cli_cmd cli_features_cmds[];
extern const struct cli_cmd cli_features_online_cmds[];
extern const struct cli_cmd cli_features_training_cmds[];

#endif
