#pragma once

// A child process started by a test (tetherd), with its stdout and stderr
// captured. The destructor kills it (by pid) if it is still running: a test
// ends only the processes it started.

#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

namespace tether::test {

class child_process {
public:
  child_process() = default;
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Starts `path` with `args`; false if it could not be spawned.
  bool start(const std::string& path, const std::vector<std::string>& args);

  /// Reads stdout until `needle` appears or `limit` passes.
  std::string read_stdout_until(const std::string& needle,
                                std::chrono::milliseconds limit);

  /// Reads what stderr holds within `limit`.
  std::string read_stderr(std::chrono::milliseconds limit);

  /// Sends `sig` to the process.
  void signal(int sig);

  /// Waits for the exit status (bounded); -1 on timeout. A death by signal
  /// is reported as 128 + signal.
  int wait(std::chrono::milliseconds limit);

  pid_t pid() const noexcept { return pid_; }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
};

/// Starts tetherd on 127.0.0.1 port 0 with `data_dir` and extra args; returns
/// the port it printed, or 0.
uint16_t start_tetherd(child_process& p, const std::string& data_dir,
                       std::vector<std::string> extra = {});

} // namespace tether::test
