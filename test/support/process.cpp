#include "test/support/process.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace tether::test {

namespace {

std::string read_fd(int fd, const std::string& needle,
                    std::chrono::milliseconds limit) {
  std::string text;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (needle.empty() || text.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      break;
    char buf[4096];
    auto n = ::read(fd, buf, sizeof(buf));
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
                          const std::vector<std::string>& args) {
  int outp[2];
  int errp[2];
  if (::pipe(outp) != 0 || ::pipe(errp) != 0)
    return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
  posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
  posix_spawn_file_actions_addclose(&fa, outp[0]);
  posix_spawn_file_actions_addclose(&fa, errp[0]);
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  std::string p = path;
  argv.push_back(p.data());
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  auto rc = posix_spawn(&pid_, p.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(outp[1]);
  ::close(errp[1]);
  out_ = outp[0];
  err_ = errp[0];
  return rc == 0;
}

std::string child_process::read_stdout_until(const std::string& needle,
                                             std::chrono::milliseconds limit) {
  return read_fd(out_, needle, limit);
}

std::string child_process::read_stderr(std::chrono::milliseconds limit) {
  return read_fd(err_, "\x01", limit);
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

uint16_t start_tetherd(child_process& p, const std::string& data_dir,
                       std::vector<std::string> extra) {
  std::vector<std::string> args{"--port", "0", "--address", "127.0.0.1",
                                "--data-dir", data_dir, "--log-level", "warn"};
  args.insert(args.end(), extra.begin(), extra.end());
  if (!p.start(TETHERD_PATH, args))
    return 0;
  auto line = p.read_stdout_until("\n", std::chrono::seconds{20});
  auto colon = line.rfind(':');
  if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos)
    return 0;
  return static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
}

} // namespace tether::test
