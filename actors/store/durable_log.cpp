#include "actors/store/durable_log.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "actors/wall_clock.hpp"

namespace tether::actors {

namespace {

constexpr const char* schema_v1 = R"sql(
CREATE TABLE IF NOT EXISTS devices (
  user_id      TEXT    NOT NULL,
  device_id    TEXT    NOT NULL,
  device_type  INTEGER NOT NULL,
  role         TEXT    NOT NULL DEFAULT '',
  epoch        TEXT    NOT NULL,
  seq_reserved INTEGER NOT NULL DEFAULT 0,
  next_qid     INTEGER NOT NULL DEFAULT 1,
  gap_expired  INTEGER NOT NULL DEFAULT 0,
  gap_evicted  INTEGER NOT NULL DEFAULT 0,
  gap_dead     INTEGER NOT NULL DEFAULT 0,
  last_seen_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, device_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  user_id       TEXT    NOT NULL,
  device_id     TEXT    NOT NULL,
  qid           INTEGER NOT NULL,
  priority      INTEGER NOT NULL,
  enqueued_ms   INTEGER NOT NULL,
  expires_ms    INTEGER NOT NULL,
  needs_ack     INTEGER NOT NULL,
  msg_id        TEXT    NOT NULL,
  sender_device TEXT    NOT NULL,
  body          BLOB    NOT NULL,
  dead          INTEGER NOT NULL DEFAULT 0, -- 0 live, else buried at (ms)
  PRIMARY KEY (user_id, device_id, qid)) WITHOUT ROWID;
)sql";

// Push addresses (one per device and provider; a token belongs to one
// device at a time) and each device's push state.
constexpr const char* schema_v2 = R"sql(
CREATE TABLE IF NOT EXISTS push_addresses (
  user_id       TEXT    NOT NULL,
  device_id     TEXT    NOT NULL,
  provider      INTEGER NOT NULL,
  token         TEXT    NOT NULL,
  topic         TEXT    NOT NULL DEFAULT '',
  sandbox       INTEGER NOT NULL DEFAULT 0,
  registered_ms INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id, provider)) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS push_tokens ON push_addresses(provider, token);
ALTER TABLE devices ADD COLUMN push_last_ms INTEGER NOT NULL DEFAULT 0;
)sql";

// Replicated queues (SPEC §14.3): each device's queue generation, and the
// copies this node keeps of queues other nodes lead (one per leader and
// device; the followers list is the leader's, newline-separated).
constexpr const char* schema_v3 = R"sql(
ALTER TABLE devices ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS replicas (
  leader      TEXT    NOT NULL,
  user_id     TEXT    NOT NULL,
  device_id   TEXT    NOT NULL,
  device_type INTEGER NOT NULL,
  role        TEXT    NOT NULL DEFAULT '',
  gen         INTEGER NOT NULL,
  followers   TEXT    NOT NULL,
  PRIMARY KEY (leader, user_id, device_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS replicas_device ON replicas(user_id, device_id);
CREATE TABLE IF NOT EXISTS replica_messages (
  leader        TEXT    NOT NULL,
  user_id       TEXT    NOT NULL,
  device_id     TEXT    NOT NULL,
  qid           INTEGER NOT NULL,
  priority      INTEGER NOT NULL,
  enqueued_ms   INTEGER NOT NULL,
  expires_ms    INTEGER NOT NULL,
  needs_ack     INTEGER NOT NULL,
  msg_id        TEXT    NOT NULL,
  sender_device TEXT    NOT NULL,
  body          BLOB    NOT NULL,
  PRIMARY KEY (leader, user_id, device_id, qid)) WITHOUT ROWID;
)sql";

// The node whose takeover gathered (fenced) a copy: only its batches drop
// it, as its rows went on with that takeover. A copy of another lineage of
// the device (one that started elsewhere while its leader was away) is
// never dropped by a generation alone.
constexpr const char* schema_v4 = R"sql(
ALTER TABLE replicas ADD COLUMN fenced_by TEXT NOT NULL DEFAULT '';
)sql";

// The store's id (made once, with the file), and the id of the store of
// the leader each copy came from: a leader back with another store lost
// the queues it led, and the copies of them are orphans (SPEC §14.3).
constexpr const char* schema_v5 = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT NOT NULL PRIMARY KEY,
  value TEXT NOT NULL) WITHOUT ROWID;
ALTER TABLE replicas ADD COLUMN lineage TEXT NOT NULL DEFAULT '';
)sql";

std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (auto& x : v) {
    if (!out.empty())
      out += '\n';
    out += x;
  }
  return out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t from = 0;
  while (from < s.size()) {
    auto to = s.find('\n', from);
    if (to == std::string::npos)
      to = s.size();
    out.push_back(s.substr(from, to - from));
    from = to + 1;
  }
  return out;
}

// 64 random bits as 16 hex digits. `rng` is seeded once per store: a
// random_device draw per epoch cost ~0.2 ms (rdseed in a VM) and showed as
// half the CPU of registering new devices.
std::string make_epoch(std::mt19937_64& rng) {
  static constexpr char hex[] = "0123456789abcdef";
  auto bits = rng();
  std::string out(16, '0');
  for (auto& c : out) {
    c = hex[bits & 15];
    bits >>= 4;
  }
  return out;
}

std::string column_text(sqlite3_stmt* s, int i) {
  auto p = sqlite3_column_text(s, i);
  return p ? std::string{reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(s, i))}
           : std::string{};
}

std::string column_blob(sqlite3_stmt* s, int i) {
  auto p = sqlite3_column_blob(s, i);
  return p ? std::string{static_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(s, i))}
           : std::string{};
}

/// Binds values in order and resets the statement when done.
class binder {
public:
  explicit binder(sqlite3_stmt* s) : s_(s) {}
  ~binder() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  binder& operator()(const std::string& x) {
    sqlite3_bind_text(s_, ++i_, x.data(), static_cast<int>(x.size()),
                      SQLITE_STATIC);
    return *this;
  }
  binder& operator()(int64_t x) {
    sqlite3_bind_int64(s_, ++i_, x);
    return *this;
  }
  binder& blob(const std::string& x) {
    sqlite3_bind_blob(s_, ++i_, x.data(), static_cast<int>(x.size()),
                      SQLITE_STATIC);
    return *this;
  }
  int step() { return sqlite3_step(s_); }

private:
  sqlite3_stmt* s_;
  int i_ = 0;
};

// Steps `b` (bound on `s`) through its rows, each read with `read` into
// `out`; false if the statement failed.
template <class T, class Read>
bool collect(binder& b, sqlite3_stmt* s, Read read, std::vector<T>& out) {
  int rc;
  while ((rc = b.step()) == SQLITE_ROW)
    out.push_back(read(s));
  return rc == SQLITE_DONE;
}

// The one row of `b` (bound on `s`) read with `read`, none, or `failed`.
template <class Read>
auto one(binder& b, sqlite3_stmt* s, Read read, bool& failed)
  -> std::optional<decltype(read(s))> {
  switch (b.step()) {
    case SQLITE_ROW:
      return read(s);
    case SQLITE_DONE:
      return std::nullopt;
    default:
      failed = true;
      return std::nullopt;
  }
}

stored_message read_message(sqlite3_stmt* s) {
  stored_message m;
  m.user_id = column_text(s, 0);
  m.device_id = column_text(s, 1);
  m.qid = static_cast<uint64_t>(sqlite3_column_int64(s, 2));
  m.priority = static_cast<uint8_t>(sqlite3_column_int(s, 3));
  m.enqueued_ms = sqlite3_column_int64(s, 4);
  m.expires_ms = sqlite3_column_int64(s, 5);
  m.needs_ack = sqlite3_column_int(s, 6) != 0;
  m.msg_id = column_text(s, 7);
  m.sender_device = column_text(s, 8);
  m.body = column_blob(s, 9);
  m.dead = sqlite3_column_int(s, 10) != 0;
  return m;
}

device_record read_device(sqlite3_stmt* s) {
  device_record d;
  d.user_id = column_text(s, 0);
  d.device_id = column_text(s, 1);
  d.type = static_cast<uint8_t>(sqlite3_column_int(s, 2));
  d.role = column_text(s, 3);
  d.epoch = column_text(s, 4);
  d.seq_reserved = static_cast<uint64_t>(sqlite3_column_int64(s, 5));
  d.next_qid = static_cast<uint64_t>(sqlite3_column_int64(s, 6));
  d.gap_expired = static_cast<uint64_t>(sqlite3_column_int64(s, 7));
  d.gap_evicted = static_cast<uint64_t>(sqlite3_column_int64(s, 8));
  d.gap_dead = static_cast<uint64_t>(sqlite3_column_int64(s, 9));
  d.last_seen_ms = sqlite3_column_int64(s, 10);
  d.push_last_ms = sqlite3_column_int64(s, 11);
  d.gen = static_cast<uint64_t>(sqlite3_column_int64(s, 12));
  return d;
}

replica_header read_replica(sqlite3_stmt* s) {
  replica_header h;
  h.leader = column_text(s, 0);
  h.user_id = column_text(s, 1);
  h.device_id = column_text(s, 2);
  h.type = static_cast<uint8_t>(sqlite3_column_int(s, 3));
  h.role = column_text(s, 4);
  h.gen = static_cast<uint64_t>(sqlite3_column_int64(s, 5));
  h.followers = split_lines(column_text(s, 6));
  h.lineage = column_text(s, 7);
  return h;
}

constexpr const char* message_columns
  = "user_id, device_id, qid, priority, enqueued_ms, expires_ms, needs_ack, "
    "msg_id, sender_device, body, dead";

constexpr const char* device_columns
  = "user_id, device_id, device_type, role, epoch, seq_reserved, next_qid, "
    "gap_expired, gap_evicted, gap_dead, last_seen_ms, push_last_ms, gen";

constexpr const char* replica_columns
  = "leader, user_id, device_id, device_type, role, gen, followers, lineage";

} // namespace

durable_log::durable_log(const std::string& path) : path_(path) {
  std::random_device rd;
  std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
  rng_.seed(seed);
  try {
    open();
  } catch (...) {
    // The destructor does not run for a constructor that throws.
    close();
    throw;
  }
}

void durable_log::close() noexcept {
  for (auto s : statements_)
    sqlite3_finalize(s);
  statements_.clear();
  if (db_)
    sqlite3_close(db_);
  db_ = nullptr;
}

void durable_log::open() {
  auto rc = sqlite3_open_v2(
    path_.c_str(), &db_,
    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK)
    fail("cannot open");
  // Never wait on a lock: a second writer is a configuration error.
  sqlite3_busy_timeout(db_, 0);
  // The first read detects a file that is not a database or is corrupt.
  int version = 0;
  {
    auto s = prepare("PRAGMA user_version");
    auto rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
      version = sqlite3_column_int(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
      fail("cannot read the schema version");
  }
  if (version > schema_version)
    throw store_error("store '" + path_ + "' has schema version "
                      + std::to_string(version)
                      + ", written by a newer tetherd (this one reads up "
                        "to "
                      + std::to_string(schema_version) + ")");
  // One process owns the data dir (tetherd.lock): no file lock taken and
  // released per transaction, and the WAL index in memory instead of a
  // shared-memory file.
  exec("PRAGMA locking_mode=EXCLUSIVE");
  exec("PRAGMA journal_mode=WAL");
  // FULL: every commit fsyncs the WAL, so an ack means "on disk".
  exec("PRAGMA synchronous=FULL");
  exec("PRAGMA foreign_keys=OFF");
  if (version < schema_version) {
    // One transaction from whatever version the file has to this one.
    begin();
    if (version < 1)
      exec(schema_v1);
    if (version < 2)
      exec(schema_v2);
    if (version < 3)
      exec(schema_v3);
    if (version < 4)
      exec(schema_v4);
    if (version < 5)
      exec(schema_v5);
    exec(("PRAGMA user_version=" + std::to_string(schema_version)).c_str());
    commit();
  }
  // Dead letters carry their burial time (dead_letter_retention). Rows
  // buried before that (dead=1) count from now rather than from 1970, and
  // the purge finds them without scanning the live rows.
  exec(("UPDATE messages SET dead=" + std::to_string(wall_clock::system_ms())
        + " WHERE dead=1")
         .c_str());
  exec("CREATE INDEX IF NOT EXISTS messages_dead ON messages(dead) "
       "WHERE dead<>0");
  {
    // The store's id: made once, kept as long as the file.
    auto fresh = make_epoch(rng_) + make_epoch(rng_);
    binder put{prepare("INSERT OR IGNORE INTO meta (key, value) VALUES "
                       "('store_id', ?)")};
    put(fresh);
    if (put.step() != SQLITE_DONE)
      fail("cannot record the store's id");
    auto get = prepare("SELECT value FROM meta WHERE key='store_id'");
    if (sqlite3_step(get) != SQLITE_ROW)
      fail("cannot read the store's id");
    store_id_ = column_text(get, 0);
    sqlite3_reset(get);
  }
  auto cols = std::string{message_columns};
  auto dcols = std::string{device_columns};
  insert_ = prepare(
    "INSERT OR REPLACE INTO messages (user_id, device_id, qid, priority, "
    "enqueued_ms, expires_ms, needs_ack, msg_id, sender_device, body) "
    "VALUES (?,?,?,?,?,?,?,?,?,?)");
  delete_
    = prepare("DELETE FROM messages WHERE user_id=? AND device_id=? AND qid=?");
  bury_ = prepare("UPDATE messages SET dead=max(?, 1) WHERE user_id=? AND "
                  "device_id=? AND qid=?");
  purge_ = prepare("DELETE FROM messages WHERE dead<>0 AND dead<=?");
  find_device_ = prepare(
    ("SELECT " + dcols + " FROM devices WHERE user_id=? AND device_id=?")
      .c_str());
  insert_device_ = prepare(
    "INSERT INTO devices (user_id, device_id, device_type, role, epoch, "
    "last_seen_ms, seq_reserved) VALUES (?,?,?,?,?,?,?)");
  touch_device_ = prepare("UPDATE devices SET device_type=?, role=?, "
                          "last_seen_ms=? WHERE user_id=? AND device_id=?");
  reserve_ = prepare("UPDATE devices SET seq_reserved=max(seq_reserved,?), "
                     "next_qid=max(next_qid,?) WHERE user_id=? AND "
                     "device_id=?");
  add_gaps_ = prepare("UPDATE devices SET gap_expired=gap_expired+?, "
                      "gap_evicted=gap_evicted+?, gap_dead=gap_dead+? "
                      "WHERE user_id=? AND device_id=?");
  reset_gaps_ = prepare("UPDATE devices SET gap_expired=?, gap_evicted=?, "
                        "gap_dead=? WHERE user_id=? AND device_id=?");
  load_ = prepare(("SELECT " + cols
                   + " FROM messages WHERE user_id=? AND device_id=? AND "
                     "dead=0 ORDER BY qid")
                    .c_str());
  devices_ = prepare(
    ("SELECT " + dcols + " FROM devices WHERE user_id=? ORDER BY device_id")
      .c_str());
  backlog_ = prepare(
    ("SELECT " + dcols
     + " FROM devices AS d WHERE EXISTS (SELECT 1 FROM messages AS m WHERE "
       "m.user_id=d.user_id AND m.device_id=d.device_id AND m.dead=0) "
       "ORDER BY user_id, device_id")
      .c_str());
  take_token_ = prepare("DELETE FROM push_addresses WHERE provider=? AND "
                        "token=? AND NOT (user_id=? AND device_id=?)");
  put_push_ = prepare(
    "INSERT OR REPLACE INTO push_addresses (user_id, device_id, provider, "
    "token, topic, sandbox, registered_ms) VALUES (?,?,?,?,?,?,?)");
  remove_push_ = prepare("DELETE FROM push_addresses WHERE user_id=? AND "
                         "device_id=? AND (?<0 OR provider=?)");
  remove_token_ = prepare("DELETE FROM push_addresses WHERE user_id=? AND "
                          "device_id=? AND provider=? AND token=?");
  push_addresses_ = prepare(
    "SELECT provider, token, topic, sandbox FROM push_addresses WHERE "
    "user_id=? AND device_id=? ORDER BY provider");
  push_state_ = prepare("UPDATE devices SET push_last_ms=max(push_last_ms,?) "
                        "WHERE user_id=? AND device_id=?");
  to_push_ = prepare(
    ("SELECT " + dcols
     + " FROM devices AS d WHERE EXISTS (SELECT 1 FROM push_addresses AS p "
       "WHERE p.user_id=d.user_id AND p.device_id=d.device_id) AND EXISTS "
       "(SELECT 1 FROM messages AS m WHERE m.user_id=d.user_id AND "
       "m.device_id=d.device_id AND m.dead=0 AND m.priority>=? AND "
       "m.enqueued_ms>d.push_last_ms) ORDER BY user_id, device_id")
      .c_str());
  max_qid_ = prepare("SELECT coalesce(max(qid), 0) FROM messages WHERE "
                     "user_id=? AND device_id=?");
  generation_ = prepare("UPDATE devices SET gen=max(gen,?) WHERE user_id=? "
                        "AND device_id=?");
  find_replica_ = prepare(("SELECT " + std::string{replica_columns}
                           + " FROM replicas WHERE leader=? AND user_id=? AND "
                             "device_id=?")
                            .c_str());
  put_replica_ = prepare(
    "INSERT OR REPLACE INTO replicas (leader, user_id, device_id, "
    "device_type, role, gen, followers, lineage) VALUES (?,?,?,?,?,?,?,?)");
  drop_replica_ = prepare("DELETE FROM replicas WHERE leader=? AND user_id=? "
                          "AND device_id=?");
  drop_replica_rows_ = prepare("DELETE FROM replica_messages WHERE leader=? "
                               "AND user_id=? AND device_id=?");
  gathered_replicas_ = prepare("SELECT leader FROM replicas WHERE user_id=? "
                               "AND device_id=? AND gen<=? AND leader<>? AND "
                               "fenced_by=?");
  replica_count_ = prepare("SELECT count(*) FROM replica_messages WHERE "
                           "leader=? AND user_id=? AND device_id=?");
  fence_ = prepare("UPDATE replicas SET gen=max(gen,?), fenced_by=? WHERE "
                   "leader=? AND user_id=? AND device_id=?");
  put_replica_row_ = prepare(
    "INSERT OR REPLACE INTO replica_messages (leader, user_id, device_id, "
    "qid, priority, enqueued_ms, expires_ms, needs_ack, msg_id, "
    "sender_device, body) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
  remove_replica_row_ = prepare("DELETE FROM replica_messages WHERE leader=? "
                                "AND user_id=? AND device_id=? AND qid=?");
  replica_qids_ = prepare("SELECT qid FROM replica_messages WHERE leader=? "
                          "AND user_id=? AND device_id=? AND qid>? AND "
                          "qid<=?");
  replica_rows_ = prepare(
    "SELECT user_id, device_id, qid, priority, enqueued_ms, expires_ms, "
    "needs_ack, msg_id, sender_device, body, 0 FROM replica_messages WHERE "
    "leader=? AND user_id=? AND device_id=? ORDER BY qid");
  replicas_of_ = prepare(("SELECT " + std::string{replica_columns}
                          + " FROM replicas WHERE leader=? ORDER BY user_id, "
                            "device_id")
                           .c_str());
  dead_ = prepare(("SELECT " + cols
                   + " FROM messages WHERE user_id=? AND dead<>0 ORDER BY "
                     "enqueued_ms LIMIT ?")
                    .c_str());
}

durable_log::~durable_log() {
  close();
}

void durable_log::fail(const std::string& what) {
  std::string msg = "store '" + path_ + "': " + what;
  if (db_)
    msg += ": " + std::string{sqlite3_errmsg(db_)};
  throw store_error(msg);
}

sqlite3_stmt* durable_log::prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK)
    fail(std::string{"cannot prepare '"} + sql + "'");
  statements_.push_back(s);
  return s;
}

void durable_log::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw store_error("store '" + path_ + "': " + msg);
  }
}

void durable_log::begin() {
  exec("BEGIN IMMEDIATE");
}

void durable_log::commit() {
  exec("COMMIT");
}

void durable_log::rollback() noexcept {
  sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void durable_log::append(const stored_message& m) {
  binder b{insert_};
  b(m.user_id)(m.device_id)(static_cast<int64_t>(m.qid))(
    static_cast<int64_t>(m.priority))(m.enqueued_ms)(m.expires_ms)(
    static_cast<int64_t>(m.needs_ack))(m.msg_id)(m.sender_device)
    .blob(m.body);
  if (b.step() != SQLITE_DONE)
    fail("cannot append");
}

void durable_log::remove(const std::string& user, const std::string& device,
                         uint64_t qid) {
  binder b{delete_};
  b(user)(device)(static_cast<int64_t>(qid));
  if (b.step() != SQLITE_DONE)
    fail("cannot remove");
}

void durable_log::mark_dead(const std::string& user, const std::string& device,
                            uint64_t qid, int64_t now_ms) {
  binder b{bury_};
  b(now_ms)(user)(device)(static_cast<int64_t>(qid));
  if (b.step() != SQLITE_DONE)
    fail("cannot mark a dead letter");
}

uint64_t durable_log::purge_dead(int64_t cutoff_ms) {
  binder b{purge_};
  b(cutoff_ms);
  if (b.step() != SQLITE_DONE)
    fail("cannot purge dead letters");
  return static_cast<uint64_t>(sqlite3_changes(db_));
}

std::optional<device_record>
durable_log::find_device(const std::string& user, const std::string& device) {
  binder b{find_device_};
  b(user)(device);
  bool failed = false;
  auto r = one(b, find_device_, read_device, failed);
  if (failed)
    fail("cannot look up a device");
  return r;
}

void durable_log::touch_device(const std::string& user,
                               const std::string& device, uint8_t type,
                               const std::string& role, int64_t now_ms) {
  binder t{touch_device_};
  t(static_cast<int64_t>(type))(role)(now_ms)(user)(device);
  if (t.step() != SQLITE_DONE)
    fail("cannot update a device");
}

device_record
durable_log::insert_device(const std::string& user, const std::string& device,
                           uint8_t type, const std::string& role,
                           int64_t now_ms, uint64_t seq_reserved) {
  device_record d;
  d.user_id = user;
  d.device_id = device;
  d.type = type;
  d.role = role;
  d.epoch = make_epoch(rng_);
  d.last_seen_ms = now_ms;
  d.seq_reserved = seq_reserved;
  binder b{insert_device_};
  b(user)(device)(static_cast<int64_t>(type))(role)(d.epoch)(
    now_ms)(static_cast<int64_t>(seq_reserved));
  if (b.step() != SQLITE_DONE)
    fail("cannot register a device");
  return d;
}

void durable_log::reserve(const std::string& user, const std::string& device,
                          uint64_t seq_reserved, uint64_t next_qid) {
  binder b{reserve_};
  b(static_cast<int64_t>(seq_reserved))(static_cast<int64_t>(next_qid))(
    user)(device);
  if (b.step() != SQLITE_DONE)
    fail("cannot reserve sequence numbers");
}

void durable_log::set_gaps(const std::string& user, const std::string& device,
                           uint64_t expired, uint64_t evicted, uint64_t dead,
                           bool reset) {
  binder b{reset ? reset_gaps_ : add_gaps_};
  b(static_cast<int64_t>(expired))(static_cast<int64_t>(evicted))(
    static_cast<int64_t>(dead))(user)(device);
  if (b.step() != SQLITE_DONE)
    fail("cannot record gaps");
}

uint64_t durable_log::put_push_address(const std::string& user,
                                       const std::string& device,
                                       const protocol::push_address& a,
                                       int64_t now_ms) {
  auto provider = static_cast<int64_t>(a.provider);
  uint64_t taken = 0;
  {
    binder b{take_token_};
    b(provider)(a.token)(user)(device);
    if (b.step() != SQLITE_DONE)
      fail("cannot move a push token");
    taken = static_cast<uint64_t>(sqlite3_changes(db_));
  }
  binder b{put_push_};
  b(user)(device)(provider)(a.token)(a.topic)(int64_t{a.sandbox ? 1 : 0})(
    now_ms);
  if (b.step() != SQLITE_DONE)
    fail("cannot register a push address");
  return taken;
}

void durable_log::remove_push_addresses(
  const std::string& user, const std::string& device,
  std::optional<protocol::push_provider> provider) {
  auto p = provider ? static_cast<int64_t>(*provider) : int64_t{-1};
  binder b{remove_push_};
  b(user)(device)(p)(p);
  if (b.step() != SQLITE_DONE)
    fail("cannot remove push addresses");
}

bool durable_log::remove_push_token(const std::string& user,
                                    const std::string& device,
                                    protocol::push_provider provider,
                                    const std::string& token) {
  binder b{remove_token_};
  b(user)(device)(static_cast<int64_t>(provider))(token);
  if (b.step() != SQLITE_DONE)
    fail("cannot remove a push token");
  return sqlite3_changes(db_) > 0;
}

void durable_log::set_push_state(const std::string& user,
                                 const std::string& device, int64_t last_ms) {
  binder b{push_state_};
  b(last_ms)(user)(device);
  if (b.step() != SQLITE_DONE)
    fail("cannot record a push");
}

std::vector<device_record> durable_log::devices_to_push(uint8_t min_priority) {
  std::vector<device_record> out;
  binder b{to_push_};
  b(int64_t{min_priority});
  if (!collect(b, to_push_, read_device, out))
    fail("cannot list the devices to push");
  return out;
}

std::vector<protocol::push_address>
durable_log::push_addresses(const std::string& user,
                            const std::string& device) {
  std::vector<protocol::push_address> out;
  binder b{push_addresses_};
  b(user)(device);
  int rc;
  while ((rc = b.step()) == SQLITE_ROW) {
    protocol::push_address a;
    auto p = sqlite3_column_int(push_addresses_, 0);
    if (p < 0 || p > static_cast<int>(protocol::push_provider::webhook))
      continue; // written by a newer tetherd
    a.provider = static_cast<protocol::push_provider>(p);
    a.token = column_text(push_addresses_, 1);
    a.topic = column_text(push_addresses_, 2);
    a.sandbox = sqlite3_column_int(push_addresses_, 3) != 0;
    out.push_back(std::move(a));
  }
  if (rc != SQLITE_DONE)
    fail("cannot read push addresses");
  return out;
}

std::vector<stored_message> durable_log::load(const std::string& user,
                                              const std::string& device) {
  std::vector<stored_message> out;
  binder b{load_};
  b(user)(device);
  if (!collect(b, load_, read_message, out))
    fail("cannot load a queue");
  return out;
}

std::vector<device_record> durable_log::devices(const std::string& user) {
  std::vector<device_record> out;
  binder b{devices_};
  b(user);
  if (!collect(b, devices_, read_device, out))
    fail("cannot list devices");
  return out;
}

std::vector<device_record> durable_log::devices_with_backlog() {
  std::vector<device_record> out;
  binder b{backlog_};
  if (!collect(b, backlog_, read_device, out))
    fail("cannot list the devices with stored messages");
  return out;
}

std::vector<stored_message> durable_log::dead_letters(const std::string& user,
                                                      size_t limit) {
  std::vector<stored_message> out;
  binder b{dead_};
  b(user)(static_cast<int64_t>(limit));
  if (!collect(b, dead_, read_message, out))
    fail("cannot list dead letters");
  return out;
}

void durable_log::set_generation(const std::string& user,
                                 const std::string& device, uint64_t gen) {
  binder b{generation_};
  b(static_cast<int64_t>(gen))(user)(device);
  if (b.step() != SQLITE_DONE)
    fail("cannot record a queue generation");
}

std::optional<replica_header>
durable_log::find_replica(const std::string& leader, const std::string& user,
                          const std::string& device) {
  binder b{find_replica_};
  b(leader)(user)(device);
  bool failed = false;
  auto r = one(b, find_replica_, read_replica, failed);
  if (failed)
    fail("cannot look up a replica");
  return r;
}

void durable_log::drop_replica(const std::string& leader,
                               const std::string& user,
                               const std::string& device) {
  for (auto s : {drop_replica_rows_, drop_replica_}) {
    binder b{s};
    b(leader)(user)(device);
    if (b.step() != SQLITE_DONE)
      fail("cannot drop a replica");
  }
}

void durable_log::remove_replica_rows(const replica_header& h,
                                      const std::vector<uint64_t>& qids) {
  retire_replica_rows(h.leader, h.user_id, h.device_id, qids);
}

void durable_log::retire_replica_rows(const std::string& leader,
                                      const std::string& user,
                                      const std::string& device,
                                      const std::vector<uint64_t>& qids) {
  for (auto qid : qids) {
    binder r{remove_replica_row_};
    r(leader)(user)(device)(static_cast<int64_t>(qid));
    if (r.step() != SQLITE_DONE)
      fail("cannot retire a replica row");
  }
  // A copy without rows is no copy: nothing to take over, nothing stale
  // left behind by a leader that handed its queue on.
  binder c{replica_count_};
  c(leader)(user)(device);
  if (c.step() != SQLITE_ROW)
    fail("cannot read a replica");
  if (sqlite3_column_int64(replica_count_, 0) == 0)
    drop_replica(leader, user, device);
}

replica_outcome durable_log::apply_replica(const replica_batch& b) {
  auto& h = b.header;
  auto have = find_replica(h.leader, h.user_id, h.device_id);
  if (have && !have->lineage.empty() && !h.lineage.empty()
      && have->lineage != h.lineage) {
    // The leader is back with another store: the queue this copy keeps is
    // gone from it, and the copy is all that is left of it. Untouched
    // (its keys are not the new queue's) until this node adopts it.
    return replica_outcome::orphan;
  }
  if (have && h.gen < have->gen) {
    // From before that leader's newer generation, or fenced by a takeover.
    // (Another lineage's copy, or the device's own queue here, newer or
    // not, is no reason to refuse: copies of different leaders coexist,
    // and each queue hands its messages on to the device's.) Retirements
    // still count (a stale leader retiring what it handed on leaves
    // nothing behind); nothing else does.
    if (!b.removed.empty())
      remove_replica_rows(h, b.removed);
    return replica_outcome::stale;
  }
  // A drop ends the copy. A newer generation of the same leader's queue
  // (messages were handed to it) keeps the rows it has: they were acked,
  // and the batch may carry only the new ones.
  if (b.drop)
    drop_replica(h.leader, h.user_id, h.device_id);
  // Copies of the device from other leaders that this leader's takeover
  // gathered are superseded: their rows went on with it. Any other copy
  // (another lineage of the queue, or one it never reached) stays until
  // its own leader retires its rows or drops it, or a takeover gathers it.
  std::vector<std::string> gathered;
  {
    binder o{gathered_replicas_};
    o(h.user_id)(h.device_id)(static_cast<int64_t>(h.gen))(h.leader)(h.leader);
    if (!collect(
          o, gathered_replicas_,
          [](sqlite3_stmt* st) { return column_text(st, 0); }, gathered))
      fail("cannot list replicas");
  }
  for (auto& l : gathered)
    drop_replica(l, h.user_id, h.device_id);
  if (b.drop)
    return replica_outcome::stored;
  {
    // (Bound without a copy: alive until the step.)
    auto followers = join_lines(h.followers);
    binder p{put_replica_};
    p(h.leader)(h.user_id)(h.device_id)(static_cast<int64_t>(h.type))(h.role)(
      static_cast<int64_t>(h.gen))(followers)(h.lineage);
    if (p.step() != SQLITE_DONE)
      fail("cannot record a replica");
  }
  std::vector<uint64_t> gone = b.removed;
  if (b.upto > b.after) {
    // A snapshot (or a part of one): the rows in (after, upto] are exactly
    // these.
    std::vector<uint64_t> keep;
    keep.reserve(b.rows.size());
    for (auto& m : b.rows)
      keep.push_back(m.qid);
    std::sort(keep.begin(), keep.end());
    binder q{replica_qids_};
    q(h.leader)(h.user_id)(h.device_id)(static_cast<int64_t>(b.after))(
      static_cast<int64_t>(b.upto));
    std::vector<uint64_t> there;
    if (!collect(
          q, replica_qids_,
          [](sqlite3_stmt* st) {
            return static_cast<uint64_t>(sqlite3_column_int64(st, 0));
          },
          there))
      fail("cannot read a replica");
    for (auto qid : there)
      if (!std::binary_search(keep.begin(), keep.end(), qid))
        gone.push_back(qid);
  }
  for (auto& m : b.rows) {
    binder r{put_replica_row_};
    r(h.leader)(h.user_id)(h.device_id)(static_cast<int64_t>(m.qid))(
      static_cast<int64_t>(m.priority))(m.enqueued_ms)(m.expires_ms)(
      static_cast<int64_t>(m.needs_ack))(m.msg_id)(m.sender_device)
      .blob(m.body);
    if (r.step() != SQLITE_DONE)
      fail("cannot store a replica row");
  }
  remove_replica_rows(h, gone);
  return replica_outcome::stored;
}

std::optional<std::vector<stored_message>>
durable_log::fence_replica(const std::string& leader, const std::string& user,
                           const std::string& device, uint64_t gen,
                           const std::string& by) {
  if (!find_replica(leader, user, device))
    return std::nullopt;
  binder f{fence_};
  f(static_cast<int64_t>(gen))(by)(leader)(user)(device);
  if (f.step() != SQLITE_DONE)
    fail("cannot fence a replica");
  return replica_rows(leader, user, device);
}

std::vector<replica_header>
durable_log::replicas_of(const std::string& leader) {
  std::vector<replica_header> out;
  binder b{replicas_of_};
  b(leader);
  if (!collect(b, replicas_of_, read_replica, out))
    fail("cannot list replicas");
  return out;
}

std::vector<stored_message>
durable_log::replica_rows(const std::string& leader, const std::string& user,
                          const std::string& device) {
  std::vector<stored_message> out;
  binder b{replica_rows_};
  b(leader)(user)(device);
  if (!collect(b, replica_rows_, read_message, out))
    fail("cannot read a replica");
  return out;
}

store_stats durable_log::stats() {
  store_stats st;
  auto count = [&](const char* sql) -> uint64_t {
    sqlite3_stmt* s = nullptr;
    uint64_t n = 0;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) == SQLITE_OK
        && sqlite3_step(s) == SQLITE_ROW)
      n = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
    sqlite3_finalize(s);
    return n;
  };
  st.devices = count("SELECT count(*) FROM devices");
  st.queued = count("SELECT count(*) FROM messages WHERE dead=0");
  st.dead = count("SELECT count(*) FROM messages WHERE dead<>0");
  return st;
}

} // namespace tether::actors
