#pragma once

// Where an actor runs. The node's scheduler (runtime/io_scheduler) runs
// actors on its event loops, one thread each, beside the sockets: an actor
// runs on the loop it ran on last (its home), and a message between two
// actors of one loop never crosses a thread. These functions let the actors
// that serve one connection live on the loop of its socket. Under any other
// scheduler (CAF's test coordinator, a tool's workers) they do nothing.

#include <cstdint>
#include <utility>

#include <caf/fwd.hpp>
#include <caf/local_actor.hpp>

namespace tether::actors {

/// A scheduler whose execution units are event loops (implemented by the
/// runtime).
class loop_scheduler {
public:
  virtual ~loop_scheduler();

  /// The execution unit of loop `loop`, or nullptr if there is none.
  virtual caf::execution_unit* loop_unit(int32_t loop) noexcept = 0;

  /// The loop of `unit`, or -1 if it is none of this scheduler's.
  virtual int32_t loop_of(const caf::execution_unit* unit) const noexcept = 0;

  /// How many loops there are.
  virtual int32_t loops() const noexcept = 0;
};

/// The loop scheduler of `sys`, or nullptr.
loop_scheduler* loops_of(caf::actor_system& sys) noexcept;

/// The loop `self` runs on, or -1.
int32_t current_loop(caf::local_actor* self) noexcept;

/// From its next message on, `self` runs on `loop` (nothing if `loop` is
/// -1 or unknown). Messages it sends in the rest of this run are scheduled
/// as from that loop.
void move_to_loop(caf::local_actor* self, int32_t loop) noexcept;

/// Runs `spawn()`, which spawns from `self`, so that what it spawns starts
/// on `loop` (spawned actors start on their spawner's unit).
template <class Spawn>
auto spawn_on_loop(caf::local_actor* self, int32_t loop, Spawn&& spawn) {
  auto* unit = loop < 0 ? nullptr : [&]() -> caf::execution_unit* {
    auto* s = loops_of(self->system());
    return s ? s->loop_unit(loop) : nullptr;
  }();
  if (!unit)
    return std::forward<Spawn>(spawn)();
  auto* own = self->context();
  self->context(unit);
  auto result = std::forward<Spawn>(spawn)();
  self->context(own);
  return result;
}

} // namespace tether::actors
