#include "tests/support/test_runner.h"

#include <cppunit/TestFailure.h>
#include <cppunit/TestListener.h>
#include <cppunit/TestResult.h>
#include <cppunit/TestResultCollector.h>
#include <cppunit/extensions/TestFactoryRegistry.h>
#include <cppunit/ui/text/TestRunner.h>

#include <cstdio>
#include <string>

namespace conc::test {

namespace {

class LinePerTest : public CppUnit::TestListener {
public:
    void startTest(CppUnit::Test*) override { failed_ = false; }
    void addFailure(const CppUnit::TestFailure&) override { failed_ = true; }
    void endTest(CppUnit::Test* test) override {
        std::printf("%s %s\n", failed_ ? "FAIL" : "PASS", test->getName().c_str());
        std::fflush(stdout);
    }

private:
    bool failed_ = false;
};

}  // namespace

int run_registered_tests(int argc, char** argv) {
    CppUnit::TextUi::TestRunner runner;
    runner.addTest(CppUnit::TestFactoryRegistry::getRegistry().makeTest());
    LinePerTest lines;
    runner.eventManager().addListener(&lines);
    const std::string filter = argc > 1 ? argv[1] : "";
    runner.run(filter, false, true, false);
    const auto& result = runner.result();
    const int failed = result.testFailuresTotal();
    std::printf("%d passed, %d failed\n", result.runTests() - failed, failed);
    return failed == 0 ? 0 : 1;
}

}  // namespace conc::test
