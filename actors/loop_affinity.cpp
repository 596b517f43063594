#include "actors/loop_affinity.hpp"

#include <caf/actor_system.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

namespace tether::actors {

loop_scheduler::~loop_scheduler() = default;

loop_scheduler* loops_of(caf::actor_system& sys) noexcept {
  return dynamic_cast<loop_scheduler*>(&sys.scheduler());
}

int32_t current_loop(caf::local_actor* self) noexcept {
  auto* s = loops_of(self->system());
  return s ? s->loop_of(self->context()) : -1;
}

void move_to_loop(caf::local_actor* self, int32_t loop) noexcept {
  if (loop < 0)
    return;
  if (auto* s = loops_of(self->system()))
    if (auto* unit = s->loop_unit(loop))
      self->context(unit);
}

} // namespace tether::actors
