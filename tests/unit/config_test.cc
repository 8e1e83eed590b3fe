// The configuration loader: the example file loads with the values it shows,
// and every kind of mistake is reported as "file:line: setting: what".

#include <cppunit/extensions/HelperMacros.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "common/config/config.h"

namespace {

using namespace conc::config;
using conc::proto::EspCipher;
using conc::proto::EspIntegrity;

// Line 1: the smallest valid dataplane section.
const std::string kDataplane =
    "dataplane: { workers = [1]; access: { device = \"net_null0\"; address = \"198.51.100.1/24\"; }; "
    "core: { device = \"net_null1\"; address = \"10.0.0.1/24\"; }; };\n";

// Static SAs, one per line from line 3 on.
std::string with_sas(const std::string& sas) { return kDataplane + "ipsec: { static_sas = (\n" + sas + "\n); };\n"; }

// One inbound AES-GCM SA on one line; `extra` adds or overrides nothing, it appends settings.
std::string gcm_sa(const std::string& name, const std::string& direction, const std::string& spi,
                   const std::string& peer, const std::string& extra = "") {
    return "{ name = \"" + name + "\"; direction = \"" + direction + "\"; spi = " + spi +
           "; cipher = \"aes128gcm16\"; cipher_key = \"0x000102030405060708090a0b0c0d0e0f10111213\"; peer = \"" + peer +
           "\"; " + extra + "}";
}

// Lines 3-6: static SAs for two clients, in1/out1 (203.0.113.10) and in2/out2
// (203.0.113.11). Line 8: the l2tp section with `l2tp_settings`; static
// sessions one per line from line 9 on.
std::string with_sessions(const std::string& sessions, const std::string& l2tp_settings = "") {
    return kDataplane + "ipsec: { static_sas = (\n" + gcm_sa("in1", "in", "0x1001", "203.0.113.10") + ",\n" +
           gcm_sa("out1", "out", "0x2001", "203.0.113.10") + ",\n" + gcm_sa("in2", "in", "0x1002", "203.0.113.11") +
           ",\n" + gcm_sa("out2", "out", "0x2002", "203.0.113.11") + "\n); };\n" +
           "l2tp: { " + l2tp_settings + "static_sessions = (\n" + sessions + "\n); };\n";
}

using Settings = std::vector<std::pair<std::string, std::string>>;

// One static session on one line: a valid session "s" on in1/out1, with
// `changes` replacing settings, adding new ones, or (given "") leaving them out.
std::string session(const Settings& changes = {}) {
    Settings settings = {{"name", "\"s\""},        {"sa_in", "\"in1\""},           {"sa_out", "\"out1\""},
                         {"tunnel_id", "1"},        {"session_id", "1"},           {"peer_tunnel_id", "100"},
                         {"peer_session_id", "200"}, {"client_ipv4", "\"100.64.0.1\""}};
    for (const auto& [key, value] : changes) {
        const std::string& wanted = key;  // clang 14 cannot capture a structured binding
        auto it = std::find_if(settings.begin(), settings.end(), [&](const auto& kv) { return kv.first == wanted; });
        if (it == settings.end())
            settings.emplace_back(key, value);
        else
            it->second = value;
    }
    std::string text = "{ ";
    for (const auto& [key, value] : settings)
        if (!value.empty()) text += key + " = " + value + "; ";
    return text + "}";
}

// A dataplane section on line 1 with `extra` settings.
std::string dataplane_with(const std::string& extra) {
    return "dataplane: { workers = [1]; " + extra + " access: { device = \"a\"; address = \"1.2.3.4\"; }; " +
           "core: { device = \"b\"; address = \"10.0.0.1\"; }; };\n";
}

std::string all_errors(const LoadResult& r) {
    std::string s;
    for (const auto& e : r.errors) s += "\n  " + e;
    return s.empty() ? " (no errors)" : s;
}

bool has_error(const LoadResult& r, const std::string& substring) {
    for (const auto& e : r.errors)
        if (e.find(substring) != std::string::npos) return true;
    return false;
}

#define ASSERT_LOADS(result) CPPUNIT_ASSERT_MESSAGE("expected no errors:" + all_errors(result), (result).config)

#define ASSERT_ERROR(result, substring)                                                                  \
    do {                                                                                                 \
        CPPUNIT_ASSERT_MESSAGE("a failed load must not return a config", !(result).config);            \
        CPPUNIT_ASSERT_MESSAGE(std::string("expected an error containing '") + (substring) + "', got:" + \
                                   all_errors(result),                                                   \
                               has_error((result), (substring)));                                        \
    } while (0)

// The repository root: where conf/concentrator.conf is. Tests may run from
// the build directory, so look upwards from the working directory.
std::filesystem::path source_root() {
#ifdef CONC_SOURCE_ROOT
    return CONC_SOURCE_ROOT;
#else
    for (auto dir = std::filesystem::current_path(); !dir.empty(); dir = dir.parent_path()) {
        if (std::filesystem::exists(dir / "conf/concentrator.conf") &&
            std::filesystem::exists(dir / "common/config/config.h"))
            return dir;
        if (dir == dir.parent_path()) break;
    }
    return {};
#endif
}

int line_containing(const std::filesystem::path& file, const std::string& text) {
    std::ifstream in(file);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n)
        if (line.find(text) != std::string::npos) return n;
    return 0;
}

}  // namespace

class ConfigTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ConfigTest);
    CPPUNIT_TEST(example_file_loads);
    CPPUNIT_TEST(minimal_config_takes_defaults);
    CPPUNIT_TEST(static_sa_defaults);
    CPPUNIT_TEST(ipv4_helpers);
    CPPUNIT_TEST(syntax_error_names_line);
    CPPUNIT_TEST(duplicate_setting_is_syntax_error);
    CPPUNIT_TEST(missing_file);
    CPPUNIT_TEST(include_is_relative_to_main_file);
    CPPUNIT_TEST(unknown_settings_at_every_level);
    CPPUNIT_TEST(wrong_types);
    CPPUNIT_TEST(integers_out_of_range);
    CPPUNIT_TEST(integer_too_large_for_libconfig_is_caught);
    CPPUNIT_TEST(missing_dataplane_section);
    CPPUNIT_TEST(missing_port_settings);
    CPPUNIT_TEST(same_device_for_both_ports);
    CPPUNIT_TEST(workers_validated);
    CPPUNIT_TEST(bad_ipv4_address_prefix);
    CPPUNIT_TEST(bad_mac_address);
    CPPUNIT_TEST(descriptors_power_of_two);
    CPPUNIT_TEST(eal_args_are_strings);
    CPPUNIT_TEST(replay_window_blocks_of_64);
    CPPUNIT_TEST(spi_forms_accepted);
    CPPUNIT_TEST(spi_reserved_and_range);
    CPPUNIT_TEST(spi_unique_per_direction);
    CPPUNIT_TEST(sa_name_required_and_unique);
    CPPUNIT_TEST(names_fit_the_shared_fields);
    CPPUNIT_TEST(static_entries_fit_the_tables);
    CPPUNIT_TEST(sa_direction);
    CPPUNIT_TEST(unknown_cipher_lists_valid_names);
    CPPUNIT_TEST(unknown_integrity_lists_valid_names);
    CPPUNIT_TEST(aead_cipher_takes_no_integrity);
    CPPUNIT_TEST(non_aead_cipher_needs_integrity);
    CPPUNIT_TEST(cipher_key_length);
    CPPUNIT_TEST(integrity_key_length_and_presence);
    CPPUNIT_TEST(keys_must_be_hex_and_are_not_echoed);
    CPPUNIT_TEST(sa_addresses);
    CPPUNIT_TEST(outbound_peers_may_repeat);
    CPPUNIT_TEST(direction_specific_settings);
    CPPUNIT_TEST(ports_only_with_udp_encap);
    CPPUNIT_TEST(multiple_errors_collected_in_line_order);
    CPPUNIT_TEST(max_sessions_default_and_range);
    CPPUNIT_TEST(static_session_defaults);
    CPPUNIT_TEST(static_session_all_settings);
    CPPUNIT_TEST(l2tp_wrong_types);
    CPPUNIT_TEST(l2tp_unknown_settings);
    CPPUNIT_TEST(session_required_settings);
    CPPUNIT_TEST(session_name_unique);
    CPPUNIT_TEST(session_ids_range);
    CPPUNIT_TEST(session_sa_in_must_be_inbound);
    CPPUNIT_TEST(session_sa_out_must_be_outbound);
    CPPUNIT_TEST(session_sas_must_have_the_same_peer);
    CPPUNIT_TEST(session_ids_unique_per_inbound_sa);
    CPPUNIT_TEST(session_needs_a_client_address);
    CPPUNIT_TEST(session_client_ipv4_valid_and_unique);
    CPPUNIT_TEST(session_ipv6_prefix_syntax);
    CPPUNIT_TEST(session_ipv6_prefix_host_bits);
    CPPUNIT_TEST(session_ipv6_prefix_unique);
    CPPUNIT_TEST(session_mtu_and_mss_clamp);
    CPPUNIT_TEST(session_not_reported_again_for_a_rejected_sa);
    CPPUNIT_TEST(port_gateways_and_ipv6_address);
    CPPUNIT_TEST(port_gateway_errors);
    CPPUNIT_TEST_SUITE_END();

public:
    void example_file_loads() {
        auto root = source_root();
        CPPUNIT_ASSERT_MESSAGE("cannot find conf/concentrator.conf above the working directory", !root.empty());
        auto path = root / "conf/concentrator.conf";
        auto r = load_file(path.string());
        ASSERT_LOADS(r);
        const Config& c = *r.config;
        CPPUNIT_ASSERT_EQUAL(path.string(), c.path);

        const auto& dp = c.dataplane;
        CPPUNIT_ASSERT((dp.eal_args == std::vector<std::string>{"-l", "0-1", "--file-prefix", "concentrator"}));
        CPPUNIT_ASSERT((dp.worker_lcores == std::vector<unsigned>{1}));
        CPPUNIT_ASSERT_EQUAL(uint32_t{16383}, dp.mbufs);
        CPPUNIT_ASSERT_EQUAL(uint16_t{32}, dp.burst_size);
        CPPUNIT_ASSERT_EQUAL(uint32_t{204800}, dp.max_sas);
        CPPUNIT_ASSERT_EQUAL(uint32_t{131072}, dp.max_sessions);
        CPPUNIT_ASSERT_EQUAL(uint32_t{10}, dp.stats_interval);

        CPPUNIT_ASSERT_EQUAL(std::string("0000:03:00.0"), dp.access.device);
        CPPUNIT_ASSERT_EQUAL(std::string("198.51.100.1"), format_ipv4(dp.access.address));
        CPPUNIT_ASSERT_EQUAL(uint8_t{24}, dp.access.prefix_length);
        CPPUNIT_ASSERT_EQUAL(std::string("198.51.100.254"), format_ipv4(dp.access.gateway));
        CPPUNIT_ASSERT((dp.access.gateway_mac == MacAddress{}));
        CPPUNIT_ASSERT_EQUAL(uint16_t{1500}, dp.access.mtu);
        CPPUNIT_ASSERT_EQUAL(std::string("0000:03:00.1"), dp.core.device);
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.1"), format_ipv4(dp.core.address));
        CPPUNIT_ASSERT_EQUAL(uint8_t{24}, dp.core.prefix_length);
        CPPUNIT_ASSERT_EQUAL(std::string("10.0.0.254"), format_ipv4(dp.core.gateway));
        CPPUNIT_ASSERT_EQUAL(uint8_t{64}, dp.core.ipv6_prefix_length);
        CPPUNIT_ASSERT_EQUAL(uint8_t{0xfe}, dp.core.gateway_ipv6[15]);

        CPPUNIT_ASSERT_EQUAL(uint32_t{1024}, c.ipsec.replay_window);
        CPPUNIT_ASSERT_EQUAL(size_t{2}, c.ipsec.static_sas.size());

        const StaticSa& in = c.ipsec.static_sas[0];
        CPPUNIT_ASSERT_EQUAL(std::string("client1-in"), in.name);
        CPPUNIT_ASSERT(in.direction == SaDirection::Inbound);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0x1001}, in.spi);
        CPPUNIT_ASSERT(in.cipher == EspCipher::AesGcm128);
        CPPUNIT_ASSERT(in.integrity == EspIntegrity::None);
        CPPUNIT_ASSERT_EQUAL(size_t{20}, in.cipher_key.size());
        CPPUNIT_ASSERT_EQUAL(uint8_t{0x01}, in.cipher_key[0]);
        CPPUNIT_ASSERT_EQUAL(uint8_t{0x04}, in.cipher_key[19]);
        CPPUNIT_ASSERT(in.integrity_key.empty());
        CPPUNIT_ASSERT_EQUAL(dp.access.address, in.local_address);
        CPPUNIT_ASSERT_EQUAL(std::string("203.0.113.10"), format_ipv4(in.peer_address));
        CPPUNIT_ASSERT(in.udp_encap);
        CPPUNIT_ASSERT_EQUAL(uint16_t{4500}, in.peer_port);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0}, in.replay_window);
        // The group's "{" is on the line before its name.
        CPPUNIT_ASSERT_EQUAL(line_containing(path, "name = \"client1-in\"") - 1, in.line);

        const StaticSa& out = c.ipsec.static_sas[1];
        CPPUNIT_ASSERT_EQUAL(std::string("client1-out"), out.name);
        CPPUNIT_ASSERT(out.direction == SaDirection::Outbound);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0x2001}, out.spi);
        CPPUNIT_ASSERT(out.cipher == EspCipher::AesCbc128);
        CPPUNIT_ASSERT(out.integrity == EspIntegrity::HmacSha1_96);
        CPPUNIT_ASSERT_EQUAL(size_t{16}, out.cipher_key.size());
        CPPUNIT_ASSERT_EQUAL(uint8_t{0xff}, out.cipher_key[15]);
        CPPUNIT_ASSERT_EQUAL(size_t{20}, out.integrity_key.size());
        CPPUNIT_ASSERT_EQUAL(uint8_t{0x99}, out.integrity_key[19]);
        CPPUNIT_ASSERT_EQUAL(uint32_t{1}, out.first_sequence);
        CPPUNIT_ASSERT_EQUAL(line_containing(path, "name = \"client1-out\"") - 1, out.line);

        CPPUNIT_ASSERT_EQUAL(size_t{1}, c.l2tp.static_sessions.size());
        const StaticSession& session = c.l2tp.static_sessions[0];
        CPPUNIT_ASSERT_EQUAL(std::string("client1"), session.name);
        CPPUNIT_ASSERT_EQUAL(std::string("client1-in"), session.sa_in);
        CPPUNIT_ASSERT_EQUAL(std::string("client1-out"), session.sa_out);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1}, session.tunnel_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1}, session.session_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{4001}, session.peer_tunnel_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{4002}, session.peer_session_id);
        CPPUNIT_ASSERT_EQUAL(std::string("100.64.0.10"), format_ipv4(session.client_ipv4));
        CPPUNIT_ASSERT((session.client_ipv6_prefix ==
                        std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
        CPPUNIT_ASSERT_EQUAL(uint8_t{64}, session.client_ipv6_prefix_length);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1400}, session.mtu);
        CPPUNIT_ASSERT_EQUAL(uint16_t{0}, session.mss_clamp);
        CPPUNIT_ASSERT(!session.sequencing);
        CPPUNIT_ASSERT_EQUAL(line_containing(path, "name = \"client1\"") - 1, session.line);
    }

    void minimal_config_takes_defaults() {
        auto r = load_string(kDataplane, "t.conf");
        ASSERT_LOADS(r);
        const Config& c = *r.config;
        CPPUNIT_ASSERT_EQUAL(std::string("t.conf"), c.path);
        CPPUNIT_ASSERT(c.dataplane.eal_args.empty());
        CPPUNIT_ASSERT_EQUAL(uint32_t{16383}, c.dataplane.mbufs);
        CPPUNIT_ASSERT_EQUAL(uint16_t{32}, c.dataplane.burst_size);
        CPPUNIT_ASSERT_EQUAL(uint32_t{204800}, c.dataplane.max_sas);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0}, c.dataplane.stats_interval);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1500}, c.dataplane.core.mtu);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1024}, c.dataplane.core.rx_descriptors);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1024}, c.dataplane.core.tx_descriptors);
        CPPUNIT_ASSERT((c.dataplane.core.gateway_mac == MacAddress{}));
        CPPUNIT_ASSERT_EQUAL(uint32_t{1024}, c.ipsec.replay_window);
        CPPUNIT_ASSERT(c.ipsec.static_sas.empty());
        CPPUNIT_ASSERT_EQUAL(uint32_t{131072}, c.dataplane.max_sessions);
        CPPUNIT_ASSERT(c.l2tp.static_sessions.empty());

        // An address without a prefix length is a /32.
        auto r32 = load_string(
            "dataplane: { workers = [2, 3]; access: { device = \"a\"; address = \"192.0.2.7\"; mtu = 9000; "
            "rx_descriptors = 64; tx_descriptors = 16384; }; core: { device = \"b\"; address = \"10.0.0.1/0\"; }; };",
            "t.conf");
        ASSERT_LOADS(r32);
        CPPUNIT_ASSERT_EQUAL(uint8_t{32}, r32.config->dataplane.access.prefix_length);
        CPPUNIT_ASSERT_EQUAL(uint8_t{0}, r32.config->dataplane.core.prefix_length);
        CPPUNIT_ASSERT_EQUAL(uint16_t{9000}, r32.config->dataplane.access.mtu);
        CPPUNIT_ASSERT_EQUAL(uint16_t{64}, r32.config->dataplane.access.rx_descriptors);
        CPPUNIT_ASSERT_EQUAL(uint16_t{16384}, r32.config->dataplane.access.tx_descriptors);
        CPPUNIT_ASSERT((r32.config->dataplane.worker_lcores == std::vector<unsigned>{2, 3}));
    }

    void static_sa_defaults() {
        auto r = load_string(
            with_sas(gcm_sa("a", "in", "0x1000", "203.0.113.5") + ",\n" +
                     gcm_sa("b", "out", "0x1000", "203.0.113.5", "local = \"198.51.100.9\"; udp_encap = true; "
                                                                  "local_port = 4501; peer_port = 61000; "
                                                                  "first_sequence = 100;") +
                     ",\n" + gcm_sa("c", "in", "0x1001", "203.0.113.6", "replay_window = 4096;")),
            "t.conf");
        ASSERT_LOADS(r);
        const auto& sas = r.config->ipsec.static_sas;
        CPPUNIT_ASSERT_EQUAL(size_t{3}, sas.size());
        CPPUNIT_ASSERT_EQUAL(std::string("198.51.100.1"), format_ipv4(sas[0].local_address));
        CPPUNIT_ASSERT(sas[0].integrity == EspIntegrity::None);
        CPPUNIT_ASSERT(!sas[0].udp_encap);
        CPPUNIT_ASSERT_EQUAL(uint16_t{4500}, sas[0].local_port);
        CPPUNIT_ASSERT_EQUAL(uint16_t{4500}, sas[0].peer_port);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0}, sas[0].replay_window);
        CPPUNIT_ASSERT_EQUAL(3, sas[0].line);

        CPPUNIT_ASSERT_EQUAL(std::string("198.51.100.9"), format_ipv4(sas[1].local_address));
        CPPUNIT_ASSERT(sas[1].udp_encap);
        CPPUNIT_ASSERT_EQUAL(uint16_t{4501}, sas[1].local_port);
        CPPUNIT_ASSERT_EQUAL(uint16_t{61000}, sas[1].peer_port);
        CPPUNIT_ASSERT_EQUAL(uint32_t{100}, sas[1].first_sequence);
        CPPUNIT_ASSERT_EQUAL(4, sas[1].line);

        CPPUNIT_ASSERT_EQUAL(uint32_t{4096}, sas[2].replay_window);
    }

    void ipv4_helpers() {
        CPPUNIT_ASSERT_EQUAL(uint32_t{0xC0000201}, parse_ipv4("192.0.2.1").value_or(0));
        CPPUNIT_ASSERT_EQUAL(uint32_t{0}, parse_ipv4("0.0.0.0").value_or(1));
        CPPUNIT_ASSERT_EQUAL(uint32_t{0xFFFFFFFF}, parse_ipv4("255.255.255.255").value_or(0));
        for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "1.2.3.256", "1.2.3.", ".1.2.3", "1..2.3", "01.2.3.4",
                                "1.2.3.4 ", "a.b.c.d", "1.2.3.4/24", "-1.2.3.4", "1.2.3.1000"})
            CPPUNIT_ASSERT_MESSAGE(std::string("accepted \"") + bad + "\"", !parse_ipv4(bad));
        CPPUNIT_ASSERT_EQUAL(std::string("192.0.2.1"), format_ipv4(0xC0000201));
        CPPUNIT_ASSERT_EQUAL(std::string("0.0.0.0"), format_ipv4(0));
        CPPUNIT_ASSERT_EQUAL(std::string("255.255.255.255"), format_ipv4(0xFFFFFFFF));
    }

    void syntax_error_names_line() {
        auto r = load_string(kDataplane + "ipsec: {\n  replay_window = ;\n};\n", "t.conf");
        CPPUNIT_ASSERT(!r.config);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, r.errors.size());
        CPPUNIT_ASSERT_EQUAL(std::string("t.conf:3: syntax error"), r.errors[0]);
    }

    void duplicate_setting_is_syntax_error() {
        auto r = load_string(kDataplane + "ipsec: {\n replay_window = 64;\n replay_window = 128;\n};\n", "t.conf");
        ASSERT_ERROR(r, "t.conf:4: syntax error: duplicate setting name");
    }

    void missing_file() {
        auto r = load_file("/nonexistent/concentrator.conf");
        ASSERT_ERROR(r, "/nonexistent/concentrator.conf: cannot read: No such file or directory");
    }

    void include_is_relative_to_main_file() {
        char tmpl[] = "/tmp/config_test.XXXXXX";
        CPPUNIT_ASSERT(mkdtemp(tmpl));
        std::filesystem::path dir = tmpl;
        std::ofstream(dir / "main.conf") << kDataplane << "@include \"ipsec.inc\"\n";
        std::ofstream(dir / "ipsec.inc") << "# static SAs\nipsec: { replay_window = 100; };\n";
        auto bad = load_file((dir / "main.conf").string());
        ASSERT_ERROR(bad, (dir / "ipsec.inc").string() + ":2: ipsec.replay_window: 100 is not a multiple of 64");

        std::ofstream(dir / "ipsec.inc") << "ipsec: { replay_window = 128; };\n";
        auto good = load_file((dir / "main.conf").string());
        ASSERT_LOADS(good);
        CPPUNIT_ASSERT_EQUAL(uint32_t{128}, good.config->ipsec.replay_window);
        std::filesystem::remove_all(dir);
    }

    void unknown_settings_at_every_level() {
        auto r = load_string(
            "dataplane: { workers = [1]; acess: { device = \"a\"; }; burstsize = 4;\n"
            "access: { device = \"a\"; address = \"1.2.3.4\"; gatway_mac = \"02:00:00:00:00:01\"; };\n"
            "core: { device = \"b\"; address = \"10.0.0.1/24\"; }; };\n"
            "ike: { };\n" +
                std::string("ipsec: { window = 64; static_sas = (\n") +
                gcm_sa("a", "in", "0x1000", "203.0.113.5", "lifetime = 3600;") + "\n); };\n",
            "t.conf");
        ASSERT_ERROR(r, "t.conf:1: dataplane.acess: unknown setting (did you mean \"access\"?)");
        ASSERT_ERROR(r, "t.conf:1: dataplane.burstsize: unknown setting (did you mean \"burst_size\"?)");
        ASSERT_ERROR(r, "t.conf:2: dataplane.access.gatway_mac: unknown setting (did you mean \"gateway_mac\"?)");
        ASSERT_ERROR(r, "t.conf:4: ike: unknown setting");
        ASSERT_ERROR(r, "t.conf:5: ipsec.window: unknown setting");
        ASSERT_ERROR(r, "t.conf:6: ipsec.static_sas[0].lifetime: unknown setting");
        CPPUNIT_ASSERT_EQUAL(size_t{6}, r.errors.size());
    }

    void wrong_types() {
        auto r = load_string(
            "dataplane: { workers = [1]; mbufs = 1.5;\n"
            "access: { device = 7; address = \"1.2.3.4\"; mtu = \"1500\"; };\n"
            "core = \"eth1\"; };\n"
            "ipsec: { static_sas = (\n" +
                gcm_sa("a", "in", "0x1000", "203.0.113.5", "udp_encap = 1;") + ",\n" + "\"oops\" ); };\n",
            "t.conf");
        ASSERT_ERROR(r, "t.conf:1: dataplane.mbufs: expected an integer, got a floating-point number");
        ASSERT_ERROR(r, "t.conf:2: dataplane.access.device: expected a string, got an integer");
        ASSERT_ERROR(r, "t.conf:2: dataplane.access.mtu: expected an integer, got a string");
        ASSERT_ERROR(r, "t.conf:3: dataplane.core: expected a group { ... }, got a string");
        ASSERT_ERROR(r, "t.conf:5: ipsec.static_sas[0].udp_encap: expected true or false, got an integer");
        ASSERT_ERROR(r, "t.conf:6: ipsec.static_sas[1]: expected a group { ... }, got a string");

        auto r2 = load_string(kDataplane + "ipsec: { static_sas = { a = 1; }; };", "t.conf");
        ASSERT_ERROR(r2, "t.conf:2: ipsec.static_sas: expected a list of groups");
    }

    void integers_out_of_range() {
        auto r = load_string(
            "dataplane: { workers = [1];\n"
            "mbufs = 1022;\n"
            "burst_size = 257;\n"
            "max_sas = 0;\n"
            "stats_interval = 86401;\n"
            "access: { device = \"a\"; address = \"1.2.3.4\";\n"
            "mtu = 575; };\n"
            "core: { device = \"b\"; address = \"10.0.0.1/24\";\n"
            "mtu = 9001; }; };\n",
            "t.conf");
        ASSERT_ERROR(r, "t.conf:2: dataplane.mbufs: 1022 is out of range (1023..16777216)");
        ASSERT_ERROR(r, "t.conf:3: dataplane.burst_size: 257 is out of range (1..256)");
        ASSERT_ERROR(r, "t.conf:4: dataplane.max_sas: 0 is out of range (1..4194304)");
        ASSERT_ERROR(r, "t.conf:5: dataplane.stats_interval: 86401 is out of range (0..86400)");
        ASSERT_ERROR(r, "t.conf:7: dataplane.access.mtu: 575 is out of range (576..9000)");
        ASSERT_ERROR(r, "t.conf:9: dataplane.core.mtu: 9001 is out of range (576..9000)");
        CPPUNIT_ASSERT_EQUAL(size_t{6}, r.errors.size());

        // The upper bounds themselves are fine, also as 64-bit literals.
        auto ok = load_string(
            "dataplane: { workers = [1]; mbufs = 16777216L; burst_size = 256; max_sas = 4194304; "
            "stats_interval = 86400; access: { device = \"a\"; address = \"1.2.3.4\"; }; "
            "core: { device = \"b\"; address = \"10.0.0.1/24\"; }; };",
            "t.conf");
        ASSERT_LOADS(ok);
        CPPUNIT_ASSERT_EQUAL(uint32_t{16777216}, ok.config->dataplane.mbufs);
    }

    void integer_too_large_for_libconfig_is_caught() {
        // libconfig 1.5 keeps 4294983679 (2^32 + 16383) as 16383 and 4294967552 as 256:
        // the loader must judge the value as written.
        auto r = load_string(
            "dataplane: { workers = [1, 4294967297]; mbufs = 4294983679;\n"
            "access: { device = \"a\"; address = \"1.2.3.4\"; }; core: { device = \"b\"; address = \"10.0.0.1\"; }; };\n"
            "ipsec: { static_sas = (\n" +
                gcm_sa("a", "in", "4294967552", "203.0.113.5") + "\n); };\n",
            "t.conf");
        ASSERT_ERROR(r, "t.conf:1: dataplane.workers[1]: 4294967297 is out of range (0..1023)");
        ASSERT_ERROR(r, "t.conf:1: dataplane.mbufs: 4294983679 is out of range (1023..16777216)");
        ASSERT_ERROR(r, "t.conf:4: ipsec.static_sas[0].spi: 4294967552 is out of range (256..4294967295");
        CPPUNIT_ASSERT_EQUAL(size_t{3}, r.errors.size());

        // The last element of a list, with the closing bracket on the next line.
        auto last = load_string(
            "dataplane: { workers = [1,\n"
            "  4294967298\n"
            "];\n"
            "access: { device = \"a\"; address = \"1.2.3.4\"; }; core: { device = \"b\"; address = \"10.0.0.1\"; }; };\n",
            "t.conf");
        ASSERT_ERROR(last, "t.conf:2: dataplane.workers[1]: 4294967298 is out of range (0..1023)");

        // Numbers in comments, strings, names and floats are not integer settings.
        auto noise = load_string(
            "# 1 2 3\n"
            "/* 4\n 5 */ dataplane: { // 6\n"
            "eal_args = [ \"-n\", \"4\", \"x\\\"7\" ]; burst_size = .5; max_sas = 1e3; x-1 = 2.;\n"
            "workers = [ 1 ]; access: { device = \"a\"; address = \"1.2.3.4\"; };\n"
            "core: { device = \"b\"; address = \"10.0.0.1\"; }; mbufs = 4294983679; };\n",
            "t.conf");
        ASSERT_ERROR(noise, "t.conf:4: dataplane.burst_size: expected an integer, got a floating-point number");
        ASSERT_ERROR(noise, "t.conf:4: dataplane.max_sas: expected an integer, got a floating-point number");
        ASSERT_ERROR(noise, "t.conf:4: dataplane.x-1: unknown setting");
        ASSERT_ERROR(noise, "t.conf:6: dataplane.mbufs: 4294983679 is out of range (1023..16777216)");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(noise), size_t{4}, noise.errors.size());
    }

    void missing_dataplane_section() {
        auto r = load_string("ipsec: { replay_window = 64; };\n", "t.conf");
        ASSERT_ERROR(r, "t.conf:1: dataplane: missing (required)");
        CPPUNIT_ASSERT_EQUAL(size_t{1}, r.errors.size());
    }

    void missing_port_settings() {
        auto r = load_string(
            "dataplane: {\n"
            "  access: { mtu = 1500; };\n"
            "  core: {\n"
            "    device = \"b\";\n"
            "  };\n"
            "};\n",
            "t.conf");
        ASSERT_ERROR(r, "t.conf:1: dataplane.workers: missing (required)");
        ASSERT_ERROR(r, "t.conf:2: dataplane.access.device: missing (required)");
        ASSERT_ERROR(r, "t.conf:2: dataplane.access.address: missing (required)");
        ASSERT_ERROR(r, "t.conf:3: dataplane.core.address: missing (required)");
        CPPUNIT_ASSERT_EQUAL(size_t{4}, r.errors.size());

        auto no_core = load_string("dataplane: { workers = [1]; access: { device = \"a\"; address = \"1.2.3.4\"; }; };",
                                   "t.conf");
        ASSERT_ERROR(no_core, "t.conf:1: dataplane.core: missing (required)");
    }

    void same_device_for_both_ports() {
        auto r = load_string(
            "dataplane: { workers = [1]; access: { device = \"0000:03:00.0\"; address = \"1.2.3.4\"; };\n"
            "core: { device = \"0000:03:00.0\"; address = \"10.0.0.1/24\"; }; };\n",
            "t.conf");
        ASSERT_ERROR(r, "t.conf:2: dataplane.core.device: \"0000:03:00.0\" is also the access port's device");
        auto empty = load_string(
            "dataplane: { workers = [1]; access: { device = \"\"; address = \"1.2.3.4\"; };\n"
            "core: { device = \"b\"; address = \"10.0.0.1/24\"; }; };\n",
            "t.conf");
        ASSERT_ERROR(empty, "t.conf:1: dataplane.access.device: must not be empty");
    }

    void workers_validated() {
        auto ports = std::string(
            "access: { device = \"a\"; address = \"1.2.3.4\"; }; core: { device = \"b\"; address = \"10.0.0.1\"; };");
        auto empty = load_string("dataplane: { workers = [];\n" + ports + " };", "t.conf");
        ASSERT_ERROR(empty, "t.conf:1: dataplane.workers: must list at least one lcore");

        auto bad = load_string("dataplane: { workers = [1,\n 2,\n 1,\n 1024,\n -1];\n" + ports + " };", "t.conf");
        ASSERT_ERROR(bad, "t.conf:3: dataplane.workers[2]: lcore 1 is listed twice");
        ASSERT_ERROR(bad, "t.conf:4: dataplane.workers[3]: 1024 is out of range (0..1023)");
        ASSERT_ERROR(bad, "t.conf:5: dataplane.workers[4]: -1 is out of range (0..1023)");
        CPPUNIT_ASSERT_EQUAL(size_t{3}, bad.errors.size());

        std::string many;
        for (int i = 0; i < 65; ++i) many += (i ? ", " : "") + std::to_string(i);
        auto too_many = load_string("dataplane: { workers = [" + many + "];\n" + ports + " };", "t.conf");
        ASSERT_ERROR(too_many, "t.conf:1: dataplane.workers: 65 workers listed, at most 64");

        auto not_list = load_string("dataplane: { workers = 1;\n" + ports + " };", "t.conf");
        ASSERT_ERROR(not_list, "t.conf:1: dataplane.workers: expected a list of lcore ids");

        // A list ( ... ) works as well as an array [ ... ].
        auto list = load_string("dataplane: { workers = (1, 2);\n" + ports + " };", "t.conf");
        ASSERT_LOADS(list);
    }

    void bad_ipv4_address_prefix() {
        auto r = load_string(
            "dataplane: { workers = [1];\n"
            "access: { device = \"a\"; address = \"10.0.0.300/24\"; };\n"
            "core: { device = \"b\"; address = \"10.0.0.1/33\"; }; };\n",
            "t.conf");
        ASSERT_ERROR(r, "t.conf:2: dataplane.access.address: \"10.0.0.300/24\" is not an IPv4 address/prefix");
        ASSERT_ERROR(r, "t.conf:3: dataplane.core.address: \"10.0.0.1/33\" is not an IPv4 address/prefix");

        for (const char* bad : {"10.0.0.1/", "10.0.0.1/24/8", "10.0.0.1/-1", "10.0.0.1 /24", "/24", "10.0.0/24"}) {
            auto r2 = load_string(
                "dataplane: { workers = [1]; access: { device = \"a\"; address = \"" + std::string(bad) +
                    "\"; }; core: { device = \"b\"; address = \"10.0.0.1\"; }; };",
                "t.conf");
            ASSERT_ERROR(r2, "dataplane.access.address: \"" + std::string(bad) + "\" is not an IPv4 address/prefix");
        }

        auto multicast = load_string(
            "dataplane: { workers = [1]; access: { device = \"a\"; address = \"224.0.0.5/24\"; };\n"
            "core: { device = \"b\"; address = \"0.0.0.0/0\"; }; };",
            "t.conf");
        ASSERT_ERROR(multicast, "t.conf:1: dataplane.access.address: \"224.0.0.5/24\" is not a unicast address");
        ASSERT_ERROR(multicast, "t.conf:2: dataplane.core.address: \"0.0.0.0/0\" is not a unicast address");
    }

    void bad_mac_address() {
        for (const char* bad : {"02:00:00:00:00", "02:00:00:00:00:01:02", "02-00-00-00-00-01", "0g:00:00:00:00:01",
                                "2:0:0:0:0:1", ""}) {
            auto r = load_string(
                "dataplane: { workers = [1]; access: { device = \"a\"; address = \"1.2.3.4\"; };\n"
                "core: { device = \"b\"; address = \"10.0.0.1\"; gateway_mac = \"" +
                    std::string(bad) + "\"; }; };",
                "t.conf");
            ASSERT_ERROR(r, "t.conf:2: dataplane.core.gateway_mac: \"" + std::string(bad) +
                                "\" is not a MAC address (aa:bb:cc:dd:ee:ff)");
        }
        auto upper = load_string(
            "dataplane: { workers = [1]; access: { device = \"a\"; address = \"1.2.3.4\"; gateway_mac = "
            "\"AA:bb:0C:dd:Ee:ff\"; }; core: { device = \"b\"; address = \"10.0.0.1\"; }; };",
            "t.conf");
        ASSERT_LOADS(upper);
        CPPUNIT_ASSERT((upper.config->dataplane.access.gateway_mac == MacAddress{0xaa, 0xbb, 0x0c, 0xdd, 0xee, 0xff}));
    }

    void port_gateways_and_ipv6_address() {
        auto r = load_string(
            "dataplane: { workers = [1]; access: { device = \"a\"; address = \"198.51.100.1/24\"; gateway = "
            "\"198.51.100.254\"; };\n"
            "core: { device = \"b\"; address = \"10.0.0.1/24\"; gateway = \"10.0.0.254\"; ipv6_address = "
            "\"2001:db8:ffff::1/64\"; gateway_ipv6 = \"fe80::1\"; }; };",
            "t.conf");
        ASSERT_LOADS(r);
        const auto& dp = r.config->dataplane;
        CPPUNIT_ASSERT_EQUAL(Ipv4Address{0xC63364FE}, dp.access.gateway);
        CPPUNIT_ASSERT_EQUAL(Ipv4Address{0x0A0000FE}, dp.core.gateway);
        CPPUNIT_ASSERT_EQUAL(uint8_t{64}, dp.core.ipv6_prefix_length);
        CPPUNIT_ASSERT((dp.core.ipv6_address == std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0,
                                                                        0, 0, 0, 0, 0, 1}));
        CPPUNIT_ASSERT((dp.core.gateway_ipv6 == std::array<uint8_t, 16>{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                                        0, 1}));
        CPPUNIT_ASSERT_EQUAL(uint8_t{0}, dp.access.ipv6_prefix_length);
        CPPUNIT_ASSERT((dp.access.gateway_mac == MacAddress{}));
    }

    void port_gateway_errors() {
        auto r = load_string(
            "dataplane: { workers = [1]; access: { device = \"a\"; address = \"198.51.100.1/24\";\n"
            "gateway = \"198.51.101.1\"; };\n"
            "core: { device = \"b\"; address = \"10.0.0.1/24\";\n"
            "gateway = \"10.0.0.1\";\n"
            "gateway_ipv6 = \"2001:db8::2\"; }; };",
            "t.conf");
        ASSERT_ERROR(r, "t.conf:2: dataplane.access.gateway: \"198.51.101.1\" is not on the port's subnet "
                        "(dataplane.access.address)");
        ASSERT_ERROR(r, "t.conf:4: dataplane.core.gateway: \"10.0.0.1\" is the port's own address");
        ASSERT_ERROR(r, "t.conf:5: dataplane.core.gateway_ipv6: needs dataplane.core.ipv6_address (the source of our "
                        "solicitations)");
        auto bad = load_string(
            "dataplane: { workers = [1]; access: { device = \"a\"; address = \"198.51.100.1/24\";\n"
            "gateway = \"224.0.0.1\"; ipv6_address = \"2001:db8::1\"; };\n"
            "core: { device = \"b\"; address = \"10.0.0.1/24\"; ipv6_address = \"ff02::1/64\";\n"
            "gateway_ipv6 = \"ff02::2\"; }; };",
            "t.conf");
        ASSERT_ERROR(bad, "t.conf:2: dataplane.access.gateway: \"224.0.0.1\" is not a unicast IPv4 address");
        ASSERT_ERROR(bad, "t.conf:2: dataplane.access.ipv6_address: \"2001:db8::1\" is not an IPv6 address/prefix "
                          "length (2001:db8::1/64)");
        ASSERT_ERROR(bad, "t.conf:3: dataplane.core.ipv6_address: \"ff02::1/64\" is not a unicast address");
        ASSERT_ERROR(bad, "t.conf:4: dataplane.core.gateway_ipv6: \"ff02::2\" is not a unicast IPv6 address");
    }

    void descriptors_power_of_two() {
        auto r = load_string(
            "dataplane: { workers = [1]; access: { device = \"a\"; address = \"1.2.3.4\";\n"
            "rx_descriptors = 1000;\n"
            "tx_descriptors = 32; };\n"
            "core: { device = \"b\"; address = \"10.0.0.1\";\n"
            "rx_descriptors = 32768; }; };",
            "t.conf");
        ASSERT_ERROR(r, "t.conf:2: dataplane.access.rx_descriptors: 1000 is not a power of two");
        ASSERT_ERROR(r, "t.conf:3: dataplane.access.tx_descriptors: 32 is out of range (64..16384)");
        ASSERT_ERROR(r, "t.conf:5: dataplane.core.rx_descriptors: 32768 is out of range (64..16384)");
    }

    void eal_args_are_strings() {
        auto r = load_string(
            "dataplane: { workers = [1];\n"
            "eal_args = ( \"-l\", \"0-1\",\n"
            "  3 );\n"
            "access: { device = \"a\"; address = \"1.2.3.4\"; }; core: { device = \"b\"; address = \"10.0.0.1\"; }; };",
            "t.conf");
        ASSERT_ERROR(r, "t.conf:3: dataplane.eal_args[2]: expected a string, got an integer");
        auto r2 = load_string(
            "dataplane: { workers = [1]; eal_args = \"-l 0-1\";\n"
            "access: { device = \"a\"; address = \"1.2.3.4\"; }; core: { device = \"b\"; address = \"10.0.0.1\"; }; };",
            "t.conf");
        ASSERT_ERROR(r2, "t.conf:1: dataplane.eal_args: expected a list of strings");
    }

    void replay_window_blocks_of_64() {
        auto r = load_string(kDataplane + "ipsec: { replay_window = 100; };", "t.conf");
        ASSERT_ERROR(r, "t.conf:2: ipsec.replay_window: 100 is not a multiple of 64");
        auto big = load_string(kDataplane + "ipsec: { replay_window = 65600; };", "t.conf");
        ASSERT_ERROR(big, "t.conf:2: ipsec.replay_window: 65600 is out of range (0..65536)");
        for (int ok : {0, 64, 65536}) {
            auto r2 = load_string(kDataplane + "ipsec: { replay_window = " + std::to_string(ok) + "; };", "t.conf");
            ASSERT_LOADS(r2);
            CPPUNIT_ASSERT_EQUAL(uint32_t(ok), r2.config->ipsec.replay_window);
        }
        auto sa = load_string(with_sas(gcm_sa("a", "in", "0x1000", "203.0.113.5", "replay_window = 96;")), "t.conf");
        ASSERT_ERROR(sa, "t.conf:3: ipsec.static_sas[0].replay_window: 96 is not a multiple of 64");
    }

    void spi_forms_accepted() {
        auto r = load_string(with_sas(gcm_sa("a", "in", "0xFFFFFFFF", "203.0.113.5") + ",\n" +
                                      gcm_sa("b", "in", "0xFFFFFFFEL", "203.0.113.5") + ",\n" +
                                      gcm_sa("c", "in", "\"0x00001001\"", "203.0.113.5") + ",\n" +
                                      gcm_sa("d", "in", "4294967293", "203.0.113.5") + ",\n" +
                                      gcm_sa("e", "in", "256", "203.0.113.5") + ",\n" +
                                      gcm_sa("f", "in", "\"4098\"", "203.0.113.5") + ",\n" +
                                      gcm_sa("g", "in", "0x80000000", "203.0.113.5")),
                             "t.conf");
        ASSERT_LOADS(r);
        const auto& sas = r.config->ipsec.static_sas;
        CPPUNIT_ASSERT_EQUAL(uint32_t{0xFFFFFFFF}, sas[0].spi);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0xFFFFFFFE}, sas[1].spi);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0x1001}, sas[2].spi);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0xFFFFFFFD}, sas[3].spi);
        CPPUNIT_ASSERT_EQUAL(uint32_t{256}, sas[4].spi);
        CPPUNIT_ASSERT_EQUAL(uint32_t{4098}, sas[5].spi);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0x80000000}, sas[6].spi);
    }

    void spi_reserved_and_range() {
        auto r = load_string(with_sas(gcm_sa("a", "in", "255", "203.0.113.5") + ",\n" +
                                      gcm_sa("b", "in", "\"0x000000ff\"", "203.0.113.5") + ",\n" +
                                      gcm_sa("c", "in", "0x100000000L", "203.0.113.5") + ",\n" +
                                      gcm_sa("d", "in", "\"0xfoo\"", "203.0.113.5") + ",\n" +
                                      gcm_sa("e", "in", "0", "203.0.113.5") + ",\n" +
                                      gcm_sa("f", "in", "\"0x100000000\"", "203.0.113.5")),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:3: ipsec.static_sas[0].spi: 255 is out of range (256..4294967295; RFC 4303 2.1");
        ASSERT_ERROR(r, "t.conf:4: ipsec.static_sas[1].spi: 0x000000ff is out of range (256..4294967295");
        ASSERT_ERROR(r, "t.conf:5: ipsec.static_sas[2].spi: 0x100000000L is out of range (256..4294967295");
        ASSERT_ERROR(r, "t.conf:6: ipsec.static_sas[3].spi: \"0xfoo\" is not an SPI");
        ASSERT_ERROR(r, "t.conf:7: ipsec.static_sas[4].spi: 0 is out of range");
        ASSERT_ERROR(r, "t.conf:8: ipsec.static_sas[5].spi: \"0x100000000\" is not an SPI");
        CPPUNIT_ASSERT_EQUAL(size_t{6}, r.errors.size());
    }

    void spi_unique_per_direction() {
        auto r = load_string(with_sas(gcm_sa("a", "in", "0x1000", "203.0.113.5") + ",\n" +
                                      gcm_sa("b", "out", "0x1000", "203.0.113.5") + ",\n" +
                                      gcm_sa("c", "in", "4096", "203.0.113.6")),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:5: ipsec.static_sas[2].spi: 0x00001000 is already the SPI of inbound SA \"a\" (line 3)");
        CPPUNIT_ASSERT_EQUAL(size_t{1}, r.errors.size());
    }

    void sa_name_required_and_unique() {
        auto r = load_string(with_sas(gcm_sa("a", "in", "0x1000", "203.0.113.5") + ",\n" +
                                      gcm_sa("a", "in", "0x1001", "203.0.113.5") + ",\n" +
                                      "{ direction = \"in\"; spi = 0x1002; cipher = \"aes128gcm16\"; cipher_key = "
                                      "\"0x000102030405060708090a0b0c0d0e0f10111213\"; peer = \"203.0.113.5\"; }"),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:4: ipsec.static_sas[1].name: \"a\" is already the name of the SA at line 3");
        ASSERT_ERROR(r, "t.conf:5: ipsec.static_sas[2].name: missing (required)");
        CPPUNIT_ASSERT_EQUAL(size_t{2}, r.errors.size());
    }

    // 31 bytes are kept whole; 32 would be cut in the shared tables and the
    // control plane would not find its own entries by name.
    void names_fit_the_shared_fields() {
        const std::string longest(31, 'a'), too_long(32, 'b');
        auto r = load_string(with_sas(gcm_sa(longest, "in", "0x1000", "203.0.113.5") + ",\n" +
                                      gcm_sa(too_long, "out", "0x1001", "203.0.113.5")),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:4: ipsec.static_sas[1].name: \"" + too_long + "\" is 32 bytes long, at most 31 are kept");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{1}, r.errors.size());
        r = load_string(with_sessions(session({{"name", "\"" + std::string(40, 's') + "\""}})), "t.conf");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].name: \"" + std::string(40, 's') +
                            "\" is 40 bytes long, at most 31 are kept");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{1}, r.errors.size());
    }

    void static_entries_fit_the_tables() {
        std::string text = with_sas(gcm_sa("a", "in", "0x1000", "203.0.113.5") + ",\n" +
                                    gcm_sa("b", "out", "0x1001", "203.0.113.5"));
        const std::string from = "workers = [1];", to = "workers = [1]; max_sas = 1;";
        CPPUNIT_ASSERT(text.find(from) != std::string::npos);
        text.replace(text.find(from), from.size(), to);
        auto r = load_string(text, "t.conf");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{1}, r.errors.size());
        CPPUNIT_ASSERT_MESSAGE(all_errors(r), r.errors[0].find("ipsec.static_sas: 2 static SAs, more than "
                                                               "dataplane.max_sas (1)") != std::string::npos);
    }

    void sa_direction() {
        auto r = load_string(with_sas(gcm_sa("a", "inbound", "0x1000", "203.0.113.5") + ",\n" +
                                      "{ name = \"b\"; spi = 0x1001; cipher = \"aes128gcm16\"; cipher_key = "
                                      "\"0x000102030405060708090a0b0c0d0e0f10111213\"; peer = \"203.0.113.5\"; }"),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:3: ipsec.static_sas[0].direction: \"inbound\" is not a direction (valid: in, out)");
        ASSERT_ERROR(r, "t.conf:4: ipsec.static_sas[1].direction: missing (required)");
        CPPUNIT_ASSERT_EQUAL(size_t{2}, r.errors.size());
    }

    void unknown_cipher_lists_valid_names() {
        auto r = load_string(with_sas("{ name = \"a\"; direction = \"in\"; spi = 0x1000;\n"
                                      "cipher = \"aes128gcm\"; cipher_key = \"0x00\"; peer = \"203.0.113.5\"; }"),
                             "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:4: ipsec.static_sas[0].cipher: \"aes128gcm\" is not a cipher (valid: aes128gcm16, "
                     "aes256gcm16, aes128, aes192, aes256, 3des)");
        // Without a known cipher the key length cannot be judged: one error, not two.
        CPPUNIT_ASSERT_EQUAL(size_t{1}, r.errors.size());
    }

    void unknown_integrity_lists_valid_names() {
        auto r = load_string(with_sas("{ name = \"a\"; direction = \"in\"; spi = 0x1000; cipher = \"aes128\";\n"
                                      "integrity = \"md5\"; cipher_key = \"0x00112233445566778899aabbccddeeff\"; "
                                      "peer = \"203.0.113.5\"; }"),
                             "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:4: ipsec.static_sas[0].integrity: \"md5\" is not an integrity algorithm (valid: none, "
                     "sha1, sha256, sha256_96, sha384, sha512)");
        CPPUNIT_ASSERT_EQUAL(size_t{1}, r.errors.size());
    }

    void aead_cipher_takes_no_integrity() {
        auto r = load_string(with_sas(gcm_sa("a", "in", "0x1000", "203.0.113.5", "integrity = \"sha256\";")),
                             "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:3: ipsec.static_sas[0].integrity: aes128gcm16 is an AEAD cipher and takes integrity "
                     "\"none\", not \"sha256\"");
        CPPUNIT_ASSERT_EQUAL(size_t{1}, r.errors.size());
        auto none = load_string(with_sas(gcm_sa("a", "in", "0x1000", "203.0.113.5", "integrity = \"none\";")),
                                "t.conf");
        ASSERT_LOADS(none);
    }

    void non_aead_cipher_needs_integrity() {
        auto r = load_string(with_sas("{ name = \"a\"; direction = \"in\"; spi = 0x1000; cipher = \"3des\";\n"
                                      "cipher_key = \"0x000102030405060708090a0b0c0d0e0f1011121314151617\"; "
                                      "peer = \"203.0.113.5\"; }"),
                             "t.conf");
        // Reported where the SA starts, since there is no integrity setting to point at.
        ASSERT_ERROR(r,
                     "t.conf:3: ipsec.static_sas[0].integrity: 3des needs an integrity algorithm (valid: sha1, "
                     "sha256, sha256_96, sha384, sha512)");
        CPPUNIT_ASSERT_EQUAL(size_t{1}, r.errors.size());
    }

    void cipher_key_length() {
        auto r = load_string(
            with_sas("{ name = \"a\"; direction = \"in\"; spi = 0x1000; cipher = \"aes128gcm16\";\n"
                     "cipher_key = \"0x000102030405060708090a0b0c0d0e0f\"; peer = \"203.0.113.5\"; },\n"
                     "{ name = \"b\"; direction = \"in\"; spi = 0x1001; cipher = \"aes256\"; integrity = \"sha1\";\n"
                     "cipher_key = \"000102030405060708090a0b0c0d0e0f\";\n"
                     "integrity_key = \"0x0011223344556677889900112233445566778899\"; peer = \"203.0.113.5\"; }"),
            "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:4: ipsec.static_sas[0].cipher_key: 16 bytes given, aes128gcm16 needs 20 (16-byte key + "
                     "4-byte salt)");
        ASSERT_ERROR(r, "t.conf:6: ipsec.static_sas[1].cipher_key: 16 bytes given, aes256 needs 32");
        CPPUNIT_ASSERT_EQUAL(size_t{2}, r.errors.size());

        auto missing = load_string(
            with_sas("{ name = \"a\"; direction = \"in\"; spi = 0x1000; cipher = \"aes256gcm16\"; peer = \"1.2.3.4\"; }"),
            "t.conf");
        ASSERT_ERROR(missing, "t.conf:3: ipsec.static_sas[0].cipher_key: missing (required)");
    }

    void integrity_key_length_and_presence() {
        auto r = load_string(
            with_sas("{ name = \"a\"; direction = \"in\"; spi = 0x1000; cipher = \"aes128\"; integrity = \"sha512\";\n"
                     "cipher_key = \"0x00112233445566778899aabbccddeeff\";\n"
                     "integrity_key = \"0x0011223344556677889900112233445566778899\"; peer = \"203.0.113.5\"; },\n"
                     "{ name = \"b\"; direction = \"in\"; spi = 0x1001; cipher = \"aes128\"; integrity = \"sha1\";\n"
                     "cipher_key = \"0x00112233445566778899aabbccddeeff\"; peer = \"203.0.113.5\"; },\n" +
                     gcm_sa("c", "in", "0x1002", "203.0.113.5", "\nintegrity_key = \"0x00\";")),
            "t.conf");
        ASSERT_ERROR(r, "t.conf:5: ipsec.static_sas[0].integrity_key: 20 bytes given, sha512 needs 64");
        ASSERT_ERROR(r, "t.conf:6: ipsec.static_sas[1].integrity_key: missing (required)");
        ASSERT_ERROR(r, "t.conf:9: ipsec.static_sas[2].integrity_key: not used with integrity \"none\"");
        CPPUNIT_ASSERT_EQUAL(size_t{3}, r.errors.size());
    }

    void keys_must_be_hex_and_are_not_echoed() {
        auto r = load_string(
            with_sas("{ name = \"a\"; direction = \"in\"; spi = 0x1000; cipher = \"aes128\"; integrity = \"sha1\";\n"
                     "cipher_key = \"0x00112233445566778899aabbccddeeSECRET\";\n"
                     "integrity_key = \"0x00112233445566778899001122334455667788990\"; peer = \"203.0.113.5\"; }"),
            "t.conf");
        ASSERT_ERROR(r, "t.conf:4: ipsec.static_sas[0].cipher_key: not a hex string");
        ASSERT_ERROR(r, "t.conf:5: ipsec.static_sas[0].integrity_key: not a hex string");
        CPPUNIT_ASSERT(!has_error(r, "SECRET"));
        CPPUNIT_ASSERT(!has_error(r, "0011223344"));
        // "0x" is optional and either case of hex digit is fine.
        auto ok = load_string(with_sas("{ name = \"a\"; direction = \"in\"; spi = 0x1000; cipher = \"aes128\"; "
                                       "integrity = \"sha1\"; cipher_key = \"00112233445566778899AABBCCDDEEFF\"; "
                                       "integrity_key = \"0X0011223344556677889900112233445566778899\"; "
                                       "peer = \"203.0.113.5\"; }"),
                              "t.conf");
        ASSERT_LOADS(ok);
        CPPUNIT_ASSERT_EQUAL(uint8_t{0xAA}, ok.config->ipsec.static_sas[0].cipher_key[10]);
    }

    void sa_addresses() {
        auto r = load_string(with_sas(gcm_sa("a", "in", "0x1000", "203.0.113.300") + ",\n" +
                                      gcm_sa("b", "in", "0x1001", "203.0.113.5/32") + ",\n" +
                                      gcm_sa("c", "in", "0x1002", "255.255.255.255", "local = \"x\";") + ",\n" +
                                      "{ name = \"d\"; direction = \"in\"; spi = 0x1003; cipher = \"aes128gcm16\"; "
                                      "cipher_key = \"0x000102030405060708090a0b0c0d0e0f10111213\"; }"),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:3: ipsec.static_sas[0].peer: \"203.0.113.300\" is not an IPv4 address");
        ASSERT_ERROR(r, "t.conf:4: ipsec.static_sas[1].peer: \"203.0.113.5/32\" is not an IPv4 address");
        ASSERT_ERROR(r, "t.conf:5: ipsec.static_sas[2].peer: \"255.255.255.255\" is not a unicast address");
        ASSERT_ERROR(r, "t.conf:5: ipsec.static_sas[2].local: \"x\" is not an IPv4 address");
        ASSERT_ERROR(r, "t.conf:6: ipsec.static_sas[3].peer: missing (required)");
        CPPUNIT_ASSERT_EQUAL(size_t{5}, r.errors.size());
    }

    // Clients behind one NAT share a public address: their SAs share a peer.
    void outbound_peers_may_repeat() {
        auto r = load_string(with_sas(gcm_sa("client1-out", "out", "0x2001", "203.0.113.10") + ",\n" +
                                      gcm_sa("client1-in", "in", "0x1001", "203.0.113.10") + ",\n" +
                                      gcm_sa("client2-out", "out", "0x2002", "203.0.113.10")),
                             "t.conf");
        CPPUNIT_ASSERT_MESSAGE(all_errors(r), r.config.has_value());
        CPPUNIT_ASSERT_EQUAL(size_t{3}, r.config->ipsec.static_sas.size());
    }

    void direction_specific_settings() {
        auto r = load_string(with_sas(gcm_sa("a", "out", "0x1000", "203.0.113.5", "replay_window = 64;") + ",\n" +
                                      gcm_sa("b", "in", "0x1000", "203.0.113.5", "first_sequence = 5;") + ",\n" +
                                      gcm_sa("c", "out", "0x1001", "203.0.113.6", "first_sequence = 0;") + ",\n" +
                                      gcm_sa("d", "out", "0x1002", "203.0.113.7", "first_sequence = 0xFFFFFFFF;")),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:3: ipsec.static_sas[0].replay_window: only for inbound SAs (direction = \"in\")");
        ASSERT_ERROR(r, "t.conf:4: ipsec.static_sas[1].first_sequence: only for outbound SAs (direction = \"out\")");
        ASSERT_ERROR(r, "t.conf:5: ipsec.static_sas[2].first_sequence: 0 is out of range (1..4294967295)");
        CPPUNIT_ASSERT_EQUAL(size_t{3}, r.errors.size());
    }

    void ports_only_with_udp_encap() {
        auto r = load_string(with_sas(gcm_sa("a", "in", "0x1000", "203.0.113.5", "peer_port = 4501;") + ",\n" +
                                      gcm_sa("b", "in", "0x1001", "203.0.113.5",
                                             "udp_encap = true; local_port = 0; peer_port = 65536;")),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:3: ipsec.static_sas[0].peer_port: only used with udp_encap = true");
        ASSERT_ERROR(r, "t.conf:4: ipsec.static_sas[1].local_port: 0 is out of range (1..65535)");
        ASSERT_ERROR(r, "t.conf:4: ipsec.static_sas[1].peer_port: 65536 is out of range (1..65535)");
        CPPUNIT_ASSERT_EQUAL(size_t{3}, r.errors.size());
    }

    void multiple_errors_collected_in_line_order() {
        auto r = load_string(
            "dataplane: {\n"                                              // 1
            "  workers = [1];\n"                                          // 2
            "  mbufs = 10;\n"                                             // 3
            "  access: { device = \"a\"; address = \"1.2.3.4/40\"; };\n"  // 4
            "  core: { device = \"b\"; address = \"10.0.0.1\"; mtu = 100; };\n"  // 5
            "};\n"                                                        // 6
            "ipsec: {\n"                                                  // 7
            "  replay_window = 63;\n"                                     // 8
            "  static_sas = (\n"                                          // 9
            "    { name = \"a\"; direction = \"up\"; spi = 1; cipher = \"aes128gcm16\";\n"  // 10
            "      cipher_key = \"0x00\"; peer = \"203.0.113.5\"; }\n"   // 11
            "  );\n"                                                      // 12
            "};\n"                                                        // 13
            "colour = \"blue\";\n",                                       // 14
            "multi.conf");
        CPPUNIT_ASSERT(!r.config);
        std::vector<std::string> expected = {
            "multi.conf:3: dataplane.mbufs: 10 is out of range (1023..16777216)",
            "multi.conf:4: dataplane.access.address: \"1.2.3.4/40\" is not an IPv4 address/prefix",
            "multi.conf:5: dataplane.core.mtu: 100 is out of range (576..9000)",
            "multi.conf:8: ipsec.replay_window: 63 is not a multiple of 64 (the window is kept in 64-bit blocks, "
            "RFC 6479)",
            "multi.conf:10: ipsec.static_sas[0].direction: \"up\" is not a direction (valid: in, out)",
            "multi.conf:10: ipsec.static_sas[0].spi: 1 is out of range (256..4294967295; RFC 4303 2.1 reserves 1-255)",
            "multi.conf:11: ipsec.static_sas[0].cipher_key: 1 byte given, aes128gcm16 needs 20 (16-byte key + "
            "4-byte salt)",
            "multi.conf:14: colour: unknown setting",
        };
        CPPUNIT_ASSERT_EQUAL_MESSAGE("errors:" + all_errors(r), expected.size(), r.errors.size());
        for (size_t i = 0; i < expected.size(); ++i) CPPUNIT_ASSERT_EQUAL(expected[i], r.errors[i]);
    }

    void max_sessions_default_and_range() {
        for (const char* bad : {"0", "2097153", "4294967297"}) {
            auto r = load_string(dataplane_with(std::string("max_sessions = ") + bad + ";"), "t.conf");
            ASSERT_ERROR(r, std::string("t.conf:1: dataplane.max_sessions: ") + bad + " is out of range (1..2097152)");
            CPPUNIT_ASSERT_EQUAL(size_t{1}, r.errors.size());
        }
        for (uint32_t ok : {1u, 2097152u}) {
            auto r = load_string(dataplane_with("max_sessions = " + std::to_string(ok) + ";"), "t.conf");
            ASSERT_LOADS(r);
            CPPUNIT_ASSERT_EQUAL(ok, r.config->dataplane.max_sessions);
        }
        auto typo = load_string(dataplane_with("max_session = 10;"), "t.conf");
        ASSERT_ERROR(typo, "t.conf:1: dataplane.max_session: unknown setting (did you mean \"max_sessions\"?)");
    }

    void static_session_defaults() {
        auto r = load_string(with_sessions(session()), "t.conf");
        ASSERT_LOADS(r);
        CPPUNIT_ASSERT_EQUAL(size_t{1}, r.config->l2tp.static_sessions.size());
        const StaticSession& s = r.config->l2tp.static_sessions[0];
        CPPUNIT_ASSERT_EQUAL(std::string("s"), s.name);
        CPPUNIT_ASSERT_EQUAL(std::string("in1"), s.sa_in);
        CPPUNIT_ASSERT_EQUAL(std::string("out1"), s.sa_out);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1}, s.tunnel_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1}, s.session_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{100}, s.peer_tunnel_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{200}, s.peer_session_id);
        CPPUNIT_ASSERT_EQUAL(std::string("100.64.0.1"), format_ipv4(s.client_ipv4));
        CPPUNIT_ASSERT_EQUAL(uint8_t{0}, s.client_ipv6_prefix_length);
        CPPUNIT_ASSERT((s.client_ipv6_prefix == std::array<uint8_t, 16>{}));
        CPPUNIT_ASSERT_EQUAL(uint16_t{1400}, s.mtu);
        CPPUNIT_ASSERT_EQUAL(uint16_t{0}, s.mss_clamp);
        CPPUNIT_ASSERT(!s.sequencing);
        CPPUNIT_ASSERT_EQUAL(9, s.line);

        // An empty l2tp section, or none, means no static sessions.
        auto empty = load_string(kDataplane + "l2tp: { static_sessions = (); };", "t.conf");
        ASSERT_LOADS(empty);
        CPPUNIT_ASSERT(empty.config->l2tp.static_sessions.empty());
    }

    void static_session_all_settings() {
        auto r = load_string(
            with_sessions(session({{"name", "\"b\""}, {"sa_in", "\"in2\""}, {"sa_out", "\"out2\""},
                                   {"tunnel_id", "65535"}, {"session_id", "0xFFFF"}, {"peer_tunnel_id", "1"},
                                   {"peer_session_id", "65535"}, {"client_ipv4", ""},
                                   {"client_ipv6_prefix", "\"2001:DB8:1:2::/64\""}, {"mtu", "1500"},
                                   {"mss_clamp", "1360"}, {"sequencing", "true"}}) +
                          ",\n" +
                          session({{"name", "\"c\""}, {"session_id", "2"}, {"client_ipv4", "\"100.64.0.2\""},
                                   {"client_ipv6_prefix", "\"2001:db8:2::1/128\""}, {"mtu", "1280"},
                                   {"mss_clamp", "536"}}) +
                          ",\n" +
                          session({{"name", "\"d\""}, {"session_id", "3"}, {"client_ipv4", "\"100.64.0.3\""},
                                   {"client_ipv6_prefix", "\"8000::/1\""}, {"mss_clamp", "9000"}}) +
                          ",\n" +
                          // Without IPv6 the PPP MTU may go down to 576.
                          session({{"name", "\"e\""}, {"session_id", "4"}, {"client_ipv4", "\"100.64.0.4\""},
                                   {"mtu", "576"}})),
            "t.conf");
        ASSERT_LOADS(r);
        const auto& sessions = r.config->l2tp.static_sessions;
        CPPUNIT_ASSERT_EQUAL(size_t{4}, sessions.size());
        const StaticSession& b = sessions[0];
        CPPUNIT_ASSERT_EQUAL(std::string("in2"), b.sa_in);
        CPPUNIT_ASSERT_EQUAL(std::string("out2"), b.sa_out);
        CPPUNIT_ASSERT_EQUAL(uint16_t{65535}, b.tunnel_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{65535}, b.session_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1}, b.peer_tunnel_id);
        CPPUNIT_ASSERT_EQUAL(uint16_t{65535}, b.peer_session_id);
        CPPUNIT_ASSERT_EQUAL(uint32_t{0}, b.client_ipv4);
        CPPUNIT_ASSERT((b.client_ipv6_prefix ==
                        std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0}));
        CPPUNIT_ASSERT_EQUAL(uint8_t{64}, b.client_ipv6_prefix_length);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1500}, b.mtu);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1360}, b.mss_clamp);
        CPPUNIT_ASSERT(b.sequencing);
        CPPUNIT_ASSERT_EQUAL(9, b.line);

        const StaticSession& c = sessions[1];
        CPPUNIT_ASSERT_EQUAL(uint8_t{128}, c.client_ipv6_prefix_length);
        CPPUNIT_ASSERT_EQUAL(uint8_t{1}, c.client_ipv6_prefix[15]);
        CPPUNIT_ASSERT_EQUAL(uint16_t{1280}, c.mtu);
        CPPUNIT_ASSERT_EQUAL(uint16_t{536}, c.mss_clamp);
        CPPUNIT_ASSERT_EQUAL(10, c.line);

        CPPUNIT_ASSERT_EQUAL(uint8_t{1}, sessions[2].client_ipv6_prefix_length);
        CPPUNIT_ASSERT_EQUAL(uint8_t{0x80}, sessions[2].client_ipv6_prefix[0]);
        CPPUNIT_ASSERT_EQUAL(uint16_t{9000}, sessions[2].mss_clamp);
        CPPUNIT_ASSERT_EQUAL(uint16_t{576}, sessions[3].mtu);
    }

    void l2tp_wrong_types() {
        auto not_group = load_string(kDataplane + "l2tp = 1;\n", "t.conf");
        ASSERT_ERROR(not_group, "t.conf:2: l2tp: expected a group { ... }, got an integer");
        CPPUNIT_ASSERT_EQUAL(size_t{1}, not_group.errors.size());

        auto not_list = load_string(kDataplane + "l2tp: { static_sessions = { a = 1; }; };\n", "t.conf");
        ASSERT_ERROR(not_list, "t.conf:2: l2tp.static_sessions: expected a list of groups ( { ... }, ... ), got a "
                               "group { ... }");

        auto r = load_string(
            with_sessions(session({{"sa_in", "5"}, {"tunnel_id", "\"1\""}, {"sequencing", "1"}}) + ",\n" +
                          "\"oops\",\n" +
                          session({{"name", "\"b\""}, {"session_id", "2"}, {"client_ipv4", "[1]"},
                                   {"client_ipv6_prefix", "64"}, {"mtu", "1.5"}})),
            "t.conf");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].sa_in: expected a string, got an integer");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].tunnel_id: expected an integer, got a string");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].sequencing: expected true or false, got an integer");
        ASSERT_ERROR(r, "t.conf:10: l2tp.static_sessions[1]: expected a group { ... }, got a string");
        ASSERT_ERROR(r, "t.conf:11: l2tp.static_sessions[2].client_ipv4: expected a string, got an array [ ... ]");
        ASSERT_ERROR(r, "t.conf:11: l2tp.static_sessions[2].client_ipv6_prefix: expected a string, got an integer");
        ASSERT_ERROR(r, "t.conf:11: l2tp.static_sessions[2].mtu: expected an integer, got a floating-point number");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{7}, r.errors.size());
    }

    void l2tp_unknown_settings() {
        auto r = load_string(with_sessions(session({{"tunnel-id", "1"}, {"tunnel_id", ""},
                                                    {"client_ip", "\"100.64.0.2\""}, {"sequencng", "true"}}),
                                           "sessions = (); ") +
                                 "l2tpv2: { };\n",
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:8: l2tp.sessions: unknown setting");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].tunnel-id: unknown setting (did you mean \"tunnel_id\"?)");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].client_ip: unknown setting (did you mean \"client_ipv4\"?)");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].sequencng: unknown setting (did you mean \"sequencing\"?)");
        // The misspelt tunnel_id is also missing.
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].tunnel_id: missing (required)");
        ASSERT_ERROR(r, "t.conf:11: l2tpv2: unknown setting (did you mean \"l2tp\"?)");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{6}, r.errors.size());
    }

    void session_required_settings() {
        auto r = load_string(with_sessions("{ client_ipv4 = \"100.64.0.1\"; }"), "t.conf");
        for (const char* key :
             {"name", "sa_in", "sa_out", "tunnel_id", "session_id", "peer_tunnel_id", "peer_session_id"})
            ASSERT_ERROR(r, std::string("t.conf:9: l2tp.static_sessions[0].") + key + ": missing (required)");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{7}, r.errors.size());
    }

    void session_name_unique() {
        auto r = load_string(with_sessions(session() + ",\n" +
                                           session({{"session_id", "2"}, {"client_ipv4", "\"100.64.0.2\""}}) + ",\n" +
                                           session({{"name", "\"\""}, {"session_id", "3"},
                                                    {"client_ipv4", "\"100.64.0.3\""}})),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:10: l2tp.static_sessions[1].name: \"s\" is already the name of the session at line 9");
        ASSERT_ERROR(r, "t.conf:11: l2tp.static_sessions[2].name: must not be empty");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{2}, r.errors.size());
    }

    void session_ids_range() {
        auto r = load_string(with_sessions(session({{"tunnel_id", "0"}, {"session_id", "65536"}}) + ",\n" +
                                           session({{"name", "\"b\""}, {"peer_tunnel_id", "0"},
                                                    {"peer_session_id", "-1"}, {"client_ipv4", "\"100.64.0.2\""}})),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].tunnel_id: 0 is out of range (1..65535)");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].session_id: 65536 is out of range (1..65535)");
        ASSERT_ERROR(r, "t.conf:10: l2tp.static_sessions[1].peer_tunnel_id: 0 is out of range (1..65535)");
        ASSERT_ERROR(r, "t.conf:10: l2tp.static_sessions[1].peer_session_id: -1 is out of range (1..65535)");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{4}, r.errors.size());
    }

    void session_sa_in_must_be_inbound() {
        auto r = load_string(with_sessions(session({{"sa_in", "\"nope\""}}) + ",\n" +
                                           session({{"name", "\"b\""}, {"sa_in", "\"out1\""},
                                                    {"client_ipv4", "\"100.64.0.2\""}}) +
                                           ",\n" +
                                           session({{"name", "\"c\""}, {"sa_in", "\"\""},
                                                    {"client_ipv4", "\"100.64.0.3\""}})),
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].sa_in: \"nope\" is not an inbound SA in ipsec.static_sas");
        ASSERT_ERROR(r,
                     "t.conf:10: l2tp.static_sessions[1].sa_in: \"out1\" is not an inbound SA in ipsec.static_sas "
                     "(it is outbound, line 4)");
        ASSERT_ERROR(r, "t.conf:11: l2tp.static_sessions[2].sa_in: must not be empty");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{3}, r.errors.size());

        // Without any static SAs there is nothing to bind to.
        auto none = load_string(kDataplane + "l2tp: { static_sessions = (\n" + session() + "\n); };\n", "t.conf");
        ASSERT_ERROR(none, "t.conf:3: l2tp.static_sessions[0].sa_in: \"in1\" is not an inbound SA in ipsec.static_sas");
        ASSERT_ERROR(none,
                     "t.conf:3: l2tp.static_sessions[0].sa_out: \"out1\" is not an outbound SA in ipsec.static_sas");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(none), size_t{2}, none.errors.size());
    }

    void session_sa_out_must_be_outbound() {
        auto r = load_string(with_sessions(session({{"sa_out", "\"in1\""}}) + ",\n" +
                                           session({{"name", "\"b\""}, {"sa_out", "\"out3\""},
                                                    {"client_ipv4", "\"100.64.0.2\""}})),
                             "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:9: l2tp.static_sessions[0].sa_out: \"in1\" is not an outbound SA in ipsec.static_sas "
                     "(it is inbound, line 3)");
        ASSERT_ERROR(r,
                     "t.conf:10: l2tp.static_sessions[1].sa_out: \"out3\" is not an outbound SA in ipsec.static_sas");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{2}, r.errors.size());
    }

    void session_sas_must_have_the_same_peer() {
        auto r = load_string(with_sessions(session({{"sa_out", "\"out2\""}})), "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:9: l2tp.static_sessions[0].sa_out: peer 203.0.113.11 of SA \"out2\" (line 6) differs from "
                     "peer 203.0.113.10 of sa_in \"in1\" (line 3); both SAs are the client's");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{1}, r.errors.size());

        auto ok = load_string(with_sessions(session({{"sa_in", "\"in2\""}, {"sa_out", "\"out2\""}})), "t.conf");
        ASSERT_LOADS(ok);
    }

    void session_ids_unique_per_inbound_sa() {
        auto r = load_string(
            with_sessions(session() + ",\n" +
                          // The same ids on another inbound SA, or another session id in the tunnel: fine.
                          session({{"name", "\"b\""}, {"sa_in", "\"in2\""}, {"sa_out", "\"out2\""},
                                   {"client_ipv4", "\"100.64.0.2\""}}) +
                          ",\n" + session({{"name", "\"c\""}, {"session_id", "2"}, {"client_ipv4", "\"100.64.0.3\""}}) +
                          ",\n" + session({{"name", "\"d\""}, {"client_ipv4", "\"100.64.0.4\""}})),
            "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:12: l2tp.static_sessions[3].session_id: sa_in \"in1\", tunnel_id 1 and session_id 1 are "
                     "already those of session \"s\" (line 9); received L2TP data is looked up by all three");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{1}, r.errors.size());
    }

    void session_needs_a_client_address() {
        auto r = load_string(with_sessions(session({{"client_ipv4", ""}})), "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:9: l2tp.static_sessions[0]: neither client_ipv4 nor client_ipv6_prefix given (at least "
                     "one is required)");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{1}, r.errors.size());
    }

    void session_client_ipv4_valid_and_unique() {
        auto r = load_string(
            with_sessions(session() + ",\n" + session({{"name", "\"b\""}, {"session_id", "2"}}) + ",\n" +
                          session({{"name", "\"c\""}, {"session_id", "3"}, {"client_ipv4", "\"224.0.0.1\""}}) + ",\n" +
                          session({{"name", "\"d\""}, {"session_id", "4"}, {"client_ipv4", "\"100.64.0.4/32\""}})),
            "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:10: l2tp.static_sessions[1].client_ipv4: 100.64.0.1 is already the address of session "
                     "\"s\" (line 9)");
        ASSERT_ERROR(r, "t.conf:11: l2tp.static_sessions[2].client_ipv4: \"224.0.0.1\" is not a unicast address");
        ASSERT_ERROR(r, "t.conf:12: l2tp.static_sessions[3].client_ipv4: \"100.64.0.4/32\" is not an IPv4 address");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{3}, r.errors.size());
    }

    void session_ipv6_prefix_syntax() {
        for (const char* bad : {"2001:db8::", "2001:db8::/", "2001:db8::/064", "2001:db8::/64 ", " 2001:db8::/64",
                                "2001:db8:::/64", "2001:db8::g/64", "100.64.0.0/10", "2001:db8::/1000",
                                "fe80::%eth0/64", "2001:db8::/64/64", ""}) {
            auto r = load_string(
                with_sessions(session({{"client_ipv6_prefix", "\"" + std::string(bad) + "\""}})), "t.conf");
            ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].client_ipv6_prefix: \"" + std::string(bad) +
                                "\" is not an IPv6 prefix (like \"2001:db8:1::/64\")");
            CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{1}, r.errors.size());
        }
        auto zero = load_string(with_sessions(session({{"client_ipv6_prefix", "\"::/0\""}})), "t.conf");
        ASSERT_ERROR(zero,
                     "t.conf:9: l2tp.static_sessions[0].client_ipv6_prefix: prefix length 0 of \"::/0\" is out of "
                     "range (1..128)");
        auto long_ = load_string(with_sessions(session({{"client_ipv6_prefix", "\"2001:db8::/129\""}})), "t.conf");
        ASSERT_ERROR(long_,
                     "t.conf:9: l2tp.static_sessions[0].client_ipv6_prefix: prefix length 129 of \"2001:db8::/129\" "
                     "is out of range (1..128)");
    }

    void session_ipv6_prefix_host_bits() {
        auto r = load_string(
            with_sessions(session({{"client_ipv6_prefix", "\"2001:db8:1::1/64\""}}) + ",\n" +
                          session({{"name", "\"b\""}, {"session_id", "2"}, {"client_ipv4", "\"100.64.0.2\""},
                                   {"client_ipv6_prefix", "\"2001:db8:1:40::/57\""}}) +
                          ",\n" +
                          // Bit 57 is still part of a /57.
                          session({{"name", "\"c\""}, {"session_id", "3"}, {"client_ipv4", "\"100.64.0.3\""},
                                   {"client_ipv6_prefix", "\"2001:db8:1:80::/57\""}})),
            "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:9: l2tp.static_sessions[0].client_ipv6_prefix: \"2001:db8:1::1/64\" has bits set beyond "
                     "the /64 (did you mean \"2001:db8:1::/64\"?)");
        ASSERT_ERROR(r,
                     "t.conf:10: l2tp.static_sessions[1].client_ipv6_prefix: \"2001:db8:1:40::/57\" has bits set "
                     "beyond the /57 (did you mean \"2001:db8:1::/57\"?)");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{2}, r.errors.size());
    }

    void session_ipv6_prefix_unique() {
        auto r = load_string(
            with_sessions(session({{"client_ipv6_prefix", "\"2001:db8:100::/64\""}}) + ",\n" +
                          // The same prefix written differently.
                          session({{"name", "\"b\""}, {"session_id", "2"}, {"client_ipv4", ""},
                                   {"client_ipv6_prefix", "\"2001:0DB8:100:0::/64\""}}) +
                          ",\n" +
                          session({{"name", "\"c\""}, {"session_id", "3"}, {"client_ipv4", ""},
                                   {"client_ipv6_prefix", "\"2001:db8:101::/64\""}})),
            "t.conf");
        ASSERT_ERROR(r,
                     "t.conf:10: l2tp.static_sessions[1].client_ipv6_prefix: 2001:db8:100::/64 is already the prefix "
                     "of session \"s\" (line 9)");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{1}, r.errors.size());
    }

    void session_mtu_and_mss_clamp() {
        auto r = load_string(
            with_sessions(session({{"mtu", "575"}, {"mss_clamp", "535"}}) + ",\n" +
                          session({{"name", "\"b\""}, {"session_id", "2"}, {"client_ipv4", "\"100.64.0.2\""},
                                   {"mtu", "1501"}, {"mss_clamp", "9001"}}) +
                          ",\n" +
                          session({{"name", "\"c\""}, {"session_id", "3"}, {"client_ipv4", "\"100.64.0.3\""},
                                   {"client_ipv6_prefix", "\"2001:db8:3::/64\""}, {"mtu", "1279"},
                                   {"mss_clamp", "1"}})),
            "t.conf");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].mtu: 575 is out of range (576..1500)");
        ASSERT_ERROR(r, "t.conf:9: l2tp.static_sessions[0].mss_clamp: 535 is out of range (0, or 536..9000)");
        ASSERT_ERROR(r, "t.conf:10: l2tp.static_sessions[1].mtu: 1501 is out of range (576..1500)");
        ASSERT_ERROR(r, "t.conf:10: l2tp.static_sessions[1].mss_clamp: 9001 is out of range (0, or 536..9000)");
        ASSERT_ERROR(r,
                     "t.conf:11: l2tp.static_sessions[2].mtu: 1279 is below 1280, the IPv6 minimum link MTU (RFC 8200 "
                     "5), and client_ipv6_prefix is given");
        ASSERT_ERROR(r, "t.conf:11: l2tp.static_sessions[2].mss_clamp: 1 is out of range (0, or 536..9000)");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{6}, r.errors.size());
    }

    void session_not_reported_again_for_a_rejected_sa() {
        // The SA's own error is enough: "bad-in" is not also "not an inbound SA".
        auto r = load_string(kDataplane + "ipsec: { static_sas = (\n" + gcm_sa("bad-in", "in", "1", "203.0.113.10") +
                                 ",\n" + gcm_sa("out1", "out", "0x2001", "203.0.113.10") + "\n); };\n" +
                                 "l2tp: { static_sessions = (\n" + session({{"sa_in", "\"bad-in\""}}) + "\n); };\n",
                             "t.conf");
        ASSERT_ERROR(r, "t.conf:3: ipsec.static_sas[0].spi: 1 is out of range");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(r), size_t{1}, r.errors.size());

        auto unreadable = load_string(
            kDataplane + "ipsec = 5;\nl2tp: { static_sessions = (\n" + session() + "\n); };\n", "t.conf");
        ASSERT_ERROR(unreadable, "t.conf:2: ipsec: expected a group { ... }, got an integer");
        CPPUNIT_ASSERT_EQUAL_MESSAGE(all_errors(unreadable), size_t{1}, unreadable.errors.size());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ConfigTest);
