// libFuzzer target: what concentrator-cp parses from outside, without a
// crash or a read past the input: management socket requests (one JSON
// object per line, common/json/json.h) and the LCP frames clients punt
// to it (controlplane/ppp/lcp_echo.h). Also checks what the parsers promise:
// an escaped string unescapes to itself, and an Echo-Reply is the request's
// Length long, with its identifier and data and our magic number.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "common/proto/byte_reader.h"
#include "common/json/json.h"
#include "controlplane/ppp/lcp_echo.h"

using namespace conc;

namespace {

[[noreturn]] void broken(const char* what) {
    std::fprintf(stderr, "%s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    // Exactly the input's bytes, so ASan sees a read past them.
    const std::vector<uint8_t> exact(data + 1, data + size);
    if (data[0] & 1) {
        constexpr uint32_t kMagic = 0x5A5A1234;
        const auto reply = cp::ppp::lcp_echo_reply(exact.data(), exact.size(), kMagic);
        if (reply) {
            if (reply->size() < 8 || reply->size() != proto::load_u16(exact.data() + 2) || reply->size() > exact.size())
                broken("Echo-Reply not the request's Length long");
            if ((*reply)[0] != cp::ppp::kLcpEchoReply || (*reply)[1] != exact[1] ||
                proto::load_u32(reply->data() + 4) != kMagic ||
                std::memcmp(reply->data() + 8, exact.data() + 8, reply->size() - 8) != 0)
                broken("Echo-Reply not the request's identifier and data with our magic");
        }
        return 0;
    }
    const std::string_view line(reinterpret_cast<const char*>(exact.data()), exact.size());
    for (const char* key : {"command", "json", "name", ""}) {
        (void)json::json_string_member(line, key);
        (void)json::json_bool_member(line, key);
    }
    (void)json::json_unescape(line);
    const std::string original(line);
    if (json::json_unescape(json::json_escape(original)) != original) broken("escape does not round-trip");
    // A value we escaped into a request comes back out of it whole.
    const std::string request = "{\"command\": \"" + json::json_escape(original) + "\", \"json\": true}";
    const auto command = json::json_string_member(request, "command");
    if (!command || *command != original) broken("a string member does not come back out");
    if (json::json_bool_member(request, "json") != true) broken("a boolean member does not come back out");
    return 0;
}
