#include "actors/connection/session_port.hpp"

namespace tether::actors {

// Out-of-line virtual destructors anchor the vtables in one TU.
session_events::~session_events() = default;

session_port::~session_port() = default;

} // namespace tether::actors
