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
