#pragma once

// Child processes of the tests: runtime::child_process, and tetherd from
// this build (TETHERD_PATH) on 127.0.0.1 port 0.

#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/process.hpp"

namespace tether::test {

using runtime::child_process;

/// The tetherd the tests run: this build's, or $TETHERD (e.g. a release
/// build, to read figures the sanitizers would blur).
inline std::string tetherd_path() {
  auto env = std::getenv("TETHERD");
  return env != nullptr && *env != '\0' ? env : TETHERD_PATH;
}

/// Starts tetherd with `data_dir` and extra args; returns its port, or 0.
inline uint16_t start_tetherd(child_process& p, const std::string& data_dir,
                              std::vector<std::string> extra = {}) {
  return runtime::start_tetherd(p, tetherd_path(), data_dir, std::move(extra));
}

} // namespace tether::test
