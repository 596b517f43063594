#pragma once

// A child process (tetherd, started by a test or by `tether bench`), with
// its stdout and stderr captured, optionally pinned to one CPU. The
// destructor kills it (by pid) if it is still running: whoever starts a
// process ends it, and only that one. One started from the main thread is
// also killed when this process ends without its destructors (an aborted
// test binary, a CLI killed with SIGKILL): PR_SET_PDEATHSIG.

#include <chrono>
#include <string>
#include <vector>

#include <sys/types.h>

namespace tether::runtime {

class child_process {
public:
  child_process() = default;
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  /// Starts `path` with `args`, on CPU `cpu` only if >= 0 (as `taskset -c`
  /// would); false if it could not be spawned. Its stderr goes to a pipe
  /// (a child that logs more than the pipe holds blocks until it is read),
  /// or appended to `stderr_file`, which the read_stderr calls then read
  /// from where it ended at the start: a child nobody reads while it runs
  /// (a benchmark's server) never waits on its log.
  bool start(const std::string& path, const std::vector<std::string>& args,
             int cpu = -1, const std::string& stderr_file = {});

  /// Reads stdout until `needle` appears or `limit` passes.
  std::string read_stdout_until(const std::string& needle,
                                std::chrono::milliseconds limit);

  /// Reads what stderr holds within `limit`.
  std::string read_stderr(std::chrono::milliseconds limit);

  /// Reads stderr until `needle` appears or `limit` passes (what was read,
  /// possibly past the needle).
  std::string read_stderr_until(const std::string& needle,
                                std::chrono::milliseconds limit);

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
  /// err_ reads a file (stderr_file), not a pipe.
  bool err_file_ = false;
};

/// Starts the server at `path` with `args` (on CPU `cpu` if >= 0) and
/// returns the port of the `listening on ADDRESS:PORT` line it prints
/// first, or 0. `stderr_file`: as child_process::start.
uint16_t start_server(child_process& p, const std::string& path,
                      const std::vector<std::string>& args, int cpu = -1,
                      const std::string& stderr_file = {});

/// Starts the tetherd at `path` on 127.0.0.1 port 0 with `data_dir` and
/// extra args; returns the port it printed, or 0. `log_to_file`: its log
/// is appended to data_dir/tetherd.log instead of a pipe (a server that
/// runs unread, as the CLI's spawned ones, must never block on its log).
uint16_t start_tetherd(child_process& p, const std::string& path,
                       const std::string& data_dir,
                       std::vector<std::string> extra = {}, int cpu = -1,
                       bool log_to_file = false);

/// Pins the calling process to CPU `cpu`; false if that is not possible.
bool pin_to_cpu(int cpu);

/// 128 random bits as 32 hex digits (session ids, generated message ids).
std::string random_hex_id();

/// A uniform draw in [0, 1) (jitter).
double random_unit();

/// Number of CPUs this process may run on.
int usable_cpus();

/// `n` distinct free TCP ports on 127.0.0.1 (each held until all are
/// picked, so none repeats); fewer if the host has none left. They lie
/// below the kernel's ephemeral range (ip_local_port_range) where it can
/// be read: a port handed out there could be taken before its user binds
/// it, as the source port of any outgoing connection or by a bind to port
/// 0 (tests running side by side did).
std::vector<uint16_t> free_ports(size_t n);

/// Raises the soft limit of open files to the hard limit, and both to
/// `want` if that is higher and the process may (CAP_SYS_RESOURCE); returns
/// the soft limit. Children started afterwards inherit it.
uint64_t raise_fd_limit(uint64_t want = 0);

/// Memory and CPU figures of a process, from /proc/<pid>.
struct process_usage {
  /// Resident set size (VmRSS), bytes.
  uint64_t rss_bytes = 0;
  /// User + system CPU time of all its threads, seconds (nanosecond
  /// resolution where its CPU clock is readable, else clock ticks).
  double cpu_seconds = 0;
};

/// Reads them; false if the process is gone (or not readable).
bool read_usage(int pid, process_usage& out);

/// Reads the context switches (voluntary + nonvoluntary) of every thread
/// of `pid`, summed over /proc/<pid>/task/*/status; false if it is gone.
/// Threads that ended before the call are not counted.
bool read_context_switches(int pid, uint64_t& out);

} // namespace tether::runtime
