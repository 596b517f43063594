#define CAF_SUITE actors.durable_log
#include <caf/test/unit_test.hpp>

#include <chrono>
#include <fstream>

#include <sqlite3.h>

#include "actors/store/durable_log.hpp"
#include "test/support/temp_dir.hpp"

using namespace tether::actors;

namespace {

stored_message msg(uint64_t qid, const std::string& id) {
  stored_message m;
  m.user_id = "alice";
  m.device_id = "phone";
  m.qid = qid;
  m.priority = 2;
  m.enqueued_ms = 1000 + static_cast<int64_t>(qid);
  m.expires_ms = 99999;
  m.needs_ack = true;
  m.msg_id = id;
  m.sender_device = "laptop";
  m.body = std::string("\x81\xa2id\xa1x", 6);
  return m;
}

} // namespace

CAF_TEST(appended messages survive a reopen in queue order) {
  tether::test::temp_dir dir;
  auto path = dir.path() + "/tether.db";
  {
    durable_log log{path};
    log.begin();
    auto d = log.insert_device("alice", "phone", 0, "", 5);
    CAF_CHECK_EQUAL(d.epoch.size(), 16u);
    log.append(msg(2, "b"));
    log.append(msg(1, "a"));
    log.append(msg(3, "c"));
    log.commit();
    log.begin();
    log.remove("alice", "phone", 2);
    log.commit();
  }
  durable_log log{path};
  auto rows = log.load("alice", "phone");
  CAF_REQUIRE_EQUAL(rows.size(), 2u);
  CAF_CHECK_EQUAL(rows[0].msg_id, "a");
  CAF_CHECK_EQUAL(rows[1].msg_id, "c");
  CAF_CHECK_EQUAL(rows[1].body, std::string("\x81\xa2id\xa1x", 6));
  CAF_CHECK(rows[0].needs_ack);
  CAF_CHECK_EQUAL(rows[0].expires_ms, 99999);
}

CAF_TEST(a device keeps its epoch and reservations) {
  tether::test::temp_dir dir;
  auto path = dir.path() + "/tether.db";
  std::string epoch;
  {
    durable_log log{path};
    log.begin();
    CAF_CHECK(!log.find_device("alice", "phone"));
    epoch = log.insert_device("alice", "phone", 1, "extension", 5).epoch;
    log.reserve("alice", "phone", 4096, 7);
    log.set_gaps("alice", "phone", 2, 3, 1, false);
    log.set_gaps("alice", "phone", 1, 0, 0, false);
    log.commit();
  }
  durable_log log{path};
  auto found = log.find_device("alice", "phone");
  CAF_REQUIRE(found);
  auto& d = *found;
  CAF_CHECK_EQUAL(d.epoch, epoch);
  CAF_CHECK_EQUAL(d.seq_reserved, 4096u);
  CAF_CHECK_EQUAL(d.gap_expired, 3u);
  CAF_CHECK_EQUAL(d.gap_evicted, 3u);
  CAF_CHECK_EQUAL(d.gap_dead, 1u);
  CAF_CHECK_EQUAL(d.role, "extension");
  log.begin();
  log.touch_device("alice", "phone", 2, "", 9);
  log.commit();
  auto touched = log.find_device("alice", "phone");
  CAF_REQUIRE(touched);
  CAF_CHECK_EQUAL(touched->epoch, epoch);
  CAF_CHECK_EQUAL(touched->last_seen_ms, 9);
  CAF_CHECK_EQUAL(touched->type, 2u);
  log.begin();
  log.reserve("alice", "phone", 100, 1); // never lowers
  log.set_gaps("alice", "phone", 0, 0, 0, true);
  log.commit();
  auto all = log.devices("alice");
  CAF_REQUIRE_EQUAL(all.size(), 1u);
  CAF_CHECK_EQUAL(all[0].seq_reserved, 4096u);
  CAF_CHECK_EQUAL(all[0].gap_expired, 0u);
  CAF_CHECK(log.devices("bob").empty());
}

CAF_TEST(dead letters are kept and listed not loaded) {
  tether::test::temp_dir dir;
  durable_log log{dir.path() + "/tether.db"};
  log.begin();
  log.append(msg(1, "a"));
  log.append(msg(2, "b"));
  log.mark_dead("alice", "phone", 1, 5000);
  log.commit();
  CAF_CHECK_EQUAL(log.load("alice", "phone").size(), 1u);
  auto dead = log.dead_letters("alice", 10);
  CAF_REQUIRE_EQUAL(dead.size(), 1u);
  CAF_CHECK_EQUAL(dead[0].msg_id, "a");
  auto st = log.stats();
  CAF_CHECK_EQUAL(st.queued, 1u);
  CAF_CHECK_EQUAL(st.dead, 1u);
}

CAF_TEST(dead letters are purged once buried longer than the cutoff) {
  tether::test::temp_dir dir;
  durable_log log{dir.path() + "/tether.db"};
  log.begin();
  log.append(msg(1, "a"));
  log.append(msg(2, "b"));
  log.append(msg(3, "c"));
  log.mark_dead("alice", "phone", 1, 5000);
  log.mark_dead("alice", "phone", 2, 9000);
  CAF_CHECK_EQUAL(log.purge_dead(4999), 0u);
  CAF_CHECK_EQUAL(log.purge_dead(5000), 1u);
  log.commit();
  auto dead = log.dead_letters("alice", 10);
  CAF_REQUIRE_EQUAL(dead.size(), 1u);
  CAF_CHECK_EQUAL(dead[0].msg_id, "b");
  // Live messages are never purged, whatever the cutoff.
  log.begin();
  CAF_CHECK_EQUAL(log.purge_dead(INT64_MAX), 1u);
  log.commit();
  CAF_CHECK_EQUAL(log.load("alice", "phone").size(), 1u);
  CAF_CHECK_EQUAL(log.stats().dead, 0u);
}

CAF_TEST(dead letters of older versions count from the first open after) {
  // They were buried with dead=1; purged as if they died in 1970 they would
  // all go at once, whatever the retention.
  tether::test::temp_dir dir;
  auto path = dir.path() + "/tether.db";
  {
    durable_log log{path};
    log.begin();
    log.append(msg(1, "old"));
    log.mark_dead("alice", "phone", 1, 1);
    log.commit();
  }
  durable_log log{path};
  using namespace std::chrono;
  auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch())
               .count();
  log.begin();
  CAF_CHECK_EQUAL(log.purge_dead(now - 60000), 0u);
  log.commit();
  CAF_CHECK_EQUAL(log.dead_letters("alice", 10).size(), 1u);
}

CAF_TEST(a rolled back transaction leaves nothing) {
  tether::test::temp_dir dir;
  durable_log log{dir.path() + "/tether.db"};
  log.begin();
  log.append(msg(1, "a"));
  log.rollback();
  CAF_CHECK(log.load("alice", "phone").empty());
}

CAF_TEST(the store runs in wal mode and holds its file alone) {
  tether::test::temp_dir dir;
  auto path = dir.path() + "/tether.db";
  // The journal mode as another process sees it ("busy" if it cannot).
  auto journal_mode = [&] {
    std::string mode = "busy";
    sqlite3* db = nullptr;
    sqlite3_open(path.c_str(), &db);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr)
          == SQLITE_OK
        && sqlite3_step(s) == SQLITE_ROW)
      mode = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return mode;
  };
  {
    durable_log log{path};
    // Exclusive locking: no file lock per transaction; while the node runs
    // nobody else opens its store (tetherd.lock keeps other nodes away).
    CAF_CHECK_EQUAL(journal_mode(), "busy");
  }
  CAF_CHECK_EQUAL(journal_mode(), "wal");
}

CAF_TEST(a file that is not a database is a clear error) {
  tether::test::temp_dir dir;
  auto path = dir.path() + "/tether.db";
  {
    std::ofstream out{path};
    out << std::string(8192, 'x');
  }
  try {
    durable_log log{path};
    CAF_FAIL("opened a corrupt store");
  } catch (const store_error& e) {
    CAF_MESSAGE(e.what());
    CAF_CHECK(std::string{e.what()}.find(path) != std::string::npos);
    CAF_CHECK(std::string{e.what()}.find("not a database")
              != std::string::npos);
  }
}

CAF_TEST(a newer schema is refused) {
  tether::test::temp_dir dir;
  auto path = dir.path() + "/tether.db";
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA user_version=7", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  try {
    durable_log log{path};
    CAF_FAIL("opened a newer schema");
  } catch (const store_error& e) {
    CAF_CHECK(std::string{e.what()}.find("newer tetherd") != std::string::npos);
  }
}

namespace {

tether::protocol::push_address address(tether::protocol::push_provider p,
                                       std::string token) {
  tether::protocol::push_address a;
  a.provider = p;
  a.token = std::move(token);
  return a;
}

} // namespace

CAF_TEST(push addresses : one per device and provider and a token moves) {
  using tether::protocol::push_provider;
  tether::test::temp_dir dir;
  auto path = dir.path() + "/tether.db";
  {
    durable_log log{path};
    log.begin();
    log.insert_device("alice", "phone", 0, "", 5);
    log.insert_device("bob", "phone", 0, "", 5);
    auto apns = address(push_provider::apns, std::string(64, 'a'));
    apns.topic = "com.example.app";
    apns.sandbox = true;
    CAF_CHECK_EQUAL(log.put_push_address("alice", "phone", apns, 10), 0u);
    CAF_CHECK_EQUAL(log.put_push_address("alice", "phone",
                                         address(push_provider::fcm, "f1"), 11),
                    0u);
    // A new token for the same provider replaces the old one.
    CAF_CHECK_EQUAL(log.put_push_address("alice", "phone",
                                         address(push_provider::fcm, "f2"), 12),
                    0u);
    log.commit();
  }
  durable_log log{path};
  auto got = log.push_addresses("alice", "phone");
  CAF_REQUIRE_EQUAL(got.size(), 2u);
  CAF_CHECK(got[0].provider == push_provider::apns);
  CAF_CHECK_EQUAL(got[0].topic, "com.example.app");
  CAF_CHECK(got[0].sandbox);
  CAF_CHECK_EQUAL(got[1].token, "f2");
  // The same app on the same phone, now signed in as bob: the token leaves
  // alice (her messages must not wake bob's phone).
  log.begin();
  CAF_CHECK_EQUAL(log.put_push_address("bob", "phone",
                                       address(push_provider::fcm, "f2"), 13),
                  1u);
  log.commit();
  CAF_CHECK_EQUAL(log.push_addresses("alice", "phone").size(), 1u);
  CAF_CHECK_EQUAL(log.push_addresses("bob", "phone").size(), 1u);
  // A dead token is removed only while it is still the device's.
  log.begin();
  CAF_CHECK(!log.remove_push_token("bob", "phone", push_provider::fcm, "f1"));
  CAF_CHECK(log.remove_push_token("bob", "phone", push_provider::fcm, "f2"));
  log.remove_push_addresses("alice", "phone", push_provider::fcm);
  CAF_CHECK_EQUAL(log.push_addresses("alice", "phone").size(), 1u);
  log.remove_push_addresses("alice", "phone", std::nullopt);
  log.commit();
  CAF_CHECK(log.push_addresses("alice", "phone").empty());
  CAF_CHECK(log.push_addresses("bob", "phone").empty());
}

CAF_TEST(the last push is recorded with the device and never moves back) {
  tether::test::temp_dir dir;
  durable_log log{dir.path() + "/tether.db"};
  log.begin();
  log.insert_device("alice", "phone", 0, "", 5);
  auto fresh = log.find_device("alice", "phone");
  CAF_REQUIRE(fresh);
  CAF_CHECK_EQUAL(fresh->push_last_ms, 0);
  log.set_push_state("alice", "phone", 2000);
  log.set_push_state("alice", "phone", 1000);
  log.commit();
  auto d = log.find_device("alice", "phone");
  CAF_REQUIRE(d);
  CAF_CHECK_EQUAL(d->push_last_ms, 2000);
}

CAF_TEST(a schema 1 store is migrated and keeps its rows) {
  tether::test::temp_dir dir;
  auto path = dir.path() + "/tether.db";
  {
    // Schema 1 as tetherd wrote it, with a device and a message.
    sqlite3* db = nullptr;
    CAF_REQUIRE_EQUAL(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    auto sql = R"sql(
      CREATE TABLE devices (user_id TEXT NOT NULL, device_id TEXT NOT NULL,
        device_type INTEGER NOT NULL, role TEXT NOT NULL DEFAULT '',
        epoch TEXT NOT NULL, seq_reserved INTEGER NOT NULL DEFAULT 0,
        next_qid INTEGER NOT NULL DEFAULT 1,
        gap_expired INTEGER NOT NULL DEFAULT 0,
        gap_evicted INTEGER NOT NULL DEFAULT 0,
        gap_dead INTEGER NOT NULL DEFAULT 0,
        last_seen_ms INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, device_id)) WITHOUT ROWID;
      CREATE TABLE messages (user_id TEXT NOT NULL, device_id TEXT NOT NULL,
        qid INTEGER NOT NULL, priority INTEGER NOT NULL,
        enqueued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,
        needs_ack INTEGER NOT NULL, msg_id TEXT NOT NULL,
        sender_device TEXT NOT NULL, body BLOB NOT NULL,
        dead INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user_id, device_id, qid)) WITHOUT ROWID;
      INSERT INTO devices (user_id, device_id, device_type, epoch,
        seq_reserved) VALUES ('alice', 'phone', 0, 'e1', 64);
      INSERT INTO messages VALUES ('alice', 'phone', 1, 2, 5, 99, 1, 'm1',
        'laptop', x'80', 0);
      PRAGMA user_version=1;)sql";
    CAF_REQUIRE_EQUAL(sqlite3_exec(db, sql, nullptr, nullptr, nullptr),
                      SQLITE_OK);
    sqlite3_close(db);
  }
  {
    durable_log log{path};
    auto d = log.find_device("alice", "phone");
    CAF_REQUIRE(d);
    CAF_CHECK_EQUAL(d->epoch, "e1");
    CAF_CHECK_EQUAL(d->seq_reserved, 64u);
    CAF_CHECK_EQUAL(d->push_last_ms, 0);
    CAF_CHECK_EQUAL(log.load("alice", "phone").size(), 1u);
    CAF_CHECK(log.push_addresses("alice", "phone").empty());
    CAF_CHECK_EQUAL(d->gen, 0u);
    CAF_CHECK(log.replicas_of("c").empty());
  }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr);
  CAF_CHECK_EQUAL(sqlite3_step(s), SQLITE_ROW);
  CAF_CHECK_EQUAL(sqlite3_column_int(s, 0), durable_log::schema_version);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

namespace {

// A batch from `leader` for alice's phone at generation `gen`.
replica_batch from_leader(const std::string& leader, uint64_t gen,
                          std::vector<uint64_t> qids = {}) {
  replica_batch b;
  b.header.leader = leader;
  b.header.user_id = "alice";
  b.header.device_id = "phone";
  b.header.type = 1;
  b.header.role = "extension";
  b.header.gen = gen;
  b.header.followers = {"a", "b"};
  for (auto q : qids)
    b.rows.push_back(msg(q, leader + std::to_string(q)));
  return b;
}

std::vector<uint64_t> qids_of(const std::vector<stored_message>& rows) {
  std::vector<uint64_t> out;
  for (auto& r : rows)
    out.push_back(r.qid);
  return out;
}

using qids = std::vector<uint64_t>;
constexpr auto stored = replica_outcome::stored;
constexpr auto stale = replica_outcome::stale;
constexpr auto orphan = replica_outcome::orphan;

} // namespace

CAF_TEST(a copy of another node queue takes rows retirements and snapshots) {
  tether::test::temp_dir dir;
  auto path = dir.path() + "/tether.db";
  {
    durable_log log{path};
    log.begin();
    CAF_CHECK(log.apply_replica(from_leader("c", 1, {1, 2, 3})) == stored);
    auto r = from_leader("c", 1, {4});
    r.removed = {2};
    CAF_CHECK(log.apply_replica(r) == stored);
    log.commit();
    // Nothing of it is this node's own queue.
    CAF_CHECK(log.load("alice", "phone").empty());
    CAF_CHECK(log.devices_with_backlog().empty());
    CAF_CHECK(!log.find_device("alice", "phone"));
  }
  durable_log log{path};
  CAF_CHECK_EQUAL(qids_of(log.replica_rows("c", "alice", "phone")),
                  (qids{1, 3, 4}));
  auto h = log.replicas_of("c");
  CAF_REQUIRE_EQUAL(h.size(), 1u);
  CAF_CHECK_EQUAL(h[0].gen, 1u);
  CAF_CHECK_EQUAL(h[0].followers, (std::vector<std::string>{"a", "b"}));
  CAF_CHECK_EQUAL(h[0].role, "extension");
  CAF_CHECK_EQUAL(h[0].type, 1u);
  CAF_CHECK(log.replicas_of("b").empty());
  // A snapshot of (0, 4]: exactly 3 and 4 up to there; 5 (newer than the
  // snapshot's read) stays.
  log.begin();
  CAF_CHECK(log.apply_replica(from_leader("c", 1, {5})) == stored);
  auto snap = from_leader("c", 1, {3, 4});
  snap.upto = 4;
  snap.rows[0].msg_id = "again";
  CAF_CHECK(log.apply_replica(snap) == stored);
  log.commit();
  auto rows = log.replica_rows("c", "alice", "phone");
  CAF_CHECK_EQUAL(qids_of(rows), (qids{3, 4, 5}));
  CAF_CHECK_EQUAL(rows[0].msg_id, "again");
  CAF_CHECK_EQUAL(rows[2].body, msg(5, "").body);
  // The next part of a snapshot, (4, 9]: 5 was retired meanwhile; the
  // part before stays.
  snap = from_leader("c", 1, {6});
  snap.after = 4;
  snap.upto = 9;
  log.begin();
  CAF_CHECK(log.apply_replica(snap) == stored);
  log.commit();
  CAF_CHECK_EQUAL(qids_of(log.replica_rows("c", "alice", "phone")),
                  (qids{3, 4, 6}));
  // A drop ends the copy.
  log.begin();
  auto drop = from_leader("c", 1);
  drop.drop = true;
  CAF_CHECK(log.apply_replica(drop) == stored);
  log.commit();
  CAF_CHECK(log.replica_rows("c", "alice", "phone").empty());
  CAF_CHECK(log.replicas_of("c").empty());
}

CAF_TEST(an older generation never overwrites a newer copy) {
  tether::test::temp_dir dir;
  durable_log log{dir.path() + "/tether.db"};
  log.begin();
  CAF_CHECK(log.apply_replica(from_leader("c", 2, {1, 2})) == stored);
  // A late batch of c's older generation: refused, its row not taken;
  // its retirement still counts (removing a row loses nothing).
  auto late = from_leader("c", 1, {7});
  late.removed = {1};
  CAF_CHECK(log.apply_replica(late) == stale);
  CAF_CHECK_EQUAL(qids_of(log.replica_rows("c", "alice", "phone")), qids{2});
  auto kept = log.replicas_of("c");
  CAF_REQUIRE_EQUAL(kept.size(), 1u);
  CAF_CHECK_EQUAL(kept[0].gen, 2u);
  // c leads at a newer generation (messages were handed to its queue): the
  // copy keeps the rows it has (acked; the batch carries only the new one).
  CAF_CHECK(log.apply_replica(from_leader("c", 3, {9})) == stored);
  CAF_CHECK_EQUAL(qids_of(log.replica_rows("c", "alice", "phone")),
                  (qids{2, 9}));
  auto newer = log.replicas_of("c");
  CAF_REQUIRE_EQUAL(newer.size(), 1u);
  CAF_CHECK_EQUAL(newer[0].gen, 3u);
  // b takes the queue over at generation 4 and gathers this copy: fenced,
  // c's later batches are refused (it cannot reach a majority here) ...
  auto gathered = log.fence_replica("c", "alice", "phone", 4, "b");
  CAF_REQUIRE(gathered);
  CAF_CHECK_EQUAL(qids_of(*gathered), (qids{2, 9}));
  CAF_CHECK(!log.fence_replica("x", "alice", "phone", 4, "b"));
  CAF_CHECK(log.apply_replica(from_leader("c", 3, {10})) == stale);
  // ... and b's batches drop it: its rows went on with b's takeover.
  CAF_CHECK(log.apply_replica(from_leader("b", 4, {1})) == stored);
  CAF_CHECK(log.replicas_of("c").empty());
  CAF_CHECK(log.replica_rows("c", "alice", "phone").empty());
  // Another lineage: d started the device's queue while b's node was away
  // (its own record of the generation, 1). Its acked rows exist nowhere
  // else: its copy stays beside b's, whatever their generations, and
  // neither refuses the other.
  CAF_CHECK(log.apply_replica(from_leader("d", 1, {5})) == stored);
  CAF_CHECK(log.apply_replica(from_leader("b", 4, {2})) == stored);
  CAF_CHECK_EQUAL(qids_of(log.replica_rows("d", "alice", "phone")), qids{5});
  CAF_CHECK_EQUAL(qids_of(log.replica_rows("b", "alice", "phone")),
                  (qids{1, 2}));
  // Gathered by e's takeover (not b's): b's batches leave it, e's drop it.
  CAF_CHECK(log.fence_replica("d", "alice", "phone", 2, "e"));
  CAF_CHECK(log.apply_replica(from_leader("b", 4, {3})) == stored);
  CAF_CHECK_EQUAL(log.replicas_of("d").size(), 1u);
  CAF_CHECK(log.apply_replica(from_leader("e", 2, {1})) == stored);
  CAF_CHECK(log.replicas_of("d").empty());
  // A copy whose rows are all retired is no copy.
  auto retire = from_leader("b", 4);
  retire.removed = {1, 2, 3};
  CAF_CHECK(log.apply_replica(retire) == stored);
  CAF_CHECK(log.replicas_of("b").empty());
  // A drop ends its leader's copy only.
  auto drop = from_leader("e", 2);
  drop.drop = true;
  CAF_CHECK(log.apply_replica(from_leader("f", 9, {1})) == stored);
  CAF_CHECK(log.apply_replica(drop) == stored);
  CAF_CHECK(log.replicas_of("e").empty());
  CAF_CHECK_EQUAL(log.replicas_of("f").size(), 1u);
  // The device's own queue here, newer or not, makes no copy stale.
  log.insert_device("alice", "phone", 1, "", 100);
  log.set_generation("alice", "phone", 6);
  CAF_CHECK(log.apply_replica(from_leader("g", 5, {7})) == stored);
  CAF_CHECK_EQUAL(log.replicas_of("g").size(), 1u);
  log.commit();
}

CAF_TEST(a copy of a leader back with another store is an orphan) {
  tether::test::temp_dir dir;
  auto path = dir.path() + "/tether.db";
  std::string id;
  {
    durable_log log{path};
    id = log.store_id();
    CAF_CHECK_EQUAL(id.size(), 32u);
  }
  {
    // The same file, the same id; another file, another.
    durable_log again{path};
    CAF_CHECK_EQUAL(again.store_id(), id);
    tether::test::temp_dir other;
    durable_log fresh{other.path() + "/tether.db"};
    CAF_CHECK_NOT_EQUAL(fresh.store_id(), id);
  }
  durable_log log{path};
  log.begin();
  auto first = from_leader("c", 3, {1, 2, 3});
  first.header.lineage = "s1";
  CAF_CHECK(log.apply_replica(first) == stored);
  // c is back with another store (its data dir was lost): its batches,
  // whatever their generation, leave the copy whole (their keys are a new
  // queue's, and its retirements are of that queue's rows).
  auto again = from_leader("c", 5, {1});
  again.header.lineage = "s2";
  again.rows[0].msg_id = "new";
  again.removed = {2};
  CAF_CHECK(log.apply_replica(again) == orphan);
  auto rows = log.replica_rows("c", "alice", "phone");
  CAF_CHECK_EQUAL(qids_of(rows), (qids{1, 2, 3}));
  CAF_CHECK_EQUAL(rows[0].msg_id, "c1");
  auto h = log.replicas_of("c");
  CAF_REQUIRE_EQUAL(h.size(), 1u);
  CAF_CHECK_EQUAL(h[0].lineage, "s1");
  CAF_CHECK_EQUAL(h[0].gen, 3u);
  // Adopted: the rows the device's queue here took leave the copy, which
  // goes with its last; then the new store's copy starts.
  log.retire_replica_rows("c", "alice", "phone", {1, 2});
  CAF_CHECK_EQUAL(qids_of(log.replica_rows("c", "alice", "phone")), qids{3});
  log.retire_replica_rows("c", "alice", "phone", {3});
  CAF_CHECK(log.replicas_of("c").empty());
  CAF_CHECK(log.apply_replica(again) == stored);
  h = log.replicas_of("c");
  CAF_REQUIRE_EQUAL(h.size(), 1u);
  CAF_CHECK_EQUAL(h[0].lineage, "s2");
  // A batch naming no lineage (a leader from before store ids) is taken.
  CAF_CHECK(log.apply_replica(from_leader("c", 5, {4})) == stored);
  log.commit();
  CAF_CHECK_EQUAL(qids_of(log.replica_rows("c", "alice", "phone")),
                  (qids{1, 4}));
}
