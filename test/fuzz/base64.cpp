// libFuzzer target: the base64 decoders accept canonical text only, so
// whatever they accept encodes back to the same text.
#include <string>

#include "protocol/base64.hpp"
#include "test/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether::protocol;
  std::string_view text{reinterpret_cast<const char*>(data), size};
  if (auto d = base64url_decode(text))
    FUZZ_CHECK(base64url_encode(*d) == text);
  if (auto d = base64_decode(text))
    FUZZ_CHECK(base64_encode(*d) == text);
  FUZZ_CHECK(base64url_decode(base64url_encode(text)) == std::string{text});
  FUZZ_CHECK(base64_decode(base64_encode(text)) == std::string{text});
  return 0;
}
