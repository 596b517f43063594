// libFuzzer target: a text frame of a tether.v1.json session.
#include "test/fuzz/frames.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tether::fuzz::check_frame(tether::protocol::codec::json, data, size);
  return 0;
}
