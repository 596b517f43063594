#pragma once

// Child processes of the tests: runtime::child_process, and tetherd from
// this build (TETHERD_PATH) on 127.0.0.1 port 0.

#include <string>
#include <vector>

#include "runtime/process.hpp"

namespace tether::test {

using runtime::child_process;

/// Starts tetherd with `data_dir` and extra args; returns its port, or 0.
inline uint16_t start_tetherd(child_process& p, const std::string& data_dir,
                              std::vector<std::string> extra = {}) {
  return runtime::start_tetherd(p, TETHERD_PATH, data_dir, std::move(extra));
}

} // namespace tether::test
