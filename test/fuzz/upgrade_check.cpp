// libFuzzer target: the checks before an upgrade (runtime/upgrade_check.*),
// every header and the query taken from the input; a refusal always has a
// status and a JSON-safe error word, an acceptance the token's identity.
#include <string>
#include <vector>

#include "protocol/token.hpp"
#include "runtime/upgrade_check.hpp"
#include "test/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tether;
  static const std::string secret(32, 's');
  // Fields separated by newlines: method, version, key, origin,
  // authorization, protocols, query (missing ones stay empty).
  std::string_view text{reinterpret_cast<const char*>(data), size};
  std::vector<std::string_view> f;
  while (f.size() < 7) {
    auto nl = text.find('\n');
    f.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos)
      break;
    text.remove_prefix(nl + 1);
  }
  f.resize(7);
  runtime::upgrade_request r;
  r.method = f[0];
  r.is_upgrade = size % 2 == 0;
  r.version = f[1];
  r.key = f[2];
  r.origin = f[3];
  r.authorization = f[4];
  r.protocols = f[5];
  r.query = f[6];
  runtime::upgrade_policy p;
  p.secret = secret;
  p.allowed_origins = {"https://app.example.com"};
  auto d = runtime::check_upgrade(r, p, size % 3, 1500);
  if (d.refusal) {
    FUZZ_CHECK(d.refusal->status >= 400 && d.refusal->status < 600);
    FUZZ_CHECK(!d.refusal->error.empty());
  } else {
    FUZZ_CHECK(!d.info.user_id.empty() && !d.info.device_id.empty());
    FUZZ_CHECK(r.method == "GET" && r.version == "13");
  }
  return 0;
}
