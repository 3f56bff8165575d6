// The integration test binary's entry point: Catch2's main, plus a listener that prints baton's log on failures.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <csignal>
#include <iostream>
#include <sstream>

#include "tests/integration/harness.hpp"

namespace {

// On a failed assertion, takes the new part of every live baton's log, and prints it at the next
// event, so that it appears after the reporter's description of the failure.
class BatonLogListener : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;

  void testRunStarting(Catch::TestRunInfo const& info) override {
    // A test that writes to a socket baton has closed must see EPIPE, not die.
    std::signal(SIGPIPE, SIG_IGN);
    TestEventListenerBase::testRunStarting(info);
  }

  void assertionStarting(Catch::AssertionInfo const& info) override {
    flush();
    TestEventListenerBase::assertionStarting(info);
  }

  bool assertionEnded(Catch::AssertionStats const& stats) override {
    if (!stats.assertionResult.isOk()) {
      baton::test::print_live_baton_logs(pending_);
    }
    return true;
  }

  void sectionEnded(Catch::SectionStats const& stats) override {
    flush();
    TestEventListenerBase::sectionEnded(stats);
  }

  void testCaseEnded(Catch::TestCaseStats const& stats) override {
    flush();
    TestEventListenerBase::testCaseEnded(stats);
  }

 private:
  void flush() {
    std::string text = pending_.str();
    if (text.empty()) return;
    std::cout << text << std::flush;
    pending_.str("");
  }

  std::ostringstream pending_;
};

}  // namespace

CATCH_REGISTER_LISTENER(BatonLogListener)
