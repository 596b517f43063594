#pragma once

#include <string>

namespace tether::runtime {

/// Configures spdlog: one line per event on stderr, `level` as in
/// node.log_level.
void setup_logging(const std::string& level);

} // namespace tether::runtime
