#include "tests/support/test_runner.h"

int main(int argc, char** argv) { return conc::test::run_registered_tests(argc, argv); }
