/*
 * pipeline_trigger.c — starting a pipeline run in the background: from the
 * server's HTTP endpoint, its schedules, and (later) alert rules.
 *
 * The run is an ordinary `keel run` process, detached (its own session,
 * re-parented to init through a shell that exits at once, so the caller
 * never accumulates zombies), with its output in
 * <home>/pipelines/triggered/<time>-<pid>.log. The caller gets the run's id
 * as soon as the run is recorded: `keel run --run-id-file` writes it there.
 * A run that fails before it is recorded (bad params, a Slurm controller
 * that is down) is reported with the last line of its log.
 */
#include "pipeline_internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TRIGGER_WAIT_MS 20000

static void last_line(const char *path, char *out, size_t out_size)
{
    char *text = NULL;
    size_t len = 0;
    keel_err ignored;
    out[0] = '\0';
    if (keel_read_file(path, 1 << 20, &text, &len, &ignored) != KEEL_OK)
        return;
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    char *nl = strrchr(text, '\n');
    snprintf(out, out_size, "%s", nl != NULL ? nl + 1 : text);
    free(text);
}

int keel_pipeline_trigger(const keel_pipeline_trigger_opts *t, char out_run_id[33],
                          keel_err *err)
{
    if (t == NULL || t->home == NULL || t->file == NULL || t->pipeline == NULL)
        return keel_errf(err, KEEL_EINVAL, "keel_pipeline_trigger: NULL argument");
    keel_arena a;
    keel_arena_init(&a, 0);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    const char *keel = t->keel_exe != NULL ? t->keel_exe : n > 0 ? (exe[n] = '\0', exe) : "keel";
    const char *dir = keel_arena_sprintf(&a, "%s/pipelines/triggered", t->home);
    int rc = keel_mkdir_p(dir, err);
    if (rc != KEEL_OK) {
        keel_arena_free(&a);
        return rc;
    }
    static unsigned counter;
    const char *stem = keel_arena_sprintf(&a, "%s/%lld-%d-%u", dir, (long long)keel_now_ms(),
                                          (int)getpid(), __atomic_add_fetch(&counter, 1,
                                                                            __ATOMIC_RELAXED));
    const char *id_file = keel_arena_sprintf(&a, "%s.id", stem);
    const char *log = keel_arena_sprintf(&a, "%s.log", stem);
    /* The command line, every piece quoted for the shell that detaches it. */
    const char *cmd = keel_arena_sprintf(
        &a, "KEEL_HOME=%s KEEL_NO_PROGRESS=1 exec setsid %s run %s -f %s --trigger %s "
            "--run-id-file %s",
        pipeline_shell_quote(&a, t->home), pipeline_shell_quote(&a, keel),
        pipeline_shell_quote(&a, t->pipeline), pipeline_shell_quote(&a, t->file),
        pipeline_shell_quote(&a, t->trigger != NULL ? t->trigger : "http"),
        pipeline_shell_quote(&a, id_file));
    if (t->executor != NULL)
        cmd = keel_arena_sprintf(&a, "%s --executor %s", cmd,
                                 pipeline_shell_quote(&a, t->executor));
    for (size_t i = 0; i < t->n_params; i++)
        cmd = keel_arena_sprintf(&a, "%s -p %s", cmd,
                                 pipeline_shell_quote(&a, keel_arena_sprintf(
                                                              &a, "%s=%s", t->params[i].key,
                                                              t->params[i].value)));
    const char *shell = keel_arena_sprintf(&a, "(cd %s && %s) </dev/null >%s 2>&1 &",
                                           pipeline_shell_quote(&a, t->workdir != NULL
                                                                        ? t->workdir : "."),
                                           cmd, pipeline_shell_quote(&a, log));
    char *argv[] = { "sh", "-c", (char *)shell, NULL };
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGCHLD);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int e = posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    if (e != 0) {
        keel_arena_free(&a);
        return keel_errf(err, KEEL_EIO, "cannot start keel run: %s", strerror(e));
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    /* Wait for the id, or for the run to give up before it was recorded. */
    rc = KEEL_EIO;
    for (int waited = 0; waited < TRIGGER_WAIT_MS; waited += 20) {
        char *text = NULL;
        size_t len = 0;
        keel_err ignored;
        if (keel_read_file(id_file, 64, &text, &len, &ignored) == KEEL_OK && len == 32) {
            memcpy(out_run_id, text, 32);
            out_run_id[32] = '\0';
            free(text);
            rc = KEEL_OK;
            break;
        }
        free(text);
        char line[400];
        last_line(log, line, sizeof line);
        if (strncmp(line, "keel: ", 6) == 0) {
            rc = keel_errf(err, KEEL_EINVAL, "%s", line + 6);
            break;
        }
        struct timespec ts = { 0, 20 * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (rc == KEEL_EIO)
        keel_errf(err, KEEL_EIO, "keel run did not record a run within %d s (log: %s)",
                  TRIGGER_WAIT_MS / 1000, log);
    unlink(id_file);
    keel_arena_free(&a);
    return rc;
}
