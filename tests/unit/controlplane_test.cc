// The control plane's pure parts: LCP Echo (RFC 1661 5.8), the management
// socket's JSON, the contract's spec conversions and the mgmt config section.
#include <cppunit/extensions/HelperMacros.h>

#include <cstring>
#include <vector>

#include "common/config/config.h"
#include "common/shm/messages.h"
#include "common/json/json.h"
#include "controlplane/ppp/lcp_echo.h"

using namespace conc;

namespace {
const char* const kDataplaneOnly = R"(dataplane: { workers = [1];
  access: { device = "net_null0"; address = "198.51.100.1/24"; };
  core: { device = "net_null1"; address = "10.0.0.1/24"; }; };
)";
}

class ControlplaneTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ControlplaneTest);
    CPPUNIT_TEST(lcp_echo_request_gets_a_reply);
    CPPUNIT_TEST(lcp_echo_refusals);
    CPPUNIT_TEST(json_members_and_escapes);
    CPPUNIT_TEST(json_unicode_escapes_and_malformed_ones);
    CPPUNIT_TEST(sa_spec_round_trip_and_validation);
    CPPUNIT_TEST(session_spec_validation);
    CPPUNIT_TEST(mgmt_config);
    CPPUNIT_TEST_SUITE_END();

public:
    void lcp_echo_request_gets_a_reply() {
        // Echo-Request id 7, length 14, magic 0x01020304, data "abcdef", then 2 bytes of padding.
        const uint8_t request[] = {9, 7, 0, 14, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e', 'f', 0xEE, 0xEE};
        auto reply = cp::ppp::lcp_echo_reply(request, sizeof request, 0xAABBCCDD);
        CPPUNIT_ASSERT(reply);
        const std::vector<uint8_t> want = {10, 7, 0, 14, 0xAA, 0xBB, 0xCC, 0xDD, 'a', 'b', 'c', 'd', 'e', 'f'};
        CPPUNIT_ASSERT(*reply == want);
    }

    void lcp_echo_refusals() {
        const uint8_t reply[] = {10, 7, 0, 8, 1, 2, 3, 4};
        CPPUNIT_ASSERT(!cp::ppp::lcp_echo_reply(reply, sizeof reply, 0));  // not a request
        const uint8_t long_length[] = {9, 7, 0, 9, 1, 2, 3, 4};
        CPPUNIT_ASSERT(!cp::ppp::lcp_echo_reply(long_length, sizeof long_length, 0));
        const uint8_t short_length[] = {9, 7, 0, 7, 1, 2, 3, 4};
        CPPUNIT_ASSERT(!cp::ppp::lcp_echo_reply(short_length, sizeof short_length, 0));
        for (size_t n = 0; n < 8; ++n) {
            std::vector<uint8_t> cut(reply, reply + n);  // own allocation: ASan sees any overread
            CPPUNIT_ASSERT(!cp::ppp::lcp_echo_reply(cut.data(), cut.size(), 0));
        }
    }

    void json_members_and_escapes() {
        using namespace conc::json;
        const std::string line = R"({"command": "show \"x\"\n", "json" : true, "other": false})";
        CPPUNIT_ASSERT_EQUAL(std::string("show \"x\"\n"), *json_string_member(line, "command"));
        CPPUNIT_ASSERT(*json_bool_member(line, "json"));
        CPPUNIT_ASSERT(!*json_bool_member(line, "other"));
        CPPUNIT_ASSERT(!json_string_member(line, "json"));   // not a string
        CPPUNIT_ASSERT(!json_string_member(line, "absent"));
        CPPUNIT_ASSERT(!json_string_member(R"({"command": "unterminated)", "command"));
        const std::string text = "a\"b\\c\nd\te\x01";
        CPPUNIT_ASSERT_EQUAL(text, json_unescape(json_escape(text)));
    }

    // RFC 8259 7. A request whose \u escape had no hex digits threw out of
    // std::stoi and ended concentrator-cp (found by fuzz_cp_input).
    void json_unicode_escapes_and_malformed_ones() {
        using namespace conc::json;
        CPPUNIT_ASSERT_EQUAL(std::string("A/\b\f"), json_unescape(R"(\u0041\/\b\f)"));
        CPPUNIT_ASSERT_EQUAL(std::string("caf\xC3\xA9 \xE2\x82\xAC"), json_unescape(R"(caf\u00e9 \u20AC)"));
        CPPUNIT_ASSERT_EQUAL(std::string("\xF0\x9F\x98\x80"), json_unescape(R"(\ud83d\ude00)"));  // a surrogate pair
        CPPUNIT_ASSERT_EQUAL(std::string("\xEF\xBF\xBDx"), json_unescape(R"(\ud800x)"));     // lone: U+FFFD
        CPPUNIT_ASSERT_EQUAL(std::string("\xEF\xBF\xBD"), json_unescape(R"(\udc00)"));
        CPPUNIT_ASSERT_EQUAL(std::string("\\uzz12 \\u12"), json_unescape(R"(\uzz12 \u12)"));  // kept as written
        CPPUNIT_ASSERT_EQUAL(std::string("\\u"), json_unescape(R"(\u)"));
        // Members are walked in order: a key's name inside another value is not the key.
        const std::string tricky = R"({"command": "x \"json\": false, \"json\"", "a": {"json": false}, "b": [1, "}"],)"
                                   R"( "json": true})";
        CPPUNIT_ASSERT_EQUAL(std::string(R"(x "json": false, "json")"), *json_string_member(tricky, "command"));
        CPPUNIT_ASSERT(*json_bool_member(tricky, "json"));
        CPPUNIT_ASSERT(!json_bool_member(R"({"a": "\"json\": true"})", "json"));
        CPPUNIT_ASSERT(!json_bool_member(R"({"a": {"json": true}})", "json"));  // not top-level
        CPPUNIT_ASSERT(!json_string_member(R"("command": "c")", "command"));    // not an object
        const auto command = json_string_member(R"({"command": "show \uzzzz"})", "command");
        CPPUNIT_ASSERT(command);
        CPPUNIT_ASSERT_EQUAL(std::string("show \\uzzzz"), *command);
    }

    void sa_spec_round_trip_and_validation() {
        config::StaticSa sa;
        sa.name = "client-in";
        sa.spi = 0x1001;
        sa.cipher = proto::EspCipher::AesCbc128;
        sa.integrity = proto::EspIntegrity::HmacSha256_128;
        sa.cipher_key.assign(16, 0x11);
        sa.integrity_key.assign(32, 0x22);
        sa.peer_address = 0xCB00710A;
        sa.udp_encap = true;
        sa.peer_port = 40000;
        shm::SaSpec spec = shm::to_sa_spec(sa);
        config::StaticSa back;
        const char* why = "";
        CPPUNIT_ASSERT_MESSAGE(why, shm::from_sa_spec(spec, back, &why));
        CPPUNIT_ASSERT_EQUAL(sa.name, back.name);
        CPPUNIT_ASSERT(back.cipher_key == sa.cipher_key && back.integrity_key == sa.integrity_key);
        CPPUNIT_ASSERT_EQUAL(uint16_t{40000}, back.peer_port);
        CPPUNIT_ASSERT(back.udp_encap);

        shm::SaSpec bad = spec;
        bad.cipher = 99;
        CPPUNIT_ASSERT(!shm::from_sa_spec(bad, back, &why));
        bad = spec;
        bad.integrity = 0;  // CBC without integrity
        CPPUNIT_ASSERT(!shm::from_sa_spec(bad, back, &why));
        bad = spec;
        bad.cipher_key_length = 200;
        CPPUNIT_ASSERT(!shm::from_sa_spec(bad, back, &why));
        bad = spec;
        bad.peer_address = 0;
        CPPUNIT_ASSERT(!shm::from_sa_spec(bad, back, &why));
        for (uint32_t window : {32u, 63u, 100u}) {
            bad = spec;
            bad.replay_window = window;
            CPPUNIT_ASSERT(!shm::from_sa_spec(bad, back, &why));
            CPPUNIT_ASSERT_EQUAL(std::string("replay window not a multiple of 64"), std::string(why));
        }
        bad = spec;
        bad.replay_window = 0;  // anti-replay off, said so
        CPPUNIT_ASSERT(shm::from_sa_spec(bad, back, &why));
        // A name of 40 characters is cut, terminated, to the field.
        sa.name = std::string(40, 'n');
        CPPUNIT_ASSERT_EQUAL(std::string(31, 'n'), shm::name_of(shm::to_sa_spec(sa).name));
    }

    void session_spec_validation() {
        config::StaticSession s;
        s.name = "c1";
        s.tunnel_id = 1;
        s.session_id = 2;
        s.client_ipv4 = 0x64400001;
        s.mtu = 1400;
        const shm::SessionSpec spec = shm::to_session_spec(s, 3, 4);
        CPPUNIT_ASSERT_EQUAL(uint32_t{3}, spec.sa_in);
        config::StaticSession back;
        const char* why = "";
        CPPUNIT_ASSERT_MESSAGE(why, shm::from_session_spec(spec, back, &why));
        CPPUNIT_ASSERT_EQUAL(uint32_t{0x64400001}, back.client_ipv4);
        auto refused = [&](auto change) {
            shm::SessionSpec bad = spec;
            change(bad);
            return !shm::from_session_spec(bad, back, &why);
        };
        CPPUNIT_ASSERT(refused([](shm::SessionSpec& b) { b.tunnel_id = 0; }));
        CPPUNIT_ASSERT(refused([](shm::SessionSpec& b) { b.client_ipv4 = 0; }));
        CPPUNIT_ASSERT(refused([](shm::SessionSpec& b) { b.client_ipv6_prefix_length = 129; }));
        CPPUNIT_ASSERT(refused([](shm::SessionSpec& b) { b.mtu = 100; }));
        CPPUNIT_ASSERT(refused([](shm::SessionSpec& b) { b.mss_clamp = 100; }));
    }

    void mgmt_config() {
        auto defaults = config::load_string(kDataplaneOnly, "t.conf");
        CPPUNIT_ASSERT(defaults.config);
        CPPUNIT_ASSERT_EQUAL(std::string("/run/concentrator/concentrator.sock"), defaults.config->mgmt.socket);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0600}, defaults.config->mgmt.socket_mode);
        auto set = config::load_string(std::string(kDataplaneOnly) +
                                           "mgmt: { socket = \"/tmp/x.sock\"; socket_mode = \"0660\"; };\n",
                                       "t.conf");
        CPPUNIT_ASSERT(set.config);
        CPPUNIT_ASSERT_EQUAL(std::string("/tmp/x.sock"), set.config->mgmt.socket);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0660}, set.config->mgmt.socket_mode);
        auto bad = config::load_string(std::string(kDataplaneOnly) +
                                           "mgmt: { socket = \"relative.sock\"; socket_mode = \"0999\"; sokcet = 1; };\n",
                                       "t.conf");
        CPPUNIT_ASSERT(!bad.config);
        std::string all;
        for (const auto& e : bad.errors) all += e + "\n";
        CPPUNIT_ASSERT_MESSAGE(all, all.find("t.conf:4: mgmt.socket: \"relative.sock\" is not an absolute path") !=
                                        std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(all, all.find("mgmt.socket_mode: \"0999\" is not an octal") != std::string::npos);
        CPPUNIT_ASSERT_MESSAGE(all, all.find("mgmt.sokcet: unknown setting") != std::string::npos);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ControlplaneTest);
