// Runs every registered CppUnit suite (or those matching argv[1]); prints a
// PASS/FAIL line per test and ends with "N passed, N failed".
#pragma once

namespace conc::test {
int run_registered_tests(int argc, char** argv);
}
