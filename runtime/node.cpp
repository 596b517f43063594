#include "runtime/node.hpp"
#include "runtime/server_api.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/function_view.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/cluster/cluster_actor.hpp"
#include "actors/cluster/gate_actor.hpp"
#include "actors/orchestrator/orchestrator_actor.hpp"
#include "protocol/text.hpp"
#include "protocol/token.hpp"
#include "runtime/api_request.hpp"
#include "runtime/cluster_pki.hpp"
#include "runtime/cluster_transport.hpp"
#include "runtime/io_scheduler.hpp"
#include "runtime/node_params.hpp"
#include "runtime/process.hpp"
#include "runtime/push_http.hpp"
#include "runtime/ws_server.hpp"

namespace tether::runtime {

namespace {

/// A whole file the setting `key` names.
std::string read_file(const std::string& path, const char* key) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw startup_error(std::string{"cannot read "} + key + " '" + path + "'");
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

/// A push provider's private key of the kind it signs with.
protocol::private_key read_push_key(const char* key, const std::string& path,
                                    const std::string& pem,
                                    protocol::private_key::kind want) {
  std::string why;
  auto k = protocol::private_key::read(pem, why);
  if (!k)
    throw startup_error(std::string{key} + " '" + path + "' " + why);
  if (k.type() != want)
    throw startup_error(std::string{key} + " '" + path + "' holds "
                        + (want == protocol::private_key::kind::rsa
                             ? "an EC key; a service account's key is RSA"
                             : "an RSA key; an APNs key is EC P-256"));
  return k;
}

/// The webhook's signing key from push.webhook_secret_file (trailing
/// newlines and spaces are not part of it).
std::string read_webhook_secret(const std::string& path) {
  auto key = read_file(path, "push.webhook_secret_file");
  while (!key.empty()
         && (key.back() == '\n' || key.back() == '\r' || key.back() == ' '))
    key.pop_back();
  if (key.size() < 16)
    throw startup_error("push.webhook_secret_file '" + path
                        + "' holds a key of " + std::to_string(key.size())
                        + " bytes; at least 16 are needed");
  return key;
}

/// The actor system configuration of a node: message types and scheduler.
class app_config : public caf::actor_system_config {
public:
  app_config(const config::settings& all,
             const std::shared_ptr<io_loop>& loop) {
    add_message_types<caf::id_block::tether_types>();
    if (all.cluster.port != 0) {
      // The middleman (CAF's distribution) only for a cluster: its
      // multiplexer thread costs a single node nothing then.
      load<caf::io::middleman>();
      set("middleman.heartbeat-interval",
          caf::timespan{all.cluster.heartbeat_interval});
      set("middleman.connection-timeout",
          caf::timespan{all.cluster.connection_timeout});
    }
    auto& s = all.caf;
    if (s.scheduler_policy == "loops") {
      run_actors_on(*this, loop);
    } else {
      set("scheduler.policy", s.scheduler_policy == "sharing"
                                ? caf::atom("sharing")
                                : caf::atom("stealing"));
      auto threads = s.max_threads != 0 ? s.max_threads
                                        : static_cast<uint32_t>(usable_cpus());
      set("scheduler.max-threads", static_cast<size_t>(std::max(1u, threads)));
    }
    // CAF prints to stderr otherwise; Tether logs through spdlog.
    set("logger.console", caf::atom("none"));
  }
};

actors::member_info cluster_self(const config::settings& s) {
  actors::member_info m;
  m.node_id = s.node_id();
  m.host = s.cluster.address;
  m.port = s.cluster.port;
  m.incarnation = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return m;
}

} // namespace

std::string load_or_create_secret(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto parent = fs::path{path}.parent_path();
  if (!parent.empty())
    fs::create_directories(parent, ec);
  if (ec)
    throw startup_error("cannot create directory '" + parent.string()
                        + "': " + ec.message());
  // O_EXCL: two nodes starting on one data dir cannot both write a secret.
  auto fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd >= 0) {
    auto secret = protocol::generate_secret() + "\n";
    auto ok = ::write(fd, secret.data(), secret.size())
              == static_cast<ssize_t>(secret.size());
    ok = ::fsync(fd) == 0 && ok;
    ::close(fd);
    if (!ok)
      throw startup_error("cannot write secret file '" + path + "'");
    spdlog::info("created token secret {}", path);
  } else if (errno != EEXIST) {
    throw startup_error("cannot create secret file '" + path
                        + "': " + std::strerror(errno));
  }
  auto secret = std::string{protocol::trim(read_file(path, "secret file"))};
  if (secret.size() < 32)
    throw startup_error("secret file '" + path
                        + "' holds fewer than 32 bytes; delete it to have a "
                          "new one generated");
  return secret;
}

/// Holds an exclusive flock on <data_dir>/tetherd.lock for the node's life,
/// so that two nodes never share one store.
class data_dir_lock {
public:
  explicit data_dir_lock(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      throw startup_error("cannot create data dir '" + dir
                          + "': " + ec.message());
    auto path = dir + "/tetherd.lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw startup_error("cannot open '" + path
                          + "': " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw startup_error("data dir '" + dir
                          + "' is in use by another tetherd (lock " + path
                          + ")");
    }
  }
  ~data_dir_lock() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  data_dir_lock(const data_dir_lock&) = delete;
  data_dir_lock& operator=(const data_dir_lock&) = delete;

private:
  int fd_ = -1;
};

struct node::impl {
  config::settings settings;
  std::unique_ptr<data_dir_lock> lock;
  actors::test_clock_skew_ptr test_clock_skew
    = std::make_shared<std::atomic<int64_t>>(0);
  std::shared_ptr<actors::node_metrics> metrics
    = std::make_shared<actors::node_metrics>();
  /// The event loops: the sockets, and the actors with the loops policy.
  std::shared_ptr<io_loop> loop;
  app_config cfg;
  caf::actor_system sys;
  actors::orchestrator_actor orchestrator;
  /// A cluster only: its transport (mutual TLS), the middleman actor over
  /// it, this node's membership view and its gate.
  std::shared_ptr<cluster_transport> transport;
  caf::io::middleman_actor middleman;
  actors::cluster_actor cluster;
  actors::gate_actor gate;
  std::shared_ptr<actors::cluster_board> board
    = std::make_shared<actors::cluster_board>();
  std::unique_ptr<ws_server> server;
  uint16_t port = 0;
  std::chrono::steady_clock::time_point started
    = std::chrono::steady_clock::now();
  std::atomic<bool> stopped{false};
  std::atomic<bool> draining{false};
  std::function<void()> on_stop_request;
  /// Set once if the orchestrator ended without being stopped.
  mutable std::mutex failure_mutex;
  std::string failure;
  std::function<void(const std::string&)> on_failure;

  explicit impl(config::settings s)
    : settings(std::move(s)), loop(start_loop(settings)), cfg(settings, loop),
      sys(cfg) {
    // nop
  }

  // 0 loops: one per CPU the process may run on when the actors run on
  // them, else one (it keeps up with a core of socket traffic; CAF's
  // workers take the rest).
  static std::shared_ptr<io_loop> start_loop(const config::settings& s) {
    auto loops = s.server.io_threads;
    if (loops == 0)
      loops = s.caf.scheduler_policy == "loops"
                ? static_cast<uint32_t>(usable_cpus())
                : 1u;
    auto l = std::make_shared<io_loop>(loops);
    l->start();
    return l;
  }

  ~impl() { end(); }

  /// Ends the actors, then the loop (the actors may run on it), then the
  /// server and the sessions left, while the actor system still exists.
  void end() {
    for (auto& a : {caf::actor_cast<caf::actor>(gate),
                    caf::actor_cast<caf::actor>(cluster),
                    caf::actor_cast<caf::actor>(orchestrator)})
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    gate = nullptr;
    cluster = nullptr;
    orchestrator = nullptr;
    sys.await_all_actors_done();
    if (transport) {
      transport->stop();
      // CAF's servers, which peers came to know (the registry holds them).
      end_and_await({caf::actor_cast<caf::actor>(sys.spawn_serv()),
                     caf::actor_cast<caf::actor>(sys.config_serv())},
                    std::chrono::seconds{5});
    }
    middleman = nullptr; // detached: the system waits for its last handle
    loop->stop();
    server.reset();
    loop->close();
  }

  // Runs on the thread of the dying orchestrator or cluster actor.
  void actor_ended(const caf::error& reason) {
    if (!reason || reason == caf::exit_reason::user_shutdown)
      return;
    std::function<void(const std::string&)> hook;
    {
      std::lock_guard<std::mutex> guard{failure_mutex};
      if (stopped || !failure.empty())
        return;
      failure = sys.render(reason);
      hook = on_failure;
    }
    spdlog::critical("node failed: {}; sessions close with 1011 and the node "
                     "stops; restarting it on the same data dir recovers "
                     "every acknowledged message",
                     failure);
    if (hook)
      hook(failure);
  }

  std::string failed() const {
    std::lock_guard<std::mutex> guard{failure_mutex};
    return failure;
  }

  std::string healthz() const {
    auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now() - started)
                    .count();
    std::ostringstream out;
    out << R"({"status":")"
        << (!failed().empty() ? "failed"
            : stopped         ? "stopping"
            : draining        ? "draining"
                              : "ok")
        << R"(","version":")" TETHER_VERSION R"(","protocolVersion":")"
        << protocol::protocol_version << R"(","uptimeSeconds":)" << uptime
        << R"(,"connections":)" << metrics->connections();
    // Node ids and addresses are plain (config validation).
    if (settings.cluster.port != 0) {
      out << R"(,"node":")" << settings.node_id() << R"(","members":[)";
      auto first = true;
      for (auto& r : board->rows()) {
        out << (first ? "" : ",") << R"({"id":")" << r.node_id
            << R"(","address":")" << r.address << R"(","state":")"
            << actors::to_string(r.state) << R"("})";
        first = false;
      }
      out << "]";
    }
    out << "}";
    return out.str();
  }
};

node::node(config::settings settings)
  : impl_(std::make_unique<impl>(std::move(settings))) {
  // nop
}

node::~node() {
  stop();
}

uint16_t node::start() {
  auto& s = impl_->settings;
  impl_->lock = std::make_unique<data_dir_lock>(s.node.data_dir);
  auto secret = load_or_create_secret(s.secret_path());
  std::shared_ptr<actors::durable_log> log;
  try {
    log = std::make_shared<actors::durable_log>(s.node.data_dir + "/tether.db");
  } catch (const actors::store_error& e) {
    throw startup_error(e.what());
  }
  auto self = cluster_self(s);
  self.store_id = log->store_id();
  if (s.cluster.port != 0)
    prepare_cluster(self);
  auto params = orchestrator_params_of(s);
  params.log = std::move(log);
  params.queue.test_clock_skew = impl_->test_clock_skew;
  params.store.test_clock_skew = impl_->test_clock_skew;
  params.pusher.test_clock_skew = impl_->test_clock_skew;
  // The providers' client, once a provider is configured (its own thread).
  if (!s.push.webhook_url.empty())
    params.pusher.webhook_secret
      = read_webhook_secret(s.push.webhook_secret_file);
  if (!s.push.apns_key_file.empty())
    params.pusher.apns.key
      = read_push_key("push.apns_key_file", s.push.apns_key_file,
                      read_file(s.push.apns_key_file, "push.apns_key_file"),
                      protocol::private_key::kind::ec_p256);
  if (!s.push.fcm_service_account_file.empty()) {
    auto& f = params.pusher.fcm;
    auto json = read_file(s.push.fcm_service_account_file,
                          "push.fcm_service_account_file");
    std::string why;
    if (!protocol::read_service_account(json, f.account, why))
      throw startup_error("push.fcm_service_account_file '"
                          + s.push.fcm_service_account_file + "' " + why);
    f.key = read_push_key("push.fcm_service_account_file",
                          s.push.fcm_service_account_file,
                          f.account.private_key_pem,
                          protocol::private_key::kind::rsa);
    f.account.private_key_pem.clear(); // the key is read; no copy stays
  }
  if (!s.push.webhook_url.empty() || params.pusher.apns.key
      || params.pusher.fcm.key) {
    push_http::options po;
    po.timeout = s.push.timeout;
    po.ca_file = s.push.ca_file;
    params.pushes = std::make_shared<push_http>(po);
  }
  params.cluster = impl_->cluster;
  params.peer.self = self;
  params.replica.self = self.node_id;
  params.replica.lineage = self.store_id;
  params.peer.middleman = caf::actor_cast<caf::actor>(impl_->middleman);
  params.peer.certificates = impl_->transport;
  params.peer.metrics = impl_->metrics;
  impl_->orchestrator = impl_->sys.spawn(actors::orchestrator,
                                         std::move(params), impl_->metrics);
  // Watched: if it ends without stop(), the node has failed.
  impl_->orchestrator->attach_functor(
    [i = impl_.get()](const caf::error& reason) { i->actor_ended(reason); });
  if (s.cluster.port != 0)
    start_cluster();
  auto sp = server_params_of(s);
  if (!sp.echo_path.empty())
    spdlog::warn("server.echo_path {} is on: an unauthenticated echo route "
                 "for conformance tests, not for production",
                 sp.echo_path);
  sp.secret = std::move(secret);
  if (!s.auth.api_keys_file.empty()) {
    try {
      sp.api_keys = load_api_keys(s.auth.api_keys_file);
    } catch (const std::exception& e) {
      caf::anon_send_exit(impl_->orchestrator, caf::exit_reason::user_shutdown);
      throw startup_error(e.what());
    }
    spdlog::info("server API on /api/v1 with {} keys", sp.api_keys.size());
  }
  server_hooks hooks;
  hooks.open
    = [orch = impl_->orchestrator](std::shared_ptr<actors::session_port> port) {
        caf::anon_send(orch, atom::open_v, std::move(port));
      };
  hooks.healthz = [i = impl_.get()] { return i->healthz(); };
  api_context api;
  api.sys = &impl_->sys;
  api.orchestrator = impl_->orchestrator;
  api.cluster = impl_->cluster;
  api.limits = s.limits.protocol;
  api.timeout = s.node.request_timeout;
  api.stats = hooks.healthz;
  if (impl_->on_stop_request)
    api.drain = [i = impl_.get()] {
      i->on_stop_request();
      return std::string{R"({"draining":true,"windowMs":)"}
             + std::to_string(i->settings.server.drain_window.count())
             + R"(,"sessions":)" + std::to_string(i->server->sessions()) + "}";
    };
  hooks.api = [api](const std::string& method, const std::string& path,
                    const std::string& body,
                    std::function<void(unsigned, std::string)> reply) {
    serve_api(api, method, path, body, std::move(reply));
  };
  impl_->server = std::make_unique<ws_server>(std::move(sp), std::move(hooks),
                                              impl_->metrics, impl_->loop);
  try {
    impl_->port = impl_->server->start();
  } catch (const std::exception& e) {
    caf::anon_send_exit(impl_->orchestrator, caf::exit_reason::user_shutdown);
    throw startup_error(e.what());
  }
  return impl_->port;
}

void node::prepare_cluster(const actors::member_info& self) {
  auto& s = impl_->settings;
  auto& c = s.cluster;
  auto tp = transport_params_of(s);
  if (!c.tls_cert.empty()) {
    auto problem = check_node_credentials(c.tls_cert, c.tls_key, c.tls_ca,
                                          self.node_id);
    if (!problem.empty())
      throw startup_error("cluster TLS: " + problem);
    tp.cert_file = c.tls_cert;
    tp.key_file = c.tls_key;
    tp.ca_file = c.tls_ca;
  } else if (c.insecure) {
    spdlog::warn("cluster.insecure: the cluster port {}:{} takes plain BASP: "
                 "anyone who reaches it is a peer (SPEC §14.1)",
                 c.address, c.port);
  }
  impl_->transport = std::make_shared<cluster_transport>(tp, impl_->metrics);
  if (auto err = impl_->transport->load(); !err.empty())
    throw startup_error("cluster TLS: " + err);
  impl_->middleman = impl_->transport->start(impl_->sys);
  auto cp = cluster_params_of(s, self);
  cp.board = impl_->board;
  impl_->cluster = impl_->sys.spawn(actors::cluster, std::move(cp),
                                    impl_->metrics);
  impl_->cluster->attach_functor(
    [i = impl_.get()](const caf::error& reason) { i->actor_ended(reason); });
}

void node::start_cluster() {
  auto& s = impl_->settings;
  auto& i = *impl_;
  caf::anon_send(i.cluster, atom::start_v, i.orchestrator);
  auto gp = gate_params_of(s);
  gp.cluster = i.cluster;
  gp.middleman = caf::actor_cast<caf::actor>(i.middleman);
  gp.certificates = i.transport;
  gp.metrics = i.metrics;
  i.gate = i.sys.spawn(actors::gate, std::move(gp));
  // What peers reach: the filter in front of the gate (no exit or system
  // message gets through), through the transport's middleman. reuse: a node
  // restarted at once gets its port back (TIME_WAIT).
  auto front = actors::make_gate_filter(i.sys, i.gate, i.metrics);
  auto publish = caf::make_function_view(i.middleman);
  auto port = publish(caf::publish_atom_v, s.cluster.port,
                      caf::actor_cast<caf::strong_actor_ptr>(front),
                      i.sys.message_types(front), s.cluster.address, true);
  if (!port) {
    caf::anon_send_exit(i.orchestrator, caf::exit_reason::user_shutdown);
    throw startup_error("cannot listen on cluster port " + s.cluster.address
                        + ":" + std::to_string(s.cluster.port) + ": "
                        + i.sys.render(port.error()));
  }
  spdlog::info("cluster: listening on {}:{} as {} ({})", s.cluster.address,
               *port, s.node_id(),
               i.transport->verifying() ? "mutual TLS" : "plain TCP");
}

void node::drain() {
  auto& i = *impl_;
  if (i.stopped || !i.server || i.draining.exchange(true))
    return;
  auto window = i.settings.server.drain_window;
  auto rate = i.settings.server.handshake_rate;
  auto sessions = i.server->sessions();
  auto takes = actors::drain_duration(sessions, window, rate);
  spdlog::info("draining {} sessions in about {} ms (at most {} ms)", sessions,
               takes.count(), window.count());
  i.server->drain(takes);
  caf::scoped_actor self{i.sys};
  self
    ->request(i.orchestrator, window + i.settings.node.stop_timeout,
              atom::drain_v, static_cast<uint32_t>(window.count()), rate)
    .receive([](atom::ok) {},
             [](caf::error& err) {
               spdlog::warn("drain: {}", to_string(err));
             });
}

void node::on_stop_request(std::function<void()> f) {
  impl_->on_stop_request = std::move(f);
}

void node::stop() {
  auto& i = *impl_;
  if (i.stopped || !i.server)
    return;
  auto failed = false;
  {
    std::lock_guard<std::mutex> guard{i.failure_mutex};
    i.stopped = true;
    failed = !i.failure.empty();
  }
  spdlog::info("stopping: closing {} sessions", i.server->sessions());
  i.server->stop_accepting();
  // A failed node's connections are closing their sessions with 1011.
  if (!failed) {
    caf::scoped_actor self{i.sys};
    self
      ->request(i.orchestrator,
                i.settings.node.stop_timeout + std::chrono::seconds{1},
                atom::stop_v)
      .receive([](atom::ok) {},
               [](caf::error& err) {
                 spdlog::warn("orchestrator stop: {}", to_string(err));
               });
  }
  // Sessions finish their close handshakes on the I/O threads.
  auto deadline = std::chrono::steady_clock::now()
                  + i.settings.node.stop_timeout;
  while (i.server->sessions() > 0
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  i.end();
  spdlog::info("stopped");
}

std::string node::reload_tls() {
  if (!impl_->server)
    return "the node is not running";
  auto& cfg = impl_->settings;
  auto& t = impl_->transport;
  auto cluster_tls = t && t->verifying();
  if (cfg.server.tls_cert.empty() && !cluster_tls)
    return "TLS is not configured (server.tls_cert, cluster.tls_cert)";
  std::string errors;
  auto outcome = [&errors](const char* what, const std::string& file,
                           const std::string& err) {
    if (err.empty()) {
      spdlog::info("{}: reloaded {}", what, file);
      return;
    }
    spdlog::error("{}: reload failed, keeping the old certificate: {}", what,
                  err);
    errors += (errors.empty() ? "" : "; ") + err;
  };
  if (!cfg.server.tls_cert.empty())
    outcome("tls", cfg.server.tls_cert, impl_->server->reload_tls());
  if (cluster_tls) {
    auto& c = cfg.cluster;
    auto err = check_node_credentials(c.tls_cert, c.tls_key, c.tls_ca,
                                      cfg.node_id());
    outcome("cluster", c.tls_cert, err.empty() ? t->load() : err);
  }
  return errors;
}

void node::on_failure(std::function<void(const std::string&)> f) {
  std::lock_guard<std::mutex> guard{impl_->failure_mutex};
  impl_->on_failure = std::move(f);
}

std::string node::failure() const {
  return impl_->failed();
}

void node::advance_clock(std::chrono::milliseconds by) {
  impl_->test_clock_skew->fetch_add(by.count());
  caf::anon_send(impl_->orchestrator, atom::tick_v);
}

uint16_t node::port() const noexcept {
  return impl_->port;
}

caf::actor node::orchestrator() const {
  return caf::actor_cast<caf::actor>(impl_->orchestrator);
}

caf::actor_system& node::system() {
  return impl_->sys;
}

actors::node_metrics& node::metrics() {
  return *impl_->metrics;
}

const config::settings& node::settings() const noexcept {
  return impl_->settings;
}

} // namespace tether::runtime
