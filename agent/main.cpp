// SPDX-License-Identifier: Apache-2.0

#include "agent/cli/app.h"

int main(int argc, char** argv) {
  auto cli = modgate::cli::make_cli();
  return modgate::cli::run_cli(*cli, argc, argv);
}
