#define CAF_SUITE protocol.compression
#include <caf/test/unit_test.hpp>

#include <zlib.h>

#include "protocol/compression.hpp"
#include "test/support/hex.hpp"

using namespace tether::protocol;

CAF_TEST(compressed frames round trip in both formats) {
  std::string raw;
  for (int i = 0; i < 200; ++i)
    raw += R"({"id":"m)" + std::to_string(i) + R"(","type":"command"},)";
  for (auto f : {zip_format::deflate, zip_format::gzip}) {
    auto frame = make_compressed_frame(raw, f);
    CAF_CHECK(is_compressed_frame(frame));
    CAF_CHECK(frame.size() < raw.size() / 4);
    CAF_CHECK_EQUAL(static_cast<int>(frame[1]), static_cast<int>(f));
    std::string out;
    CAF_CHECK(open_compressed_frame(frame, raw.size(), out)
              == inflate_error::none);
    CAF_CHECK_EQUAL(out, raw);
  }
}

CAF_TEST(the header is magic algorithm and big endian length) {
  auto frame = make_compressed_frame("abc", zip_format::deflate);
  // The example of SPEC.md §4.1 (zlib stream checked with python's zlib).
  CAF_CHECK_EQUAL(tether::test::hex(frame),
                  "c1 01 00 00 00 03 78 9c 4b 4c 4a 06 00 02 4d 01 27");
  // A JSON text or a msgpack map never starts with 0xC1.
  CAF_CHECK(!is_compressed_frame("{\"id\":1}"));
  CAF_CHECK(!is_compressed_frame(tether::test::unhex("81 a1 61 01")));
}

CAF_TEST(bombs stop at the cap whatever the header claims) {
  std::string zeros(64 * 1024 * 1024, '\0');
  auto bomb = make_compressed_frame(zeros, zip_format::deflate, 9);
  CAF_CHECK(bomb.size() < 100 * 1024); // 64 MiB in under 100 KiB
  std::string out;
  CAF_CHECK(open_compressed_frame(bomb, 1024 * 1024, out)
            == inflate_error::too_large);
  CAF_CHECK(out.capacity() <= 1024 * 1024);
  // The same bomb with a lying header (claims 10 bytes).
  auto liar = bomb;
  liar[2] = liar[3] = liar[4] = 0;
  liar[5] = 10;
  CAF_CHECK(open_compressed_frame(liar, 1024 * 1024, out)
            == inflate_error::size_mismatch);
  CAF_CHECK(out.size() <= 11);
}

CAF_TEST(corrupt and malformed frames are errors) {
  std::string out;
  CAF_CHECK(open_compressed_frame("", 100, out) == inflate_error::malformed);
  CAF_CHECK(open_compressed_frame("\xc1\x09\0\0\0\1x", 100, out)
            == inflate_error::malformed);
  auto frame = make_compressed_frame("hello hello hello", zip_format::gzip);
  frame[frame.size() / 2] ^= 0x55;
  auto e = open_compressed_frame(frame, 100, out);
  CAF_CHECK(e == inflate_error::corrupt || e == inflate_error::size_mismatch);
  auto truncated = make_compressed_frame("hello hello hello",
                                         zip_format::deflate);
  truncated.resize(truncated.size() - 4);
  CAF_CHECK(open_compressed_frame(truncated, 100, out) != inflate_error::none);
}
