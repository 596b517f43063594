#include "runtime/process.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include <sched.h>
#include <sys/resource.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

namespace tether::runtime {

namespace {

// A file (`file`) has nothing more at its end yet: waits for more, within
// the limit, as poll does for a pipe.
std::string read_fd(int fd, const std::string& needle,
                    std::chrono::milliseconds limit, bool file = false) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + limit;
  // Past the deadline (or with no limit) it still takes what is already
  // there: mark() reads the log so far with a limit of 0.
  while (needle.empty() || text.find(needle) == std::string::npos) {
    auto left = std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(
           deadline - std::chrono::steady_clock::now())
           .count());
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0)
      break;
    char buf[4096];
    auto n = ::read(fd, buf, sizeof(buf));
    if (n == 0 && file) {
      if (left == 0)
        break;
      ::poll(nullptr, 0, static_cast<int>(std::min<int64_t>(left, 10)));
      continue;
    }
    if (n <= 0)
      break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

} // namespace

child_process::~child_process() {
  if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_ >= 0)
    ::close(out_);
  if (err_ >= 0)
    ::close(err_);
}

bool child_process::start(const std::string& path,
                          const std::vector<std::string>& args, int cpu,
                          const std::string& stderr_file) {
  // Every descriptor made here closes at exec in the child; dup2 gives it
  // the two it keeps.
  int outp[2];
  int errp[2];
  int failp[2];
  if (::pipe2(outp, O_CLOEXEC) != 0)
    return false;
  if (!stderr_file.empty()) {
    // Read from the end: what an earlier process appended is not this one's.
    errp[1] = ::open(stderr_file.c_str(),
                     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    errp[0] = ::open(stderr_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (errp[0] >= 0)
      ::lseek(errp[0], 0, SEEK_END);
    err_file_ = true;
  } else if (::pipe2(errp, O_CLOEXEC) != 0) {
    errp[0] = errp[1] = -1;
  }
  // The child reports a failed exec through this pipe; it closes unread at
  // a successful one.
  if (errp[0] < 0 || errp[1] < 0 || ::pipe2(failp, O_CLOEXEC) != 0) {
    for (int fd : {outp[0], outp[1], errp[0], errp[1]})
      if (fd >= 0)
        ::close(fd);
    return false;
  }
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  std::string p = path;
  argv.push_back(p.data());
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  // Tied to this process: a child started from the main thread is killed
  // when the process ends, however it ends (a test binary that aborts, a
  // CLI killed with SIGKILL). PR_SET_PDEATHSIG fires when the thread that
  // forked the child ends, so one started from another thread (`tether
  // devices --restart`'s restarter) is not tied; its starter ends it.
  auto parent = ::getpid();
  auto tie = parent == static_cast<pid_t>(::syscall(SYS_gettid));
  auto pid = ::fork();
  if (pid == 0) {
    // The child: system calls only until exec (another thread of the
    // parent may have held a lock at the fork).
    if (tie
        && (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent))
      ::_exit(127);
    // As `taskset -c` would; unpinned if the CPU is not there.
    if (cpu >= 0)
      pin_to_cpu(cpu);
    int err = 0;
    if (::dup2(outp[1], 1) < 0 || ::dup2(errp[1], 2) < 0)
      err = errno;
    if (err == 0) {
      ::execve(p.c_str(), argv.data(), environ);
      err = errno;
    }
    if (::write(failp[1], &err, sizeof(err)) < 0)
      ::_exit(126);
    ::_exit(127);
  }
  for (int fd : {outp[1], errp[1], failp[1]})
    ::close(fd);
  out_ = outp[0];
  err_ = errp[0];
  if (pid < 0) {
    ::close(failp[0]);
    return false;
  }
  pid_ = pid;
  int err = 0;
  ssize_t n = 0;
  do {
    n = ::read(failp[0], &err, sizeof(err));
  } while (n < 0 && errno == EINTR);
  ::close(failp[0]);
  if (n > 0) {
    // The exec failed: the child is gone, nothing runs.
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return false;
  }
  return true;
}

std::string child_process::read_stdout_until(const std::string& needle,
                                             std::chrono::milliseconds limit) {
  return read_fd(out_, needle, limit);
}

std::string child_process::read_stderr(std::chrono::milliseconds limit) {
  return read_fd(err_, "\x01", limit, err_file_);
}

std::string child_process::read_stderr_until(const std::string& needle,
                                             std::chrono::milliseconds limit) {
  return read_fd(err_, needle, limit, err_file_);
}

void child_process::signal(int sig) {
  if (pid_ > 0)
    ::kill(pid_, sig);
}

int child_process::wait(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    auto r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return -1;
    ::poll(nullptr, 0, 5); // bounded by the deadline above
  }
}

uint16_t start_tetherd(child_process& p, const std::string& path,
                       const std::string& data_dir,
                       std::vector<std::string> extra, int cpu,
                       bool log_to_file) {
  std::vector<std::string> args{"--port",      "0",          "--address",
                                "127.0.0.1",   "--data-dir", data_dir,
                                "--log-level", "warn"};
  args.insert(args.end(), extra.begin(), extra.end());
  if (!log_to_file)
    return start_server(p, path, args, cpu);
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  return start_server(p, path, args, cpu, data_dir + "/tetherd.log");
}

uint16_t start_server(child_process& p, const std::string& path,
                      const std::vector<std::string>& args, int cpu,
                      const std::string& stderr_file) {
  if (!p.start(path, args, cpu, stderr_file))
    return 0;
  auto line = p.read_stdout_until("\n", std::chrono::seconds{20});
  auto colon = line.rfind(':');
  if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos)
    return 0;
  return static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
}

bool pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

int usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0)
    return 1;
  return CPU_COUNT(&set);
}

namespace {

// Binds a TCP socket to 127.0.0.1:`port` (0: the kernel picks); its fd and
// port, or -1.
std::pair<int, uint16_t> bind_loopback(uint16_t port) {
  auto fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof(addr);
  if (fd < 0
      || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
      || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0)
      ::close(fd);
    return {-1, 0};
  }
  return {fd, ntohs(addr.sin_port)};
}

// The low end of the kernel's ephemeral port range, or 0.
uint16_t ephemeral_low() {
  std::ifstream in{"/proc/sys/net/ipv4/ip_local_port_range"};
  unsigned low = 0;
  if (!(in >> low) || low > 65535)
    return 0;
  return static_cast<uint16_t>(low);
}

} // namespace

std::vector<uint16_t> free_ports(size_t n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  // Below the ephemeral range, from 10000 on: random tries, each bound to
  // check it; the kernel's pick if that range is small or unknown.
  uint16_t first = 10000;
  uint16_t low = ephemeral_low();
  std::mt19937 rng{std::random_device{}()};
  for (size_t i = 0; i < n; ++i) {
    std::pair<int, uint16_t> got{-1, 0};
    if (low > first + 1000) {
      std::uniform_int_distribution<int> pick{first, low - 1};
      for (int attempt = 0; attempt < 64 && got.first < 0; ++attempt)
        got = bind_loopback(static_cast<uint16_t>(pick(rng)));
    }
    if (got.first < 0)
      got = bind_loopback(0);
    if (got.first < 0)
      break;
    fds.push_back(got.first);
    ports.push_back(got.second);
  }
  for (auto fd : fds)
    ::close(fd);
  return ports;
}

uint64_t raise_fd_limit(uint64_t want) {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0)
    return 0;
  if (want > r.rlim_max) {
    rlimit up{want, want};
    if (setrlimit(RLIMIT_NOFILE, &up) == 0)
      return want;
  }
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

bool read_usage(int pid, process_usage& out) {
  auto dir = "/proc/" + std::to_string(pid);
  std::ifstream status{dir + "/status"};
  if (!status)
    return false;
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      out.rss_bytes = std::stoull(line.substr(6)) * 1024; // kB
  std::ifstream stat{dir + "/stat"};
  std::string text;
  if (!std::getline(stat, text))
    return false;
  // Fields after the command name (which may contain spaces): state is
  // field 3; utime and stime are fields 14 and 15, in clock ticks.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return false;
  std::istringstream in{text.substr(close + 2)};
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    if (i == 15)
      stime = std::stoull(field);
  }
  out.cpu_seconds = static_cast<double>(utime + stime)
                    / static_cast<double>(sysconf(_SC_CLK_TCK));
  // The same sum in nanoseconds where the kernel lets us read the process's
  // CPU clock: clock ticks (10 ms) are too coarse for windows of seconds.
  clockid_t clock;
  timespec ts{};
  if (clock_getcpuclockid(pid, &clock) == 0 && clock_gettime(clock, &ts) == 0)
    out.cpu_seconds = static_cast<double>(ts.tv_sec)
                      + static_cast<double>(ts.tv_nsec) / 1e9;
  return true;
}

bool read_context_switches(int pid, uint64_t& out) {
  std::error_code ec;
  std::filesystem::directory_iterator tasks{
    "/proc/" + std::to_string(pid) + "/task", ec};
  if (ec)
    return false;
  uint64_t sum = 0;
  std::string line;
  for (auto& task : tasks) {
    // A thread may end between the listing and the read: it is skipped.
    std::ifstream status{task.path() / "status"};
    while (std::getline(status, line))
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0
          || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
        sum += std::stoull(line.substr(line.find(':') + 1));
  }
  out = sum;
  return true;
}

namespace {

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

} // namespace

double random_unit() {
  return std::uniform_real_distribution<double>{0.0, 1.0}(thread_rng());
}

std::string random_hex_id() {
  auto& rng = thread_rng();
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 2; ++i) {
    auto v = rng();
    for (int j = 0; j < 16; ++j, v >>= 4)
      out += hex[v & 15];
  }
  return out;
}

} // namespace tether::runtime
