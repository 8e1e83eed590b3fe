// Integration tests: the real data plane stages on in-memory ring ports.
#include <cstdio>

#include "tests/support/ring_dataplane.h"
#include "tests/support/test_runner.h"

int main(int argc, char** argv) {
    if (!conc::test::init_eal()) {
        std::printf("EAL init failed\n0 passed, 1 failed\n");
        return 1;
    }
    return conc::test::run_registered_tests(argc, argv);
}
