// SPDX-License-Identifier: Apache-2.0
/* intruder: attaches intruder.bpf.c (test only) and keeps it attached until killed.
 *
 *   intruder
 *
 * Prints "intruder: ready" once attached, then waits; SIGTERM detaches it (nothing is pinned).
 * When the kernel refuses to load it, prints why and exits with the errno (1 = EPERM), so a
 * scenario can tell "refused by tamper protection" from any other failure.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "intruder.skel.h"

static int print_libbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  return vfprintf(stderr, fmt, args);
}

int main(void) {
  libbpf_set_print(print_libbpf);
  struct intruder* skel = intruder__open();
  if (!skel) {
    fprintf(stderr, "intruder: open failed: %s\n", strerror(errno));
    return 100;
  }
  int err = intruder__load(skel);
  if (err) {
    fprintf(stderr, "intruder: load failed: %s\n", strerror(-err));
    return -err;
  }
  err = intruder__attach(skel);
  if (err) {
    fprintf(stderr, "intruder: attach failed: %s\n", strerror(-err));
    return -err;
  }
  printf("intruder: ready\n");
  fflush(stdout);
  for (;;) pause();
}
