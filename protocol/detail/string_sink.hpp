#pragma once

#include <cstddef>
#include <string>

namespace tether::protocol::detail {

/// msgpack-c output stream appending to a std::string.
struct string_sink {
  std::string* out;
  void write(const char* p, std::size_t n) { out->append(p, n); }
};

} // namespace tether::protocol::detail
