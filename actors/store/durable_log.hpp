#pragma once

// The durable store of device queues: one SQLite file in WAL mode with
// synchronous=FULL, so that a committed transaction survives a process crash
// and a power loss. Versioned schema (PRAGMA user_version). Not thread-safe:
// owned by the store actor. No CAF here.
//
// Tables (schema 3):
//   devices  (user_id, device_id) -> type, role, epoch, seq_reserved,
//            next_qid, unreported gaps, last_seen, the last push, the
//            queue's generation (SPEC §14.3)
//   messages (user_id, device_id, qid) -> priority, times, needs_ack,
//            msg_id, sender_device, body (the envelope, msgpack), dead
//   push_addresses (user_id, device_id, provider) -> token, topic, sandbox,
//            registered; (provider, token) unique: a token belongs to one
//            device (an app reinstalled for another user takes it along)
//   replicas (leader, user_id, device_id) -> type, role, gen, followers:
//            the copies this node keeps of queues other nodes lead
//   replica_messages (leader, user_id, device_id, qid) -> as messages

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "actors/records.hpp"
#include "protocol/model.hpp"
#include "protocol/push.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace tether::actors {

/// A store failure; the message is fit for the operator.
class store_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class durable_log {
public:
  /// The schema version this code writes.
  static constexpr int schema_version = 5;

  /// Opens (creating if needed) the store at `path`. Throws store_error for
  /// a file that is not a database, is corrupt, locked by another process,
  /// or has a newer schema.
  explicit durable_log(const std::string& path);
  ~durable_log();

  durable_log(const durable_log&) = delete;
  durable_log& operator=(const durable_log&) = delete;

  void begin();
  void commit();
  void rollback() noexcept;

  // -- writes (inside begin/commit)
  // --------------------------------------------

  void append(const stored_message& m);
  void remove(const std::string& user, const std::string& device, uint64_t qid);
  /// Moves a message to the dead letters, stamped with `now_ms`.
  void mark_dead(const std::string& user, const std::string& device,
                 uint64_t qid, int64_t now_ms);
  /// Deletes the dead letters buried at or before `cutoff_ms`; returns how
  /// many.
  uint64_t purge_dead(int64_t cutoff_ms);
  /// Updates a known device's type, role and last_seen.
  void touch_device(const std::string& user, const std::string& device,
                    uint8_t type, const std::string& role, int64_t now_ms);
  /// Registers a new device with a fresh epoch and seqs up to
  /// `seq_reserved` reserved.
  device_record insert_device(const std::string& user,
                              const std::string& device, uint8_t type,
                              const std::string& role, int64_t now_ms,
                              uint64_t seq_reserved = 0);
  void reserve(const std::string& user, const std::string& device,
               uint64_t seq_reserved, uint64_t next_qid);
  /// Adds to (or with `reset`, replaces) the unreported gap counters.
  void set_gaps(const std::string& user, const std::string& device,
                uint64_t expired, uint64_t evicted, uint64_t dead, bool reset);

  /// Registers a device's address for a provider, replacing the one it
  /// had there; the token leaves any other device that held it. Returns how
  /// many other devices lost it.
  uint64_t put_push_address(const std::string& user, const std::string& device,
                            const protocol::push_address& a, int64_t now_ms);
  /// Removes the device's address for `provider`, or all of them.
  void remove_push_addresses(const std::string& user, const std::string& device,
                             std::optional<protocol::push_provider> provider);
  /// Removes the address if it still holds `token` (a provider called it
  /// dead); false if it changed meanwhile.
  bool remove_push_token(const std::string& user, const std::string& device,
                         protocol::push_provider provider,
                         const std::string& token);
  /// Records when the device's last push was sent (never moved back).
  void set_push_state(const std::string& user, const std::string& device,
                      int64_t last_ms);

  /// Raises the device's queue generation to `gen` (never lowers it).
  void set_generation(const std::string& user, const std::string& device,
                      uint64_t gen);

  // -- copies of queues other nodes lead (SPEC §14.3)
  // ----------------------------------------------------------------------
  /// Applies what a leader sent: rows, retirements, a part of a snapshot,
  /// or a drop. A batch older than the leader's copy here (a newer
  /// generation, or fenced by a takeover) is `stale`: only its retirements
  /// apply. A batch of a leader back with another store than the copy's is
  /// refused whole (`orphan`): the copy is all that is left of its queue,
  /// and waits for this node to adopt it. Copies of the device from other
  /// leaders that this leader's takeover gathered go. A copy left without
  /// rows goes.
  replica_outcome apply_replica(const replica_batch& b);
  /// Node `by`, taking the queue over at generation `gen`, asks for this
  /// copy: its generation rises to `gen` (the old leader's later batches
  /// are refused: it cannot reach a majority any more), it is marked as
  /// gathered by `by` (whose batches drop it then: its rows went on with
  /// the takeover) and its rows are returned; none if there is no copy.
  std::optional<std::vector<stored_message>>
  fence_replica(const std::string& leader, const std::string& user,
                const std::string& device, uint64_t gen, const std::string& by);
  /// The copies of the queues `leader` leads.
  std::vector<replica_header> replicas_of(const std::string& leader);
  /// A copy's header, if there is one.
  std::optional<replica_header> find_replica(const std::string& leader,
                                             const std::string& user,
                                             const std::string& device);
  /// A copy's rows, by qid.
  std::vector<stored_message> replica_rows(const std::string& leader,
                                           const std::string& user,
                                           const std::string& device);
  /// Retires rows of a copy (a node that adopted them); a copy left
  /// without rows goes.
  void retire_replica_rows(const std::string& leader, const std::string& user,
                           const std::string& device,
                           const std::vector<uint64_t>& qids);

  // -- reads
  // --------------------------------------------------------------------

  /// The devices with a push address and a live message at or above
  /// `min_priority` that entered after their last push (their queues decide
  /// whether one is due).
  std::vector<device_record> devices_to_push(uint8_t min_priority);
  /// The device's push addresses, by provider.
  std::vector<protocol::push_address> push_addresses(const std::string& user,
                                                     const std::string& device);

  /// The device's record, if it is known.
  std::optional<device_record> find_device(const std::string& user,
                                           const std::string& device);
  /// The live (not dead) messages of a device, by qid.
  std::vector<stored_message> load(const std::string& user,
                                   const std::string& device);
  std::vector<device_record> devices(const std::string& user);
  /// The devices with live messages (a node that restarts hands them over
  /// to where their devices are now).
  std::vector<device_record> devices_with_backlog();
  std::vector<stored_message> dead_letters(const std::string& user,
                                           size_t limit);
  store_stats stats();

  const std::string& path() const noexcept { return path_; }
  /// The store's id: made with the file, the same for as long as it lives.
  const std::string& store_id() const noexcept { return store_id_; }

private:
  void open();
  void close() noexcept;
  sqlite3_stmt* prepare(const char* sql);
  void exec(const char* sql);
  [[noreturn]] void fail(const std::string& what);

  std::string path_;
  std::string store_id_;
  /// Makes epochs (resume tokens): unique per device incarnation.
  std::mt19937_64 rng_;
  sqlite3* db_ = nullptr;
  std::vector<sqlite3_stmt*> statements_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* delete_ = nullptr;
  sqlite3_stmt* bury_ = nullptr;
  sqlite3_stmt* purge_ = nullptr;
  sqlite3_stmt* find_device_ = nullptr;
  sqlite3_stmt* insert_device_ = nullptr;
  sqlite3_stmt* touch_device_ = nullptr;
  sqlite3_stmt* reserve_ = nullptr;
  sqlite3_stmt* add_gaps_ = nullptr;
  sqlite3_stmt* reset_gaps_ = nullptr;
  sqlite3_stmt* load_ = nullptr;
  sqlite3_stmt* devices_ = nullptr;
  sqlite3_stmt* backlog_ = nullptr;
  sqlite3_stmt* dead_ = nullptr;
  sqlite3_stmt* take_token_ = nullptr;
  sqlite3_stmt* put_push_ = nullptr;
  sqlite3_stmt* remove_push_ = nullptr;
  sqlite3_stmt* remove_token_ = nullptr;
  sqlite3_stmt* push_addresses_ = nullptr;
  sqlite3_stmt* push_state_ = nullptr;
  sqlite3_stmt* to_push_ = nullptr;
  sqlite3_stmt* generation_ = nullptr;
  sqlite3_stmt* max_qid_ = nullptr;
  sqlite3_stmt* find_replica_ = nullptr;
  sqlite3_stmt* put_replica_ = nullptr;
  sqlite3_stmt* drop_replica_ = nullptr;
  sqlite3_stmt* drop_replica_rows_ = nullptr;
  sqlite3_stmt* gathered_replicas_ = nullptr;
  sqlite3_stmt* put_replica_row_ = nullptr;
  sqlite3_stmt* remove_replica_row_ = nullptr;
  sqlite3_stmt* replica_qids_ = nullptr;
  sqlite3_stmt* replica_rows_ = nullptr;
  sqlite3_stmt* replicas_of_ = nullptr;
  sqlite3_stmt* replica_count_ = nullptr;
  sqlite3_stmt* fence_ = nullptr;
  void drop_replica(const std::string& leader, const std::string& user,
                    const std::string& device);
  void remove_replica_rows(const replica_header& h,
                           const std::vector<uint64_t>& qids);
};

} // namespace tether::actors
