// `tether bench store|compression|batching`: the figures behind the delivery
// guarantees (durable appends with group commit, compression on realistic
// messages, frames saved by batching). They print a table and, with
// --json FILE, write the figures; they assert nothing.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <random>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/store/store_actor.hpp"
#include "config/settings.hpp"
#include "protocol/codec.hpp"
#include "protocol/compression.hpp"
#include "protocol/token.hpp"
#include "runtime/node.hpp"
#include "runtime/ws_client.hpp"
#include "tools/cli/bench_common.hpp"
#include "tools/cli/commands.hpp"

namespace tether::cli {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::string temp_dir() {
  auto p = std::filesystem::temp_directory_path()
           / ("tether-bench-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(p);
  return p.string();
}

// -- store
// -------------------------------------------------------------------------

struct bench_config : caf::actor_system_config {
  bench_config() { add_message_types<caf::id_block::tether_types>(); }
};

int bench_store(const arg_map& a) {
  auto total = std::stoul(a.get("messages", "20000"));
  auto dir = a.has("data-dir") ? a.get("data-dir") : temp_dir();
  std::vector<result_row> rows;
  bench_config cfg;
  caf::actor_system sys{cfg};
  std::string body(300, 'x'); // a typical envelope, msgpack-encoded
  for (uint64_t window : {1u, 16u, 256u}) {
    auto path = dir + "/bench-" + std::to_string(window) + ".db";
    std::filesystem::remove(path);
    auto log = std::make_shared<actors::durable_log>(path);
    auto metrics = std::make_shared<actors::node_metrics>();
    auto st = sys.spawn<caf::detached>(actors::store, log, metrics,
                                       actors::store_params{});
    caf::scoped_actor self{sys};
    // The window-1 run is the "no group commit" baseline: one append (and
    // one fsync) at a time; it runs fewer messages.
    auto n = window == 1 ? std::min<size_t>(total, 2000) : total;
    auto started = clock_type::now();
    size_t sent = 0;
    size_t done = 0;
    auto send_one = [&] {
      actors::stored_message m;
      m.user_id = "u" + std::to_string(sent % 50);
      m.device_id = "d";
      m.qid = sent + 1;
      m.msg_id = "m" + std::to_string(sent);
      m.body = body;
      self->send(st, atom::append_v, std::move(m));
      ++sent;
    };
    while (sent < n && sent < window)
      send_one();
    while (done < n) {
      self->receive([&](atom::ok) { ++done; }, [&](caf::error&) { ++done; });
      if (sent < n)
        send_one();
    }
    auto secs = seconds_since(started);
    auto commits = static_cast<double>(metrics->store_commits());
    rows.push_back(
      result_row{}
        .num("in_flight", static_cast<double>(window), 0)
        .num("appends", static_cast<double>(n), 0)
        .num("seconds", secs, 3)
        .num("appends_per_s", static_cast<double>(n) / secs, 0)
        .num("commits", commits, 0)
        .num("appends_per_commit", static_cast<double>(n) / commits, 1));
    // The store closes the database when it ends: wait for that before
    // the next run (or the removal of the directory) touches its files.
    self->send_exit(st, caf::exit_reason::user_shutdown);
    self->wait_for(st);
  }
  report("durable appends (SQLite WAL, synchronous=FULL, group commit)", rows,
         a.get("json"));
  if (!a.has("data-dir"))
    std::filesystem::remove_all(dir);
  return 0;
}

// -- compression
// ---------------------------------------------------------------

/// Messages shaped like the original system's traffic between a phone and
/// the editor extension: commands, task progress, file contents, presence.
std::vector<protocol::mobile_message> corpus(size_t n) {
  std::minstd_rand rng{42};
  std::vector<protocol::mobile_message> out;
  static const char* files[] = {"src/app.ts", "src/services/queue.ts",
                                "README.md", "package.json"};
  static const char* code
    = "export async function handle(req: Request): Promise<Response> {\\n"
      "  const user = await auth(req.headers.get('authorization'));\\n"
      "  if (!user) return new Response('unauthorized', { status: 401 });\\n"
      "  const body = await req.json();\\n"
      "  return Response.json(await service.run(user, body));\\n}\\n";
  for (size_t i = 0; i < n; ++i) {
    protocol::mobile_message m;
    auto ts = int64_t{1750000000000} + static_cast<int64_t>(i) * 37;
    m.id = "msg_" + std::to_string(ts) + "_" + std::to_string(rng() % 100000);
    m.timestamp = ts;
    m.source = {"phone-" + std::to_string(rng() % 3), "user-42",
                protocol::device_type::mobile, std::nullopt, ts};
    m.destination.to = protocol::target::extension;
    m.optimization.prio = static_cast<protocol::priority>(rng() % 4);
    m.optimization.requires_ack = rng() % 2 == 0;
    std::string payload;
    switch (rng() % 4) {
      case 0:
        m.type = "command";
        payload = R"({"command":"start_task","args":["--mode","code"],)"
                  R"("workingDirectory":"/home/user/projects/app",)"
                  R"("prompt":"Refactor the queue service to use FIFO order )"
                  R"(within a priority and add tests for TTL expiry"})";
        break;
      case 1:
        m.type = "task_status";
        payload = R"({"taskId":"task_)" + std::to_string(rng() % 1000)
                  + R"(","status":"running","progress":)"
                  + std::to_string(rng() % 100) + R"(,"message":"Editing )"
                  + files[rng() % 4]
                  + R"(","tokens":{"input":12034,"output":2211}})";
        break;
      case 2:
        m.type = "file_operation";
        payload = R"({"operation":"read","path":")"
                  + std::string{files[rng() % 4]}
                  + R"(","encoding":"utf8","content":")";
        for (int k = 0; k < 4; ++k)
          payload += code;
        payload += "\"}";
        break;
      default:
        m.type = "presence_update";
        payload = R"({"status":"online","deviceType":"mobile",)"
                  R"("lastActivity":)"
                  + std::to_string(ts) + R"(,"battery":0.)"
                  + std::to_string(rng() % 100) + "}";
    }
    m.payload = protocol::json_value(payload);
    out.push_back(std::move(m));
  }
  return out;
}

int bench_compression(const arg_map& a) {
  auto msgs = corpus(std::stoul(a.get("messages", "2000")));
  std::vector<result_row> rows;
  for (auto c : {protocol::codec::json, protocol::codec::msgpack}) {
    for (size_t batch : {1u, 32u}) {
      // Frames as a batcher would write them.
      std::vector<std::string> frames;
      for (size_t i = 0; i + batch <= msgs.size(); i += batch) {
        if (batch == 1) {
          frames.push_back(protocol::encode(c, msgs[i]));
          continue;
        }
        std::vector<protocol::delivery_view> views;
        for (size_t k = 0; k < batch; ++k)
          views.push_back({&msgs[i + k], i + k + 1});
        frames.push_back(protocol::encode_batch(c, "b", 0, views));
      }
      size_t raw = 0;
      for (auto& f : frames)
        raw += f.size();
      for (int level : {1, 6, 9}) {
        size_t packed = 0;
        auto t0 = clock_type::now();
        std::vector<std::string> out;
        out.reserve(frames.size());
        for (auto& f : frames)
          out.push_back(protocol::make_compressed_frame(
            f, protocol::zip_format::deflate, level));
        auto tc = seconds_since(t0);
        for (auto& f : out)
          packed += f.size();
        std::string back;
        auto t1 = clock_type::now();
        for (auto& f : out)
          protocol::open_compressed_frame(f, 1 << 24, back);
        auto td = seconds_since(t1);
        auto mb = static_cast<double>(raw) / 1e6;
        rows.push_back(
          result_row{}
            .str("codec", std::string{protocol::to_string(c)})
            .num("msgs_per_frame", static_cast<double>(batch), 0)
            .num("level", level, 0)
            .num("raw_bytes", static_cast<double>(raw), 0)
            .num("compressed_bytes", static_cast<double>(packed), 0)
            .num("ratio",
                 static_cast<double>(packed) / static_cast<double>(raw), 3)
            .num("saved_pct",
                 100.0
                   * (1.0
                      - static_cast<double>(packed) / static_cast<double>(raw)),
                 1)
            .num("compress_MB_s", mb / tc, 1)
            .num("inflate_MB_s", mb / td, 1));
      }
    }
  }
  report("app-level compression (zlib deflate) on original-format messages",
         rows, a.get("json"));
  return 0;
}

// -- batching
// --------------------------------------------------------------------

struct batching_run {
  size_t frames = 0;
  size_t messages = 0;
  std::vector<double> latency_ms;
};

batching_run run_batching(bool enabled, size_t total, double rate) {
  auto dir = temp_dir();
  config::settings s;
  s.server.address = "127.0.0.1";
  s.server.port = 0;
  s.node.data_dir = dir;
  s.node.log_level = "warn";
  s.limits.guard.rate_per_second = 1e6;
  s.limits.guard.burst = 1e6;
  s.queue.queue.max_items = 100000;
  s.queue.queue.max_bytes = 1ull << 32;
  s.batch.batch.enabled = enabled;
  auto secret = runtime::load_or_create_secret(s.secret_path());
  auto node = std::make_unique<runtime::node>(s);
  auto port = node->start();
  auto token = [&](const std::string& device) {
    protocol::token_claims c;
    c.user_id = "bench";
    c.device_id = device;
    c.issued_at = 0;
    c.expires_at = 4102444800;
    return protocol::issue_token(c, secret);
  };
  runtime::client_options ro;
  ro.port = port;
  ro.token = token("rx");
  runtime::ws_client rx;
  rx.connect(ro);
  rx.receive(std::chrono::seconds{3}); // welcome
  batching_run result;
  std::atomic<bool> done{false};
  std::thread reader{[&] {
    while (result.messages < total) {
      auto f = rx.receive(std::chrono::seconds{5});
      if (!f)
        break;
      auto now = clock_type::now().time_since_epoch();
      auto d = protocol::decode(protocol::codec::json, f->data,
                                protocol::limits{1000, 64, 1 << 20});
      if (!d.ok() || d.kind == protocol::frame_kind::ack)
        continue;
      ++result.frames;
      for (auto& m : d.messages) {
        ++result.messages;
        auto sent_ns = std::stoll(m.msg.id.substr(m.msg.id.find('-') + 1));
        result.latency_ms.push_back(static_cast<double>(now.count() - sent_ns)
                                    / 1e6);
      }
    }
    done = true;
  }};
  runtime::client_options to = ro;
  to.token = token("tx");
  runtime::ws_client tx;
  tx.connect(to);
  tx.receive(std::chrono::seconds{3});
  auto interval = std::chrono::duration<double>(1.0 / rate);
  auto start = clock_type::now();
  for (size_t i = 0; i < total; ++i) {
    // Paced by sleeping until the message is due (a busy wait would take
    // the core the receiver needs on a small machine).
    auto due = start
               + std::chrono::duration_cast<clock_type::duration>(
                 interval * static_cast<double>(i));
    if (due > clock_type::now())
      std::this_thread::sleep_until(due);
    protocol::mobile_message m;
    m.id = "m" + std::to_string(i) + "-"
           + std::to_string(clock_type::now().time_since_epoch().count());
    m.timestamp = 1;
    m.source = {"tx", "bench", protocol::device_type::mobile, std::nullopt, 1};
    m.destination.to = protocol::target::device;
    m.destination.device_id = "rx";
    m.type = "t";
    m.payload = protocol::json_value(R"({"n":1})");
    tx.send(protocol::encode(protocol::codec::json, m));
  }
  reader.join();
  tx.close();
  rx.close();
  node.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return result;
}

int bench_batching(const arg_map& a) {
  auto total = std::stoul(a.get("messages", "20000"));
  auto rate = std::stod(a.get("rate", "10000"));
  std::vector<result_row> rows;
  for (bool enabled : {false, true}) {
    auto r = run_batching(enabled, total, rate);
    auto p50 = percentile(r.latency_ms, 50);
    auto p99 = percentile(r.latency_ms, 99);
    rows.push_back(
      result_row{}
        .str("batching", enabled ? "on" : "off")
        .num("rate_msgs_s", rate, 0)
        .num("messages", static_cast<double>(r.messages), 0)
        .num("frames", static_cast<double>(r.frames), 0)
        .num("msgs_per_frame",
             static_cast<double>(r.messages)
               / static_cast<double>(std::max<size_t>(1, r.frames)),
             1)
        .num("p50_ms", p50, 3)
        .num("p99_ms", p99, 3));
  }
  auto off = std::stod(rows[0].fields[3].second);
  auto on = std::stod(rows[1].fields[3].second);
  std::cout << "frames saved by batching: "
            << (off > 0 ? 100.0 * (1.0 - on / off) : 0.0) << " %\n";
  report("batching: one device sending to another through tetherd", rows,
         a.get("json"));
  return 0;
}

} // namespace

int bench_command(const std::vector<std::string>& args) {
  spdlog::set_level(spdlog::level::warn);
  if (args.empty()) {
    std::cerr
      << "usage: tether bench <benchmark> [flags]\n"
         "against a server (--url ws[s]://HOST:PORT/ws --data-dir DIR "
         "[--pid N] [--ca FILE | --insecure],\n"
         "or --spawn [--tls]: a tetherd with a dev certificate, wss):\n"
         "  echo     [--connections 100] [--rate 10000] [--duration 10]"
         " [--payload 64] [--codec json] [--durable]\n"
         "           [--spawn --nodes 3 --replication 1,2,3]: one cluster "
         "per replication factor\n"
         "  fanout   [--subscribers 1000] [--publishers 1] [--rate 100]"
         " [--duration 10] [--durable]\n"
         "           [--sweep [--deliveries 30000]]: rooms of 100, 1000, 3000"
         " and 10000 at that many deliveries/s\n"
         "  presence [--subscribers 1000] [--churners 100] [--rate 200]"
         " (joins+leaves/s) [--duration 10]\n"
         "  connect  [--connections 10000] [--concurrency 128] [--rounds 2]\n"
         "  idle     [--connections 10000] [--settle 12]\n"
         "  with --spawn, --baseline runs echo|fanout|connect|idle "
         "against tetherd, then\n"
         "  against tether-baseline (bare Beast) on the same CPU, and "
         "prints the ratios\n"
         "in process:\n"
         "  store        [--messages N] [--data-dir DIR] [--json F]\n"
         "  compression  [--messages N] [--json F]\n"
         "  batching     [--messages N] [--rate R] [--json F]\n";
    return 2;
  }
  const auto& what = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (what == "echo" || what == "fanout" || what == "connect" || what == "idle"
      || what == "presence")
    return bench_client_command(what, rest);
  arg_map a;
  std::string problem;
  if (!parse_args(rest, {"messages", "data-dir", "json", "rate"}, {}, a,
                  problem)) {
    std::cerr << "tether bench: " << problem << "\n";
    return 2;
  }
  try {
    if (what == "store")
      return bench_store(a);
    if (what == "compression")
      return bench_compression(a);
    if (what == "batching")
      return bench_batching(a);
  } catch (const std::exception& e) {
    std::cerr << "tether bench " << what << ": " << e.what() << "\n";
    return 1;
  }
  std::cerr << "tether bench: unknown benchmark '" << what << "'\n";
  return 2;
}

} // namespace tether::cli
