// SPDX-License-Identifier: Apache-2.0
/* mgbench: the measuring tool of the VM benchmarks (bench/vm_*.sh), run inside the guest.
 *
 *   mgbench now
 *       CLOCK_MONOTONIC in seconds with nanoseconds: timestamps a guest script can subtract.
 *   mgbench time OUT CMD [ARG...]
 *       Runs CMD (its stdout and stderr are the caller's) and appends one line to OUT:
 *       "wall=S user=S sys=S maxrss_kib=K rc=N". Exits with CMD's status.
 *   mgbench wait-line FILE TEXT PID TIMEOUT_S
 *       Blocks (inotify, no polling loop to steal the guest's one CPU) until FILE contains TEXT,
 *       then prints `mgbench now`. Exits 1 if PID ends first or TIMEOUT_S passes.
 *   mgbench storm FILE N [--compressed] [--log OUT]
 *       finit_module(FILE) N times in this one process (N = 0: until SIGTERM or SIGINT). Prints
 *       "storm n=N eperm=E other=O wall=S user=S sys=S" where user and sys are this process's
 *       own CPU time (the kernel's work for each attempt, the LSM hash included, is charged to the
 *       caller's sys). With --log, writes one "T_NS ERRNO" line per attempt (T_NS as `now`, at the
 *       syscall's return) to OUT at the end. Exits 1 if any attempt got anything but EPERM.
 *   mgbench proc PID
 *       "rss_kib=R hwm_kib=H cpu_ticks=T hz=HZ" of PID, from /proc/PID/status and /proc/PID/stat
 *       (utime + stime, in clock ticks of HZ per second).
 *
 * Everything else a bench needs (starting the agent, applying policies) is the real modgate,
 * driven by the guest script.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MODULE_INIT_COMPRESSED_FILE 4

static int usage(void) {
  fputs(
      "usage: mgbench now\n"
      "       mgbench time OUT CMD [ARG...]\n"
      "       mgbench wait-line FILE TEXT PID TIMEOUT_S\n"
      "       mgbench storm FILE N [--compressed] [--log OUT]\n"
      "       mgbench proc PID\n",
      stderr);
  return 2;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

static int cmd_now(void) {
  int64_t t = now_ns();
  printf("%lld.%09lld\n", (long long)(t / 1000000000), (long long)(t % 1000000000));
  return 0;
}

static int cmd_time(const char* out, char** argv) {
  int64_t t0 = now_ns();
  pid_t pid = fork();
  if (pid < 0) {
    perror("mgbench time: fork");
    return 125;
  }
  if (pid == 0) {
    execvp(argv[0], argv);
    fprintf(stderr, "mgbench time: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("mgbench time: wait4");
    return 125;
  }
  int64_t t1 = now_ns();
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE* f = fopen(out, "a");
  if (!f) {
    fprintf(stderr, "mgbench time: cannot open %s: %s\n", out, strerror(errno));
    return 125;
  }
  fprintf(f, "wall=%.6f user=%.6f sys=%.6f maxrss_kib=%ld rc=%d\n", (double)(t1 - t0) / 1e9,
          tv_s(ru.ru_utime), tv_s(ru.ru_stime), ru.ru_maxrss, rc);
  fclose(f);
  return rc;
}

static int file_has(const char* file, const char* text) {
  FILE* f = fopen(file, "r");
  if (!f) return 0;
  char line[4096];
  int found = 0;
  while (!found && fgets(line, sizeof(line), f)) found = strstr(line, text) != NULL;
  fclose(f);
  return found;
}

/* kill(pid, 0) succeeds on a zombie, and the guest shell reaps its children only when it waits. */
static int alive(pid_t pid) {
  char path[64], line[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE* f = fopen(path, "r");
  if (!f) return 0;
  const char* p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
  fclose(f);
  return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static int cmd_wait_line(const char* file, const char* text, pid_t pid, int timeout_s) {
  int in = inotify_init1(IN_CLOEXEC);
  if (in < 0 || inotify_add_watch(in, file, IN_MODIFY) < 0) {
    fprintf(stderr, "mgbench wait-line: cannot watch %s: %s\n", file, strerror(errno));
    return 1;
  }
  int64_t deadline = now_ns() + (int64_t)timeout_s * 1000000000;
  for (;;) {
    if (file_has(file, text)) return cmd_now();
    if (!alive(pid)) {
      fprintf(stderr, "mgbench wait-line: process %d ended before '%s' appeared in %s\n", pid, text,
              file);
      return 1;
    }
    if (now_ns() > deadline) {
      fprintf(stderr, "mgbench wait-line: no '%s' in %s after %d s\n", text, file, timeout_s);
      return 1;
    }
    /* The timeout only notices a process that died without writing. */
    struct pollfd p = {.fd = in, .events = POLLIN};
    if (poll(&p, 1, 200) > 0) {
      char buf[4096];
      if (read(in, buf, sizeof(buf)) < 0 && errno != EAGAIN) return 1;
    }
  }
}

static volatile sig_atomic_t stop_storm;
static void on_stop(int sig) {
  (void)sig;
  stop_storm = 1;
}

static int cmd_storm(int argc, char** argv) {
  const char* file = argv[0];
  char* end;
  long n = strtol(argv[1], &end, 10);
  if (*end || n < 0) return usage();
  int flags = 0;
  const char* log = NULL;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--compressed") == 0)
      flags |= MODULE_INIT_COMPRESSED_FILE;
    else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc)
      log = argv[++i];
    else
      return usage();
  }
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "mgbench storm: cannot open %s: %s\n", file, strerror(errno));
    return 2;
  }
  struct sigaction sa = {.sa_handler = on_stop};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  size_t cap = 1024, used = 0;
  struct rec {
    int64_t t;
    int err;
  }* recs = NULL;
  if (log && !(recs = malloc(cap * sizeof(*recs)))) return 2;
  long eperm = 0, other = 0, done = 0;
  struct rusage r0, r1;
  getrusage(RUSAGE_SELF, &r0);
  int64_t t0 = now_ns();
  while ((n == 0 || done < n) && !stop_storm) {
    long ret = syscall(SYS_finit_module, fd, "", flags);
    int err = ret == 0 ? 0 : errno;
    if (err == EINTR) continue;
    if (log) {
      if (used == cap) {
        cap *= 2;
        void* p = realloc(recs, cap * sizeof(*recs));
        if (!p) return 2;
        recs = p;
      }
      recs[used].t = now_ns();
      recs[used++].err = err;
    }
    if (err == EPERM)
      eperm++;
    else
      other++;
    done++;
  }
  int64_t t1 = now_ns();
  getrusage(RUSAGE_SELF, &r1);
  double user = tv_s(r1.ru_utime) - tv_s(r0.ru_utime);
  double sys = tv_s(r1.ru_stime) - tv_s(r0.ru_stime);
  printf("storm n=%ld eperm=%ld other=%ld wall=%.6f user=%.6f sys=%.6f\n", done, eperm, other,
         (double)(t1 - t0) / 1e9, user, sys);
  if (log) {
    FILE* f = fopen(log, "w");
    if (!f) {
      fprintf(stderr, "mgbench storm: cannot write %s: %s\n", log, strerror(errno));
      return 2;
    }
    for (size_t i = 0; i < used; i++)
      fprintf(f, "%lld.%09lld %d\n", (long long)(recs[i].t / 1000000000),
              (long long)(recs[i].t % 1000000000), recs[i].err);
    fclose(f);
  }
  return other ? 1 : 0;
}

static int cmd_proc(const char* pid) {
  char path[64], line[512];
  long rss = -1, hwm = -1;
  snprintf(path, sizeof(path), "/proc/%s/status", pid);
  FILE* f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "mgbench proc: cannot open %s: %s\n", path, strerror(errno));
    return 1;
  }
  while (fgets(line, sizeof(line), f)) {
    sscanf(line, "VmRSS: %ld", &rss);
    sscanf(line, "VmHWM: %ld", &hwm);
  }
  fclose(f);
  snprintf(path, sizeof(path), "/proc/%s/stat", pid);
  f = fopen(path, "r");
  if (!f || !fgets(line, sizeof(line), f)) {
    fprintf(stderr, "mgbench proc: cannot read %s\n", path);
    if (f) fclose(f);
    return 1;
  }
  fclose(f);
  /* Fields after the command name, which may hold spaces and ends at the last ')'. */
  const char* p = strrchr(line, ')');
  unsigned long utime = 0, stime = 0;
  if (!p ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) {
    fprintf(stderr, "mgbench proc: cannot parse %s\n", path);
    return 1;
  }
  printf("rss_kib=%ld hwm_kib=%ld cpu_ticks=%lu hz=%ld\n", rss, hwm, utime + stime,
         sysconf(_SC_CLK_TCK));
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) return usage();
  const char* op = argv[1];
  if (strcmp(op, "now") == 0 && argc == 2) return cmd_now();
  if (strcmp(op, "time") == 0 && argc >= 4) return cmd_time(argv[2], argv + 3);
  if (strcmp(op, "wait-line") == 0 && argc == 6)
    return cmd_wait_line(argv[2], argv[3], (pid_t)atoi(argv[4]), atoi(argv[5]));
  if (strcmp(op, "storm") == 0 && argc >= 4) return cmd_storm(argc - 2, argv + 2);
  if (strcmp(op, "proc") == 0 && argc == 3) return cmd_proc(argv[2]);
  return usage();
}
