#include "tools/cli/fleet_runner.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include <arpa/inet.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol/token.hpp"
#include "runtime/cluster_pki.hpp"
#include "runtime/http_client.hpp"
#include "runtime/io_scheduler.hpp"
#include "runtime/node.hpp"
#include "runtime/tls.hpp"
#include "runtime/ws_client_pool.hpp"

namespace tether::cli {

namespace {

using steady = std::chrono::steady_clock;

std::string self_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string{"."} : exe.parent_path().string();
}

} // namespace

bool parse_url(const std::string& url, server_target& t, std::string& problem) {
  std::string rest;
  if (url.rfind("ws://", 0) == 0) {
    rest = url.substr(5);
  } else if (url.rfind("wss://", 0) == 0) {
    rest = url.substr(6);
    t.tls = true;
  } else {
    problem
      = "--url must look like ws://HOST:PORT/PATH or wss://HOST:PORT/PATH";
    return false;
  }
  auto slash = rest.find('/');
  auto hostport = rest.substr(0, slash);
  t.path = slash == std::string::npos ? "/ws" : rest.substr(slash);
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) {
    t.host = hostport;
    t.port = t.tls ? 443 : 80;
  } else {
    t.host = hostport.substr(0, colon);
    char* end = nullptr;
    auto p = std::strtoul(hostport.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || p == 0 || p > 65535) {
      problem = "bad port in --url";
      return false;
    }
    t.port = static_cast<uint16_t>(p);
  }
  if (t.host.empty()) {
    problem = "no host in --url";
    return false;
  }
  return true;
}

bool read_tls_flags(const arg_map& a, server_target& t, std::string& problem) {
  if (!t.tls) {
    if (a.has("ca") || a.has("insecure"))
      problem = "--ca and --insecure are for wss:// URLs (or --spawn --tls)";
    return problem.empty();
  }
  if (a.has("ca"))
    t.ca_file = a.get("ca");
  t.insecure = t.insecure || a.has("insecure");
  if (auto err = runtime::check_client_tls(t.ca_file, t.insecure);
      !err.empty()) {
    problem = a.has("ca") ? "--ca " + t.ca_file + ": " + err : err;
    return false;
  }
  return true;
}

actors::link_options target_link(const server_target& t) {
  actors::link_options o;
  o.host = t.host;
  o.port = t.port;
  o.target = t.path;
  o.tls = t.tls;
  o.ca_file = t.ca_file;
  o.insecure = t.insecure;
  return o;
}

namespace {

bool read_secret(const std::string& path, std::string& out,
                 std::string& problem) {
  if (!std::filesystem::exists(path)) {
    problem = "no secret file '" + path + "' (the server's auth.secret_file)";
    return false;
  }
  try {
    out = runtime::load_or_create_secret(path);
  } catch (const std::exception& e) {
    problem = e.what();
    return false;
  }
  return true;
}

// The device actors run on the thread of their links' loop (as tetherd's
// actors run beside their sockets): a frame reaches its device
// without a futex wake and a context switch on the CLI's one core.
struct cli_config : caf::actor_system_config {
  explicit cli_config(const std::shared_ptr<runtime::io_loop>& loop) {
    add_message_types<caf::id_block::tether_types>();
    runtime::run_actors_on(*this, loop);
    set("logger.verbosity", caf::atom("quiet"));
  }
};

std::shared_ptr<runtime::io_loop> start_loop() {
  auto loop = std::make_shared<runtime::io_loop>(1);
  loop->start();
  return loop;
}

} // namespace

server_target::~server_target() {
  stop();
}

std::vector<int> server_target::pids() const {
  if (!node_pids.empty())
    return node_pids;
  return pid > 0 ? std::vector<int>{pid} : std::vector<int>{};
}

void server_target::stop() {
  for (auto& n : more_nodes)
    n->signal(SIGTERM);
  for (auto& n : more_nodes)
    n->wait(std::chrono::seconds{10});
  more_nodes.clear();
  node_pids.clear();
  if (child) {
    child->signal(SIGTERM);
    child->wait(std::chrono::seconds{10});
    child.reset(); // kills it if it is still running
    pid = 0;
  }
  if (!spawned_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(spawned_dir, ec);
    spawned_dir.clear();
  }
}

bool server_target::restart(std::string& problem) {
  if (!child || spawned_path.empty()) {
    problem = "a restart needs a tetherd started by --spawn";
    return false;
  }
  child->signal(SIGTERM);
  // It drains first (server.drain_window at most, then node.stop_timeout).
  auto status = child->wait(std::chrono::seconds{120});
  if (status != 0) {
    problem = "tetherd exited with " + std::to_string(status)
              + " on SIGTERM: " + child->read_stderr(std::chrono::seconds{1});
    return false;
  }
  auto args = spawned_args;
  args.push_back("--port");
  args.push_back(std::to_string(port));
  child = std::make_unique<runtime::child_process>();
  if (runtime::start_tetherd(*child, spawned_path, restart_dir, args, cpu, true)
      != port) {
    problem = "tetherd did not start again on port " + std::to_string(port)
              + ": " + child->read_stderr(std::chrono::milliseconds{500});
    return false;
  }
  pid = child->pid();
  if (!node_pids.empty())
    node_pids.front() = pid;
  return true;
}

double number_flag(const arg_map& a, const std::string& key, double fallback,
                   std::string& problem) {
  if (!a.has(key))
    return fallback;
  auto text = a.get(key);
  char* end = nullptr;
  auto v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || v < 0) {
    if (problem.empty())
      problem = "--" + key + " must be a non-negative number";
    return fallback;
  }
  return v;
}

namespace {

// The bare reference server, with tetherd's host, path, secret (the devices
// mint their tokens with it; the baseline checks none) and CPU.
bool open_baseline(const arg_map& a, server_target& t, std::string& problem) {
  auto path = a.get("tether-baseline", self_dir() + "/tether-baseline");
  if (!std::filesystem::exists(path)) {
    problem = "no tether-baseline at '" + path
              + "' (build the target, or give --tether-baseline PATH)";
    return false;
  }
  auto b = std::make_unique<server_target>();
  b->host = t.host;
  b->path = t.path;
  b->secret = t.secret;
  b->cpu = t.cpu;
  std::vector<std::string> args{"--host", b->host, "--port", "0"};
  if (t.tls) {
    // wss against wss: the same development certificate as tetherd's, in a
    // directory of the baseline's own (tetherd's goes when it stops, and
    // the clients read the CA when the baseline's run starts).
    b->spawned_dir = t.spawned_dir + "-baseline";
    std::error_code ec;
    std::filesystem::create_directories(b->spawned_dir, ec);
    for (auto f : {"cert.pem", "key.pem"})
      if (!ec)
        std::filesystem::copy_file(
          t.spawned_dir + "/tls/" + f, b->spawned_dir + "/" + f,
          std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
      problem = "cannot copy the certificate for tether-baseline: "
                + ec.message();
      return false;
    }
    b->tls = true;
    b->ca_file = b->spawned_dir + "/cert.pem";
    b->insecure = t.insecure;
    args.insert(args.end(), {"--tls", "--cert", b->spawned_dir + "/cert.pem",
                             "--key", b->spawned_dir + "/key.pem"});
  }
  b->child = std::make_unique<runtime::child_process>();
  b->port = runtime::start_server(*b->child, path, args, b->cpu);
  if (b->port == 0) {
    problem = "tether-baseline did not start: "
              + b->child->read_stderr(std::chrono::milliseconds{500});
    return false;
  }
  b->pid = b->child->pid();
  t.baseline = std::move(b);
  return true;
}

} // namespace

namespace {

// Whether the node on `port` sees `peers` members alive.
bool sees_alive(uint16_t port, size_t peers) {
  runtime::client_options o;
  o.port = port;
  o.target = "/healthz";
  o.timeout = std::chrono::milliseconds{2000};
  auto r = runtime::http_call(o, "GET", "");
  size_t alive = 0;
  for (auto at = r.body.find(R"("state":"alive")"); at != std::string::npos;
       at = r.body.find(R"("state":"alive")", at + 1))
    ++alive;
  return r.status == 200 && alive == peers;
}

// --spawn --nodes N: a cluster of N tetherd on 127.0.0.1, joined through
// node 0, sharing the token secret of the run's data dir, with mutual TLS
// if asked; waits until every node sees the others alive.
bool spawn_cluster(const arg_map& a, const std::string& path,
                   const std::vector<std::string>& extra, server_target& out,
                   std::string& problem) {
  auto n = static_cast<size_t>(number_flag(a, "nodes", 1, problem));
  auto& dir = out.spawned_dir;
  auto ports = runtime::free_ports(n);
  if (ports.size() != n) {
    problem = "no free ports for the cluster";
    return false;
  }
  try {
    runtime::load_or_create_secret(dir + "/secret.key");
    if (a.has("cluster-tls"))
      runtime::write_cluster_ca(dir + "/cluster-ca", 1);
  } catch (const std::exception& e) {
    problem = e.what();
    return false;
  }
  for (size_t i = 0; i < n; ++i) {
    auto node_dir = dir + "/node-" + std::to_string(i);
    auto id = "127.0.0.1:" + std::to_string(ports[i]);
    auto args = extra;
    args.insert(args.end(), {"--auth.secret_file", dir + "/secret.key",
                             "--cluster.port", std::to_string(ports[i])});
    if (i > 0)
      args.insert(args.end(),
                  {"--cluster.seeds", "127.0.0.1:" + std::to_string(ports[0])});
    if (a.has("cluster-tls")) {
      runtime::node_certificate_request r;
      r.node_id = id;
      r.ca_dir = dir + "/cluster-ca";
      r.out_dir = node_dir + "/tls";
      try {
        runtime::write_node_certificate(r);
      } catch (const std::exception& e) {
        problem = e.what();
        return false;
      }
      args.insert(args.end(), {"--cluster.tls_cert", r.out_dir + "/node.pem",
                               "--cluster.tls_key", r.out_dir + "/node-key.pem",
                               "--cluster.tls_ca", r.out_dir + "/ca.pem"});
    }
    auto child = std::make_unique<runtime::child_process>();
    auto port = runtime::start_tetherd(*child, path, node_dir, args, out.cpu,
                                       true);
    if (port == 0) {
      problem = "tetherd node " + std::to_string(i) + " did not start: "
                + child->read_stderr(std::chrono::milliseconds{500});
      return false;
    }
    out.node_pids.push_back(child->pid());
    out.spread.emplace_back("127.0.0.1", port);
    if (i == 0) {
      out.child = std::move(child);
      out.port = port;
      out.pid = out.node_pids.front();
      // Node 0 is the one a restart scenario drains and starts again.
      out.spawned_path = path;
      out.spawned_args = args;
      out.restart_dir = node_dir;
    } else {
      out.more_nodes.push_back(std::move(child));
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{30};
  for (auto& [host, port] : out.spread)
    while (!sees_alive(port, n - 1)) {
      if (std::chrono::steady_clock::now() > deadline) {
        problem = "the cluster of " + std::to_string(n)
                  + " nodes did not converge within 30 s";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  return true;
}

} // namespace

bool open_target(const arg_map& a, server_target& out, std::string& problem,
                 const std::vector<std::string>& server_extra) {
  // A descriptor per connection here and in a spawned server (it inherits
  // the limit), with room for the rest.
  auto connections = static_cast<uint64_t>(
    std::max({number_flag(a, "connections", 0, problem),
              number_flag(a, "subscribers", 0, problem), 0.0}));
  auto files = runtime::raise_fd_limit(
    std::max<uint64_t>(65536, 2 * connections + 4096));
  // Without room for its own files (/proc, the certificates) the run would
  // report zeros: refuse it, and say why.
  if (connections + 512 > files) {
    problem = std::to_string(connections) + " connections need "
              + std::to_string(connections + 512)
              + " open files here and in the server; the limit is "
              + std::to_string(files)
              + " and could not be raised (ulimit -Hn; raising it needs "
                "CAP_SYS_RESOURCE)";
    return false;
  }
  if ((a.has("nodes") || a.has("cluster-tls")) && !a.has("spawn")) {
    problem = "--nodes and --cluster-tls are for --spawn (a cluster it starts)";
    return false;
  }
  if (a.has("cluster-tls") && !a.has("nodes")) {
    problem = "--cluster-tls needs --nodes N";
    return false;
  }
  if (a.has("spawn")) {
    auto path = a.get("tetherd", self_dir() + "/tetherd");
    if (!std::filesystem::exists(path)) {
      problem = "no tetherd at '" + path + "' (give --tetherd PATH)";
      return false;
    }
    int server_cpu = -1;
    if (runtime::usable_cpus() >= 2) {
      server_cpu = static_cast<int>(number_flag(a, "cpu-server", 0, problem));
      auto client_cpu
        = static_cast<int>(number_flag(a, "cpu-client", 1, problem));
      if (!runtime::pin_to_cpu(client_cpu)) {
        problem = "cannot pin this process to CPU "
                  + std::to_string(client_cpu);
        return false;
      }
    }
    out.spawned_dir = (std::filesystem::temp_directory_path()
                       / ("tether-bench-" + std::to_string(::getpid())))
                        .string();
    std::filesystem::create_directories(out.spawned_dir);
    std::vector<std::string> extra = server_extra;
    if (a.has("server-config")) {
      extra.push_back("--config");
      extra.push_back(a.get("server-config"));
    }
    // Past tetherd's default server.max_connections (20000), the run's
    // connections would get 503: allow them (and the publishers).
    if (connections + 1000 > 20000) {
      extra.push_back("--server.max_connections");
      extra.push_back(std::to_string(connections + 1000));
    }
    if (a.has("tls")) {
      // A development certificate for the spawned server; the clients
      // verify it (it names 127.0.0.1).
      try {
        runtime::write_dev_certificate(out.spawned_dir + "/tls");
      } catch (const std::exception& e) {
        problem = e.what();
        return false;
      }
      out.tls = true;
      out.ca_file = out.spawned_dir + "/tls/cert.pem";
      for (auto& x :
           {"--server.tls_cert", "cert.pem", "--server.tls_key", "key.pem"})
        extra.push_back(x[0] == '-' ? std::string{x}
                                    : out.spawned_dir + "/tls/" + x);
    }
    if (a.has("nodes")) {
      out.cpu = server_cpu;
      if (!spawn_cluster(a, path, extra, out, problem))
        return false;
      return read_secret(out.spawned_dir + "/secret.key", out.secret, problem);
    }
    out.child = std::make_unique<runtime::child_process>();
    out.spawned_path = path;
    out.spawned_args = extra;
    out.restart_dir = out.spawned_dir;
    out.port = runtime::start_tetherd(*out.child, path, out.spawned_dir, extra,
                                      server_cpu, true);
    if (out.port == 0) {
      problem = "tetherd did not start: "
                + out.child->read_stderr(std::chrono::milliseconds{500});
      return false;
    }
    out.pid = out.child->pid();
    out.cpu = server_cpu;
    if (!read_tls_flags(a, out, problem))
      return false;
    if (!read_secret(out.spawned_dir + "/secret.key", out.secret, problem))
      return false;
    return !a.has("baseline") || open_baseline(a, out, problem);
  }
  if (!a.has("url")) {
    problem = "give --url ws://HOST:PORT/PATH (with --data-dir or "
              "--secret-file), or --spawn";
    return false;
  }
  auto urls = a.all("url");
  if (urls.size() > 1 && !a.has("spread")) {
    problem = "several --url need --spread (devices spread over the nodes "
              "of one cluster)";
    return false;
  }
  if (!parse_url(urls.front(), out, problem)
      || !read_tls_flags(a, out, problem))
    return false;
  if (a.has("spread"))
    for (auto& u : urls) {
      server_target node;
      if (!parse_url(u, node, problem)) {
        problem.insert(0, "--url " + u + ": ");
        return false;
      }
      out.spread.emplace_back(node.host, node.port);
    }
  out.pid = static_cast<int>(number_flag(a, "pid", 0, problem));
  std::string path;
  if (a.has("secret-file"))
    path = a.get("secret-file");
  else if (a.has("data-dir"))
    path = a.get("data-dir") + "/secret.key";
  else {
    problem = "give --data-dir DIR or --secret-file F: the devices' tokens "
              "are signed with the server's secret";
    return false;
  }
  return problem.empty() && read_secret(path, out.secret, problem);
}

std::string mint_token(const server_target& t, const actors::device_spec& d) {
  protocol::token_claims c;
  c.user_id = d.user_id;
  c.device_id = d.device_id;
  c.type = d.type;
  c.role = d.role;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  c.issued_at = now;
  c.expires_at = now + 24 * 3600;
  return protocol::issue_token(c, t.secret);
}

struct fleet_run::impl {
  std::shared_ptr<runtime::io_loop> loop;
  cli_config cfg;
  caf::actor_system sys;
  runtime::client_pool pool;
  actors::fleet_actor fleet;
  server_target const* target;
  steady::time_point started = steady::now();
  // For the progress line's msgs/s.
  uint64_t last_received = 0;
  steady::time_point last_tick = steady::now();
  bool tty = ::isatty(2) != 0;

  explicit impl(const server_target& t)
    : loop(start_loop()), cfg(loop), sys(cfg), pool(loop), target(&t) {
    // nop
  }

  // The actors end while the loop still runs them; then the loop stops
  // and the links left in it go with the pool.
  ~impl() {
    sys.await_all_actors_done();
    loop->stop();
    pool.stop();
    loop->close();
  }
};

fleet_run::fleet_run(const server_target& target)
  : impl_(std::make_unique<impl>(target)) {
  // nop
}

fleet_run::~fleet_run() {
  if (impl_->fleet)
    stop();
}

actors::link_options fleet_run::link() const {
  return target_link(*impl_->target);
}

void fleet_run::start(std::shared_ptr<actors::fleet_plan> plan) {
  plan_ = std::move(plan);
  if (!plan_->counters)
    plan_->counters = std::make_shared<actors::fleet_counters>();
  plan_->connect = impl_->pool.factory();
  if (plan_->memories.size() != plan_->devices.size())
    plan_->make_memories();
  impl_->started = steady::now();
  impl_->fleet = impl_->sys.spawn(actors::fleet, plan_);
}

void fleet_run::drop_all() {
  caf::anon_send(impl_->fleet, atom::drop_v);
}

void fleet_run::drain() {
  caf::anon_send(impl_->fleet, atom::drain_v);
}

void fleet_run::quiesce() {
  if (!impl_->fleet)
    return;
  caf::scoped_actor self{impl_->sys};
  self->request(impl_->fleet, std::chrono::seconds{15}, atom::flush_v)
    .receive([](atom::ok) {}, [](caf::error&) {});
}

bool fleet_run::stop() {
  if (!impl_->fleet)
    return true;
  caf::scoped_actor self{impl_->sys};
  bool ok = false;
  self->request(impl_->fleet, std::chrono::seconds{15}, atom::stop_v)
    .receive([&](atom::ok) { ok = true; }, [&](caf::error&) {});
  self->send_exit(impl_->fleet, caf::exit_reason::user_shutdown);
  impl_->fleet = nullptr;
  if (impl_->tty)
    std::fprintf(stderr, "\r\033[K");
  return ok;
}

bool fleet_run::wait(const std::function<bool()>& done,
                     std::chrono::milliseconds limit,
                     const std::string& phase) {
  auto deadline = steady::now() + limit;
  auto& c = counters();
  for (;;) {
    if (done())
      return true;
    auto now = steady::now();
    if (now >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
    if (!impl_->tty)
      continue;
    now = steady::now();
    auto dt = secs(now - impl_->last_tick);
    if (dt < 0.5)
      continue;
    auto received = c.received.load();
    auto rate = static_cast<double>(received - impl_->last_received) / dt;
    impl_->last_received = received;
    impl_->last_tick = now;
    std::fprintf(stderr,
                 "\r\033[K%-8s %5.0fs  connected %lld/%zu  sent %llu  "
                 "delivered %llu  %.0f msg/s  p50 %.2f ms  p99 %.2f ms  "
                 "reconnects %llu  errors %llu",
                 phase.c_str(), secs(now - impl_->started),
                 static_cast<long long>(c.connected.load()),
                 plan_->devices.size(),
                 static_cast<unsigned long long>(c.sent.load()),
                 static_cast<unsigned long long>(received), rate,
                 static_cast<double>(c.latency.percentile(50)) / 1000.0,
                 static_cast<double>(c.latency.percentile(99)) / 1000.0,
                 static_cast<unsigned long long>(c.reconnects.load()),
                 static_cast<unsigned long long>(c.errors.load())
                   + static_cast<unsigned long long>(c.gave_up.load()));
    std::fflush(stderr);
  }
}

} // namespace tether::cli
