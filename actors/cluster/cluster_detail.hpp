#pragma once

// Internal to the cluster actor (cluster_actor.cpp: the membership view and
// the registry of users; cluster_relays.cpp: what crosses to and from the
// other nodes): the helpers both halves use, and the relays' handlers.

#include <functional>
#include <string>
#include <vector>

#include "actors/cluster/cluster_actor.hpp"

namespace tether::actors::cluster_detail {

using self_ptr = cluster_actor::stateful_pointer<cluster_state>;

/// Counts and logs a peer message refused for what it claims.
void refuse(self_ptr self, peer_refusal why, const std::string& from,
            const std::string& detail);

/// The link to another member (empty if it is not linked).
peer_link_actor link_of_node(self_ptr self, const std::string& node_id);

bool is_self(self_ptr self, const std::string& node_id);

/// This node holds a queue of the device, of generation `gen` (SPEC
/// §14.3); its home says whether it is elsewhere.
void hold(self_ptr self, const device_identity& id, uint64_t gen);

/// Runs `f` with the directory shard of `user` on this node (empty while
/// the directory restarts).
void with_shard(self_ptr self, const std::string& user,
                const std::function<void(const directory_actor&)>& f);

// -- the relays (cluster_relays.cpp), one per handler -----------------------

caf::result<std::vector<std::string>>
take_handover(self_ptr self, const std::string& from, const device_identity& id,
              uint64_t gen, const std::vector<std::string>& forms);

caf::result<bool> take_replica(self_ptr self, const std::string& from,
                               replica_batch& b);

caf::result<std::vector<std::string>>
take_copy(self_ptr self, const device_identity& id, uint64_t gen,
          const std::vector<stored_message>& rows);

caf::result<std::vector<stored_message>>
give_replica(self_ptr self, const std::string& from, const std::string& leader,
             const std::string& user, const std::string& device, uint64_t gen);

caf::result<uint32_t> take_forward(self_ptr self, const std::string& from,
                                   const device_identity& sender,
                                   std::vector<std::string> devices,
                                   const std::string& bytes);

void take_handled(self_ptr self, const std::string& from,
                  const device_identity& by,
                  const std::vector<std::string>& devices,
                  const std::vector<std::string>& ids);

caf::result<uint32_t>
relay_publish(self_ptr self, const device_identity& sender,
              const std::string& room, const std::string& bytes);

caf::result<uint32_t> take_publish(self_ptr self, const std::string& from,
                                   const device_identity& sender,
                                   const std::string& room,
                                   const std::string& bytes);

void relay_presence(self_ptr self, const std::string& room,
                    const std::vector<presence_row>& rows, bool full, bool ask);

void take_presence(self_ptr self, const std::string& from,
                   const std::string& room,
                   const std::vector<presence_row>& rows, bool full, bool ask);

caf::result<std::vector<std::string>> gather_overviews(self_ptr self);

caf::result<std::string> overview_here(self_ptr self);

} // namespace tether::actors::cluster_detail
