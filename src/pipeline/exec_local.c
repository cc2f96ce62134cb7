/*
 * exec_local.c — the local executor: each job attempt is a process group of
 * its own, started with posix_spawn (vfork speed), stdout/stderr to its log
 * files, stdin from /dev/null, the signal mask and dispositions reset.
 *
 * A job's stdout and stderr are pipes the engine polls; a log file is
 * created only when the first byte arrives, so the many steps that print
 * nothing cost no file creation (measured: two creates per step were a third
 * of the engine's time on 1,000 no-op steps).
 *
 * A command without shell syntax ("python3 train.py --seed 1") is executed
 * directly, as make does; anything else goes through /bin/sh -c. Cancelling
 * sends SIGTERM to the whole group and SIGKILL after a grace period; when a
 * job's leader exits, what is left of its group is killed, so no step leaves
 * processes behind. Reaping is by pid (never waitpid(-1)), so commands the
 * engine runs for itself are not stolen.
 */
#include "pipeline_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_GRACE_NS 3000000000ll
#define DIRECT_MAX_ARGS 64

/* A job's two output pipes and the log files they are copied to. */
typedef struct job_io {
    int pipe[2];               /* read ends (stdout, stderr); -1 when closed */
    int file[2];               /* log files; -1 until something arrives */
} job_io;

typedef struct local_state {
    pipeline_job **active;
    int64_t *kill_at;          /* per active job: when to SIGKILL (0 = not cancelling) */
    size_t n_active, cap;
} local_state;

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* Splits a command into words when it has no shell syntax at all; returns
 * the word count, or 0 when the shell must run it. */
static size_t direct_words(char *copy, char **argv)
{
    if (strpbrk(copy, "'\"\\$`|&;<>()*?[]{}~#=!\n%") != NULL)
        return 0;
    size_t n = 0;
    for (char *save = NULL, *w = strtok_r(copy, " \t", &save); w != NULL;
         w = strtok_r(NULL, " \t", &save)) {
        if (n == DIRECT_MAX_ARGS)
            return 0;
        argv[n++] = w;
    }
    argv[n] = NULL;
    /* Shell builtins and keywords have no binary to exec. */
    static const char *const builtins[] = { "cd", "exit", "export", "set", "source", ".",
                                            "exec", "eval", "if", "for", "while", "ulimit",
                                            "umask", "unset", "alias", "read", "wait" };
    for (size_t i = 0; n > 0 && i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(argv[0], builtins[i]) == 0)
            return 0;
    return n;
}

static int local_start(pipeline_executor *ex, pipeline_job *job, keel_err *err)
{
    local_state *ls = ex->state;
    if (ls->n_active == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 16;
        pipeline_job **active = realloc(ls->active, cap * sizeof *active);
        int64_t *kill_at = active ? realloc(ls->kill_at, cap * sizeof *kill_at) : NULL;
        if (active != NULL)
            ls->active = active;
        if (kill_at == NULL)
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
        ls->kill_at = kill_at;
        ls->cap = cap;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    job_io *io = malloc(sizeof *io);
    int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
    if (io == NULL || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        int saved = errno;
        free(io);
        for (int i = 0; i < 2; i++) {
            if (out_pipe[i] >= 0)
                close(out_pipe[i]);
            if (err_pipe[i] >= 0)
                close(err_pipe[i]);
        }
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        return keel_errf(err, KEEL_EIO, "cannot make the output pipes of a step: %s",
                         strerror(saved));
    }
    *io = (job_io){ { out_pipe[0], err_pipe[0] }, { -1, -1 } };
    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, job->cwd);
    sigset_t none, all;
    sigemptyset(&none);
    sigemptyset(&all);
    sigaddset(&all, SIGINT);
    sigaddset(&all, SIGTERM);
    sigaddset(&all, SIGHUP);
    sigaddset(&all, SIGCHLD);
    sigaddset(&all, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_USEVFORK);
    char *copy = strdup(job->command);
    char *words[DIRECT_MAX_ARGS + 1];
    size_t n_words = copy != NULL ? direct_words(copy, words) : 0;
    char *sh_argv[] = { "sh", "-c", (char *)job->command, NULL };
    pid_t pid = 0;
    int e = n_words > 0 ? posix_spawnp(&pid, words[0], &fa, &attr, words, job->envp)
                        : posix_spawn(&pid, "/bin/sh", &fa, &attr, sh_argv, job->envp);
    if (n_words > 0 && e == ENOENT)
        /* Let the shell say "not found" in the step's own log, as it would. */
        e = posix_spawn(&pid, "/bin/sh", &fa, &attr, sh_argv, job->envp);
    free(copy);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (e != 0) {
        close(io->pipe[0]);
        close(io->pipe[1]);
        free(io);
        job->state = JOB_FAILED_TO_START;
        snprintf(job->detail, sizeof job->detail, "cannot start: %s (working directory %s, "
                 "logs %s)", strerror(e), job->cwd, job->log_err);
        return KEEL_OK;
    }
    job->pid = pid;
    job->priv = io;
    job->state = JOB_RUNNING;
    snprintf(job->job_id, sizeof job->job_id, "%d", (int)pid);
    ls->active[ls->n_active] = job;
    ls->kill_at[ls->n_active] = 0;
    ls->n_active++;
    return KEEL_OK;
}

/* Copies what is waiting in a job's pipes to its log files; at_end also
 * closes everything (the group is dead by then, so EOF or EAGAIN is all
 * there will be). */
static void drain(pipeline_job *job, bool at_end)
{
    job_io *io = job->priv;
    char buf[65536];
    for (int k = 0; k < 2; k++) {
        while (io->pipe[k] >= 0) {
            ssize_t r = read(io->pipe[k], buf, sizeof buf);
            if (r > 0) {
                if (io->file[k] < 0)
                    io->file[k] = open(k == 0 ? job->log_out : job->log_err,
                                       O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                /* A log that cannot be written is lost, never the step. */
                if (io->file[k] >= 0 && write(io->file[k], buf, (size_t)r) != r) {
                    close(io->file[k]);
                    io->file[k] = -2;
                }
                continue;
            }
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0 || at_end || errno != EAGAIN) {
                close(io->pipe[k]);
                io->pipe[k] = -1;
            }
            break;
        }
        if (at_end && io->file[k] >= 0)
            close(io->file[k]);
    }
    if (at_end) {
        free(io);
        job->priv = NULL;
    }
}

static size_t local_poll_fds(pipeline_executor *ex, struct pollfd *fds, size_t max)
{
    local_state *ls = ex->state;
    size_t n = 0;
    for (size_t i = 0; i < ls->n_active; i++) {
        job_io *io = ls->active[i]->priv;
        for (int k = 0; k < 2 && n < max; k++)
            if (io->pipe[k] >= 0)
                fds[n++] = (struct pollfd){ io->pipe[k], POLLIN, 0 };
    }
    return n;
}

static int local_reap(pipeline_executor *ex, pipeline_job **ended, size_t max, keel_err *err)
{
    (void)err;
    local_state *ls = ex->state;
    size_t n = 0;
    int64_t now = 0;
    for (size_t i = 0; i < ls->n_active && n < max;) {
        pipeline_job *job = ls->active[i];
        int status = 0;
        drain(job, false);
        pid_t r = waitpid(job->pid, &status, WNOHANG);
        if (r == job->pid || (r < 0 && errno == ECHILD)) {
            job->state = JOB_EXITED;
            job->exit_code = r < 0 ? 255
                             : WIFEXITED(status) ? WEXITSTATUS(status)
                             : 128 + WTERMSIG(status);
            killpg(job->pid, SIGKILL);     /* whatever the step left running */
            drain(job, true);
            ended[n++] = job;
            ls->active[i] = ls->active[ls->n_active - 1];
            ls->kill_at[i] = ls->kill_at[ls->n_active - 1];
            ls->n_active--;
            continue;
        }
        if (ls->kill_at[i] != 0) {
            if (now == 0)
                now = mono_ns();
            if (now >= ls->kill_at[i]) {
                killpg(job->pid, SIGKILL);
                ls->kill_at[i] = now + KILL_GRACE_NS;
            }
        }
        i++;
    }
    return (int)n;
}

static void local_cancel(pipeline_executor *ex, pipeline_job *job)
{
    local_state *ls = ex->state;
    for (size_t i = 0; i < ls->n_active; i++)
        if (ls->active[i] == job && ls->kill_at[i] == 0) {
            job->killed = true;
            killpg(job->pid, SIGTERM);
            ls->kill_at[i] = mono_ns() + KILL_GRACE_NS;
        }
}

static void local_destroy(pipeline_executor *ex)
{
    local_state *ls = ex->state;
    /* Nothing may outlive the run: kill and reap what is still there. */
    for (size_t i = 0; i < ls->n_active; i++) {
        killpg(ls->active[i]->pid, SIGKILL);
        waitpid(ls->active[i]->pid, NULL, 0);
        drain(ls->active[i], true);
    }
    free(ls->active);
    free(ls->kill_at);
    free(ls);
}

static const pipeline_executor_ops local_ops = {
    .name = "local",
    .start = local_start,
    .reap = local_reap,
    .cancel = local_cancel,
    .poll_fds = local_poll_fds,
    .poll_ms = 250,           /* only matters while a cancelled job is dying */
    .destroy = local_destroy,
};

int pipeline_executor_local(pipeline_executor *ex, keel_err *err)
{
    ex->ops = &local_ops;
    ex->state = calloc(1, sizeof(local_state));
    if (ex->state == NULL)
        return keel_errf(err, KEEL_ENOMEM, "out of memory");
    return KEEL_OK;
}
