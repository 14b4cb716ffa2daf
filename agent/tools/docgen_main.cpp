// SPDX-License-Identifier: Apache-2.0
// Build-time generator of modgate(8) from the command line definition (agent/cli/docgen.h).
// Usage: modgate_docgen man DATE > modgate.8
#include <iostream>
#include <string>

#include "agent/cli/app.h"
#include "agent/cli/docgen.h"

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) != "man") {
    std::cerr << "usage: modgate_docgen man DATE\n";
    return 2;
  }
  auto cli = modgate::cli::make_cli();
  std::cout << modgate::cli::man_page(cli->app, MODGATE_VERSION, argv[2]);
  return 0;
}
