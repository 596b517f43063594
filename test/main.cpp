// The main() of every test binary: CAF's unit test runner.
#include <caf/test/unit_test_impl.hpp>
