// libFuzzer target: app-level compressed frames (SPEC §4.1), the inflate
// limit included.
#include <string>

#include "protocol/compression.hpp"
#include "test/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether::protocol;
  std::string_view frame{reinterpret_cast<const char*>(data), size};
  if (!is_compressed_frame(frame))
    return 0;
  constexpr size_t max_bytes = 1 << 18;
  std::string out;
  if (open_compressed_frame(frame, max_bytes, out) == inflate_error::none)
    FUZZ_CHECK(out.size() <= max_bytes);
  return 0;
}
