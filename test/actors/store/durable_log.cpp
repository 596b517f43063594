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
