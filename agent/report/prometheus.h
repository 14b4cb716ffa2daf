// SPDX-License-Identifier: Apache-2.0
// Prometheus text exposition (format 0.0.4) of the agent's status. It is rendered from the same
// JSON document `modgate status --json` prints, so the two can never disagree, and it is what both
// `modgate status --prometheus` and the node_exporter textfile written by `run --metrics-file`
// contain. Metric names and meanings: docs/fleet.md, "Metrics".
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "policy/result.h"

namespace modgate::report {

// Missing parts of the status (no policy, no pull configured) leave their metrics out rather than
// inventing zeros that would read as facts.
std::string render_prometheus(const nlohmann::ordered_json& status);

// Replaces PATH in one rename (a temporary file in the same directory, fsynced), so a collector
// never reads half a file. node_exporter only reads files ending in ".prom"; that is checked.
Result<Ok> write_textfile(const std::string& path, const std::string& text);

}  // namespace modgate::report
