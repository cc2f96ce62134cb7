/*
 * exec_command.c — running a helper command (sbatch, squeue, scontrol,
 * scancel) to completion with its output captured, and the executor
 * factory.
 *
 * The engine keeps SIGCHLD blocked (it waits on a signalfd), so children are
 * spawned with an empty mask and default dispositions; output is read from
 * both pipes with poll so neither can fill up and stall the command; what
 * exceeds the caller's buffers is drained and dropped.
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
#include <unistd.h>

extern char **environ;

int pipeline_executor_local(pipeline_executor *ex, keel_err *err);
int pipeline_executor_slurm(pipeline_executor *ex, keel_err *err);

int pipeline_command(char *const argv[], char *out, size_t out_size, char *errbuf,
                     size_t err_size, keel_err *err)
{
    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0)
        return keel_errf(err, KEEL_EIO, "pipe: %s", strerror(errno)), -1;
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        close(out_pipe[0]);
        close(out_pipe[1]);
        return keel_errf(err, KEEL_EIO, "pipe: %s", strerror(errno)), -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGCHLD);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = 0;
    int e = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (e != 0) {
        close(out_pipe[0]);
        close(err_pipe[0]);
        return keel_errf(err, KEEL_EIO, "cannot run %s: %s", argv[0], strerror(e)), -1;
    }
    size_t lens[2] = { 0, 0 };
    char *bufs[2] = { out, errbuf };
    size_t sizes[2] = { out_size, err_size };
    struct pollfd fds[2] = { { out_pipe[0], POLLIN, 0 }, { err_pipe[0], POLLIN, 0 } };
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            char scratch[4096];
            size_t room = sizes[i] > lens[i] + 1 ? sizes[i] - lens[i] - 1 : 0;
            char *dst = room > 0 ? bufs[i] + lens[i] : scratch;
            ssize_t r = read(fds[i].fd, dst, room > 0 ? room : sizeof scratch);
            if (r > 0 && room > 0)
                lens[i] += (size_t)r;
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i].fd >= 0)
            close(fds[i].fd);
        if (sizes[i] > 0)
            bufs[i][lens[i]] = '\0';
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int pipeline_executor_new(const char *name, const keel_pipeline *p, pipeline_executor **out,
                          keel_err *err)
{
    static const struct {
        const char *name;
        int (*make)(pipeline_executor *ex, keel_err *err);
    } executors[] = {
        { "local", pipeline_executor_local },
        { "slurm", pipeline_executor_slurm },
    };
    for (size_t i = 0; i < sizeof executors / sizeof executors[0]; i++) {
        if (strcmp(name, executors[i].name) != 0)
            continue;
        pipeline_executor *ex = calloc(1, sizeof *ex);
        if (ex == NULL)
            return keel_errf(err, KEEL_ENOMEM, "out of memory");
        ex->partition = p->partition;
        ex->account = p->account;
        int rc = executors[i].make(ex, err);
        if (rc != KEEL_OK) {
            free(ex);
            return rc;
        }
        *out = ex;
        return KEEL_OK;
    }
    return keel_errf(err, KEEL_EINVAL, "unknown executor '%s' (known: local, slurm)", name);
}

void pipeline_executor_destroy(pipeline_executor *ex)
{
    if (ex == NULL)
        return;
    ex->ops->destroy(ex);
    free(ex);
}
