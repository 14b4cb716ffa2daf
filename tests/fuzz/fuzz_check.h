// SPDX-License-Identifier: Apache-2.0
// Invariants a fuzz target asserts beyond "does not crash". A violated one aborts, so libFuzzer
// saves the input as a crash and the replay driver (replay_main.cpp) fails on it, in every build
// type (assert() would vanish under NDEBUG in RelWithDebInfo).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                     \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)
