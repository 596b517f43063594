#include "actors/ports.hpp"

namespace tether::actors {

// Out-of-line virtual destructors anchor the vtables in one TU.
session_events::~session_events() = default;

session_port::~session_port() = default;

link_events::~link_events() = default;

link_port::~link_port() = default;

} // namespace tether::actors
