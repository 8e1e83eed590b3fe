// libFuzzer target: any text given to the configuration loader yields a
// config or error messages, never a crash or an exception.
#include <cstdint>
#include <string>

#include "common/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > 16384) return 0;
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto result = conc::config::load_string(text, "fuzz.conf");
    if (!result.config && result.errors.empty()) __builtin_trap();  // a failure must say why
    return 0;
}
