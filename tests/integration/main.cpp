// The integration test binary's entry point: Catch2's main, plus a listener that prints baton's log on failures.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <csignal>
#include <iostream>

#include "tests/integration/harness.hpp"

namespace {

class BatonLogListener : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;

  void testRunStarting(Catch::TestRunInfo const& info) override {
    // A test that writes to a socket baton has closed must see EPIPE, not die.
    std::signal(SIGPIPE, SIG_IGN);
    TestEventListenerBase::testRunStarting(info);
  }

  bool assertionEnded(Catch::AssertionStats const& stats) override {
    if (!stats.assertionResult.isOk()) {
      baton::test::print_live_baton_logs(std::cout);
    }
    return true;
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(BatonLogListener)
