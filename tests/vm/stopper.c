// SPDX-License-Identifier: Apache-2.0
/* stopper: attaches stopper.bpf.c (test only) and keeps it attached until killed.
 *
 *   stopper
 *
 * Prints "stopper: ready" once both programs are attached, then waits. Nothing is pinned: the
 * links belong to this process, so SIGTERM/SIGKILL detaches them and module loading is normal
 * again. Start it BEFORE modgate's agent: programs on one hook run newest attachment first, and
 * the ENOKEY verdict must come after modgate's (stopper.bpf.c explains).
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stopper.skel.h"

/* libbpf's own messages (verifier log included) are what explains a failed load. */
static int print_libbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  return vfprintf(stderr, fmt, args);
}

int main(void) {
  libbpf_set_print(print_libbpf);
  struct stopper* skel = stopper__open_and_load();
  if (!skel) {
    fprintf(stderr, "stopper: load failed: %s\n", strerror(errno));
    return 1;
  }
  int err = stopper__attach(skel);
  if (err) {
    fprintf(stderr, "stopper: attach failed: %s\n", strerror(-err));
    stopper__destroy(skel);
    return 1;
  }
  printf("stopper: ready\n");
  fflush(stdout);
  /* SIGTERM's default action ends the process; the kernel then drops the links with it. */
  for (;;) pause();
}
