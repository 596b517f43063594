// Child processes (runtime/process.hpp): a child's stderr appended to a
// file is read as a pipe would be, from where the file ended when that
// child started; a child that logs more than a pipe holds never blocks.
#define CAF_SUITE runtime.process

#include <caf/test/unit_test.hpp>

#include <string>

#include "runtime/process.hpp"
#include "test/support/temp_dir.hpp"

using namespace tether;
using namespace std::chrono_literals;

namespace {

// A shell that writes `err` lines of 100 bytes to stderr, then "done".
std::vector<std::string> script(int lines, const std::string& tag) {
  return {"-c", "i=0; while [ $i -lt " + std::to_string(lines)
                  + " ]; do printf '%099d\\n' $i >&2; i=$((i+1)); done; "
                    "echo "
                  + tag + " >&2; echo listening on 127.0.0.1:7"};
}

} // namespace

CAF_TEST(a child logging to a file never blocks and is read from its start) {
  test::temp_dir dir;
  auto log = dir.path() + "/child.log";
  // 2,000 lines (200 KB, beyond a pipe's 64 KiB) before it says it listens.
  runtime::child_process first;
  CAF_CHECK_EQUAL(runtime::start_server(first, "/bin/sh",
                                        script(2000, "first-done"), -1, log),
                  7u);
  auto text = first.read_stderr_until("first-done", 5s);
  CAF_CHECK(text.find("first-done") != std::string::npos);
  CAF_CHECK_EQUAL(first.wait(5s), 0);
  // A second one appending to the same file reads only its own lines.
  runtime::child_process second;
  CAF_REQUIRE(second.start("/bin/sh", script(3, "second-done"), -1, log));
  auto again = second.read_stderr_until("second-done", 5s);
  CAF_CHECK(again.find("second-done") != std::string::npos);
  CAF_CHECK(again.find("first-done") == std::string::npos);
  CAF_CHECK_EQUAL(again.size(), 3 * 100 + std::string{"second-done\n"}.size());
  CAF_CHECK_EQUAL(second.wait(5s), 0);
  // Nothing more: a bounded wait, then what there is (nothing).
  CAF_CHECK_EQUAL(second.read_stderr(50ms), "");
}

CAF_TEST(a child logging to a pipe blocks once the pipe is full) {
  // The reason for the file: 2,000 lines are not all written while nobody
  // reads the pipe, so the child has not said it listens within 1 s.
  runtime::child_process p;
  CAF_REQUIRE(p.start("/bin/sh", script(2000, "done")));
  CAF_CHECK_EQUAL(p.read_stdout_until("\n", 1s), "");
  // Read, it goes on.
  auto text = p.read_stderr_until("done", 10s);
  CAF_CHECK(text.find("done") != std::string::npos);
  CAF_CHECK_EQUAL(p.read_stdout_until("\n", 5s), "listening on 127.0.0.1:7\n");
  CAF_CHECK_EQUAL(p.wait(5s), 0);
}
