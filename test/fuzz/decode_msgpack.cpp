// libFuzzer target: a binary frame of a tether.v1.msgpack session.
#include "test/fuzz/frames.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tether::fuzz::check_frame(tether::protocol::codec::msgpack, data, size);
  return 0;
}
