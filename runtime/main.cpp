// tetherd: the Tether service. Runs on embedded defaults; --config FILE and
// flags override them (tetherd --help lists every setting).

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "config/settings.hpp"
#include "runtime/log.hpp"
#include "runtime/node.hpp"

namespace {

void print_help(const tether::config::settings& s) {
  std::cout << "usage: tetherd [--config FILE] [--port N] [--address A] "
               "[--data-dir DIR]\n"
               "               [--log-level L] [--SECTION.KEY VALUE ...] "
               "[--dump-config]\n\n"
               "Settings (INI section.key, default):\n";
  for (auto& o : tether::config::describe(s))
    std::cout << "  " << o.key << " = " << o.value << "\n      " << o.help
              << "\n";
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto loaded = tether::config::load(args);
  if (loaded.help) {
    print_help(loaded.values);
    return 0;
  }
  if (!loaded.problems.empty()) {
    std::cerr << "tetherd: the configuration has " << loaded.problems.size()
              << " problem(s):\n";
    for (auto& p : loaded.problems)
      std::cerr << "  - " << p << "\n";
    return 2;
  }
  if (loaded.dump) {
    std::cout << tether::config::to_ini(loaded.values);
    return 0;
  }
  tether::runtime::setup_logging(loaded.values.node.log_level);
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  // Raised by the node itself when it fails.
  sigaddset(&stop_signals, SIGUSR1);
  // Reload the TLS certificate and key.
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Past RLIMIT_FSIZE a write fails with EFBIG (a store error that stops the
  // node cleanly) instead of killing the process.
  signal(SIGXFSZ, SIG_IGN);
  try {
    tether::runtime::node n{loaded.values};
    n.on_failure([main_thread = pthread_self()](const std::string&) {
      pthread_kill(main_thread, SIGUSR1);
    });
    // POST /api/v1/drain: as SIGTERM (to the process: every thread blocks
    // it, the main thread's sigwait takes it).
    n.on_stop_request([] { ::kill(::getpid(), SIGTERM); });
    auto port = n.start();
    auto& s = n.settings();
    spdlog::info("tetherd {} listening on {}:{} (ws path {}, data dir {})",
                 TETHER_VERSION, s.server.address, port, s.server.ws_path,
                 s.node.data_dir);
    // A stable line on stdout for scripts and tests to find the port.
    std::printf("listening on %s:%u\n", s.server.address.c_str(),
                static_cast<unsigned>(port));
    std::fflush(stdout);
    int sig = 0;
    for (;;) {
      sigwait(&stop_signals, &sig);
      if (sig == SIGHUP) {
        n.reload_tls();
        continue;
      }
      if (sig != SIGUSR1)
        break;
      if (!n.failure().empty()) {
        // The node logged why; its sessions are closing with 1011.
        n.stop();
        return 1;
      }
    }
    spdlog::info("received {}; draining, then shutting down",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
    n.drain();
    n.stop();
  } catch (const std::exception& e) {
    spdlog::critical("tetherd: {}", e.what());
    return 1;
  }
  return 0;
}
