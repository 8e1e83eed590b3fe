// Loads concentrator.conf (libconfig syntax) into a validated Config. The
// whole file is checked and every problem reported as "file:line: setting:
// what is wrong"; a Config comes back only when there were none.

#include "common/config/config.h"

#include <arpa/inet.h>
#include <libconfig.h++>

#include <algorithm>
#include <cstdlib>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <string_view>
#include <tuple>

namespace conc::config {

namespace {

using libconfig::Setting;

// ---------------------------------------------------------------------------
// Text helpers

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// A decimal number of at most max_digits digits without a leading zero
// (so "010" is refused rather than read as octal, as inet_aton would).
std::optional<uint32_t> parse_decimal(std::string_view s, size_t max_digits) {
    if (s.empty() || s.size() > max_digits) return std::nullopt;
    if (s.size() > 1 && s[0] == '0') return std::nullopt;
    uint32_t v = 0;
    for (char c : s) {
        if (!is_digit(c)) return std::nullopt;
        v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    return v;
}

// "0x1f" or "31" in a string, as an unsigned 32-bit value.
std::optional<uint32_t> parse_u32_string(std::string_view s) {
    uint64_t v = 0;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (char c : s.substr(2)) {
            int d = hex_digit(c);
            if (d < 0) return std::nullopt;
            v = v * 16 + static_cast<uint64_t>(d);
            if (v > UINT32_MAX) return std::nullopt;
        }
        return static_cast<uint32_t>(v);
    }
    if (s.empty()) return std::nullopt;
    for (char c : s) {
        if (!is_digit(c)) return std::nullopt;
        v = v * 10 + static_cast<uint64_t>(c - '0');
        if (v > UINT32_MAX) return std::nullopt;
    }
    return static_cast<uint32_t>(v);
}

// Key material: hex digits, two per byte, optionally after "0x".
std::optional<std::vector<uint8_t>> parse_hex_bytes(std::string_view s) {
    if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
    if (s.size() % 2 != 0) return std::nullopt;
    std::vector<uint8_t> bytes;
    bytes.reserve(s.size() / 2);
    for (size_t i = 0; i < s.size(); i += 2) {
        int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        bytes.push_back(static_cast<uint8_t>(hi << 4 | lo));
    }
    return bytes;
}

std::optional<MacAddress> parse_mac(std::string_view s) {
    // Exactly "aa:bb:cc:dd:ee:ff".
    if (s.size() != 17) return std::nullopt;
    MacAddress mac{};
    for (size_t i = 0; i < 6; ++i) {
        int hi = hex_digit(s[i * 3]), lo = hex_digit(s[i * 3 + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && s[i * 3 + 2] != ':') return std::nullopt;
        mac[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return mac;
}

struct Ipv4Prefix {
    Ipv4Address address;
    uint8_t length;
};

// "a.b.c.d/len" or "a.b.c.d" (= /32).
std::optional<Ipv4Prefix> parse_ipv4_prefix(std::string_view s) {
    auto slash = s.find('/');
    auto address = parse_ipv4(std::string(s.substr(0, slash)));
    if (!address) return std::nullopt;
    if (slash == std::string_view::npos) return Ipv4Prefix{*address, 32};
    auto length = parse_decimal(s.substr(slash + 1), 2);
    if (!length || *length > 32) return std::nullopt;
    return Ipv4Prefix{*address, static_cast<uint8_t>(*length)};
}

struct Ipv6Prefix {
    std::array<uint8_t, 16> address;
    uint32_t length;  // as written: range-checked by the caller
};

// "2001:db8:1::/64": the length is required.
std::optional<Ipv6Prefix> parse_ipv6_prefix(std::string_view s) {
    auto slash = s.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    Ipv6Prefix prefix{};
    if (inet_pton(AF_INET6, std::string(s.substr(0, slash)).c_str(), prefix.address.data()) != 1) return std::nullopt;
    auto length = parse_decimal(s.substr(slash + 1), 3);
    if (!length) return std::nullopt;
    prefix.length = *length;
    return prefix;
}

// The prefix with every bit beyond `length` cleared.
std::array<uint8_t, 16> ipv6_network(const std::array<uint8_t, 16>& address, uint32_t length) {
    std::array<uint8_t, 16> network{};
    for (uint32_t i = 0; i < 16 && i * 8 < length; ++i)
        network[i] = length >= (i + 1) * 8 ? address[i]
                                           : static_cast<uint8_t>(address[i] & (0xff00 >> (length - i * 8)));
    return network;
}

std::string format_ipv6(const std::array<uint8_t, 16>& address) {
    char buf[INET6_ADDRSTRLEN];
    return inet_ntop(AF_INET6, address.data(), buf, sizeof buf) ? buf : "?";
}

// Addresses that can never be a port's own address or an SA endpoint:
// 0/8 "this network" and 127/8 loopback (RFC 1122 3.2.1.3), 224/4 multicast,
// 240/4 reserved including the limited broadcast address.
bool is_unicast(Ipv4Address a) {
    uint32_t first = a >> 24;
    return first != 0 && first != 127 && first < 224;
}

std::string bytes_given(size_t n) { return std::to_string(n) + (n == 1 ? " byte given" : " bytes given"); }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string cipher_names() {
    std::string names;
    for (auto c : proto::kAllCiphers) names += (names.empty() ? "" : ", ") + std::string(proto::cipher_info(c).name);
    return names;
}

std::string integrity_names(bool include_none) {
    std::string names;
    for (auto i : proto::kAllIntegrities) {
        if (!include_none && i == proto::EspIntegrity::None) continue;
        names += (names.empty() ? "" : ", ") + std::string(proto::integrity_info(i).name);
    }
    return names;
}

// ---------------------------------------------------------------------------
// Integer literals as written.
//
// libconfig 1.5 keeps an integer without an L suffix in a C int and silently
// wraps anything larger: "spi = 4294967552;" arrives as 256 and
// "mbufs = 4294983679;" as 16383. To catch that, the loader scans the text
// for integer literals and, where libconfig's value differs from the written
// one, uses the written value (which then passes or fails the range check).

struct IntegerLiteral {
    std::string text;              // as written
    int line = 0;
    int64_t stored = 0;            // what libconfig 1.5 keeps
    std::optional<int64_t> value;  // what was written; nullopt beyond 64 bits
    bool wrapped() const { return !value || *value != stored; }
};

using IntegerLiterals = std::vector<IntegerLiteral>;  // in document order

int64_t wrap_to_int32(uint64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

IntegerLiteral make_literal(std::string text, bool negative, uint64_t magnitude, bool overflow, bool hex,
                            bool suffix_l) {
    IntegerLiteral lit;
    lit.text = std::move(text);
    if (!overflow) {
        if (negative && magnitude <= uint64_t{1} << 63)
            lit.value = static_cast<int64_t>(0 - magnitude);
        else if (!negative && magnitude <= uint64_t{INT64_MAX})
            lit.value = static_cast<int64_t>(magnitude);
    }
    // Mirror libconfig 1.5's scanner: strtoul/strtoull for hex, strtol/atoll
    // for decimal (both saturate), then an int cast without the L suffix.
    if (hex) {
        uint64_t v = overflow ? UINT64_MAX : magnitude;
        lit.stored = suffix_l ? static_cast<int64_t>(v) : wrap_to_int32(v);
    } else {
        int64_t v = lit.value ? *lit.value : (negative ? INT64_MIN : INT64_MAX);
        lit.stored = suffix_l ? v : wrap_to_int32(static_cast<uint64_t>(v));
    }
    return lit;
}

IntegerLiterals scan_integer_literals(std::string_view s) {
    IntegerLiterals literals;
    int line = 1;
    size_t i = 0;
    auto is_name_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '-' || c == '*';
    };
    while (i < s.size()) {
        char c = s[i];
        if (c == '\n') {
            ++line;
            ++i;
        } else if (c == '#' || (c == '/' && i + 1 < s.size() && s[i + 1] == '/')) {
            while (i < s.size() && s[i] != '\n') ++i;
        } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
            i += 2;
            while (i < s.size() && !(s[i] == '*' && i + 1 < s.size() && s[i + 1] == '/')) {
                if (s[i] == '\n') ++line;
                ++i;
            }
            i += 2;
        } else if (c == '"') {
            ++i;
            while (i < s.size() && s[i] != '"') {
                if (s[i] == '\\') ++i;
                else if (s[i] == '\n') ++line;
                ++i;
            }
            ++i;
        } else if (c == '.') {
            ++i;  // a float like ".5"
            while (i < s.size() && (is_digit(s[i]) || s[i] == 'e' || s[i] == 'E' || s[i] == '-' || s[i] == '+')) ++i;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '*' || c == '@') {
            ++i;  // a setting name, true/false, @include: may contain digits and '-'
            while (i < s.size() && is_name_char(s[i])) ++i;
        } else if (is_digit(c) || ((c == '-' || c == '+') && i + 1 < s.size() && is_digit(s[i + 1]))) {
            size_t start = i;
            bool negative = c == '-';
            if (c == '-' || c == '+') ++i;
            bool hex = s[i] == '0' && i + 2 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X') &&
                       hex_digit(s[i + 2]) >= 0;
            uint64_t magnitude = 0;
            bool overflow = false;
            auto accumulate = [&](uint64_t base, uint64_t digit) {
                if (magnitude > (UINT64_MAX - digit) / base) overflow = true;
                else magnitude = magnitude * base + digit;
            };
            if (hex) {
                i += 2;
                while (i < s.size() && hex_digit(s[i]) >= 0) accumulate(16, static_cast<uint64_t>(hex_digit(s[i++])));
            } else {
                while (i < s.size() && is_digit(s[i])) accumulate(10, static_cast<uint64_t>(s[i++] - '0'));
                if (i < s.size() && (s[i] == '.' || s[i] == 'e' || s[i] == 'E')) {
                    // A float: skip the rest of it.
                    while (i < s.size() && (is_digit(s[i]) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                                            s[i] == '-' || s[i] == '+'))
                        ++i;
                    continue;
                }
            }
            bool suffix_l = false;
            while (i < s.size() && s[i] == 'L') {
                suffix_l = true;
                ++i;
            }
            literals.push_back(
                make_literal(std::string(s.substr(start, i - start)), negative, magnitude, overflow, hex, suffix_l));
            literals.back().line = line;
        } else {
            ++i;
        }
    }
    return literals;
}

// ---------------------------------------------------------------------------
// The validator

struct Error {
    std::string file;
    int line;
    std::string text;
};

// libconfig names an included file as written in @include; show where it was read from.
std::string included_path(const std::string& file, const std::string& include_dir) {
    if (include_dir.empty() || include_dir == "." || file.empty() || file[0] == '/') return file;
    return include_dir + (include_dir.back() == '/' ? "" : "/") + file;
}

// An integer setting as written: value, and how to show it in a message.
struct Integer {
    int64_t value;
    std::string text;
};

std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string element(const std::string& path, int index) { return path + "[" + std::to_string(index) + "]"; }

const char* type_name(const Setting& s) {
    switch (s.getType()) {
        case Setting::TypeInt:
        case Setting::TypeInt64: return "an integer";
        case Setting::TypeFloat: return "a floating-point number";
        case Setting::TypeString: return "a string";
        case Setting::TypeBoolean: return "a boolean";
        case Setting::TypeGroup: return "a group { ... }";
        case Setting::TypeArray: return "an array [ ... ]";
        case Setting::TypeList: return "a list ( ... )";
        default: return "nothing";
    }
}

class Loader {
public:
    Loader(std::string name, std::string include_dir, IntegerLiterals literals)
        : name_(std::move(name)), include_dir_(std::move(include_dir)), literals_(std::move(literals)) {}

    // Pairs each integer setting of the main text with the literal it was
    // written as: the k-th integer setting in document order is the k-th
    // integer literal. Should the counts ever differ, nothing is paired and
    // libconfig's values are used as they are.
    void pair_literals(const Setting& root) {
        std::vector<const Setting*> settings;
        collect_integers(root, settings);
        if (literals_.size() != settings.size()) return;
        for (size_t k = 0; k < settings.size(); ++k) literal_of_[settings[k]] = &literals_[k];
    }

    std::vector<Error> errors;

    Config load(const Setting& root) {
        Config config;
        config.path = name_;
        reject_unknown(root, "", {"dataplane", "ipsec", "l2tp", "mgmt"});
        if (const Setting* dataplane = find(root, "dataplane")) {
            if (expect_group(*dataplane, "dataplane")) load_dataplane(*dataplane, config.dataplane);
        } else {
            fail(root, "dataplane", "missing (required)");
        }
        if (const Setting* ipsec = find(root, "ipsec")) {
            if (expect_group(*ipsec, "ipsec"))
                load_ipsec(*ipsec, config);
            else
                static_sas_unreadable_ = true;
        }
        // After ipsec: sessions name static SAs.
        if (const Setting* l2tp = find(root, "l2tp")) {
            if (expect_group(*l2tp, "l2tp")) load_l2tp(*l2tp, config);
        }
        if (const Setting* mgmt = find(root, "mgmt")) {
            if (expect_group(*mgmt, "mgmt")) load_mgmt(*mgmt, config.mgmt);
        }
        return config;
    }

private:
    std::string name_;
    std::string include_dir_;
    IntegerLiterals literals_;
    std::map<const Setting*, const IntegerLiteral*> literal_of_;
    // Static SAs that were already reported as wrong, so that a session
    // naming one is not reported a second time for it.
    std::vector<std::string> rejected_sa_names_;
    bool static_sas_unreadable_ = false;

    static void collect_integers(const Setting& s, std::vector<const Setting*>& out) {
        if (s.isAggregate()) {
            for (int i = 0; i < s.getLength(); ++i) collect_integers(s[i], out);
        } else if ((s.getType() == Setting::TypeInt || s.getType() == Setting::TypeInt64) &&
                   s.getSourceFile() == nullptr) {
            out.push_back(&s);
        }
    }

    // -- Reporting ----------------------------------------------------------

    std::string file_of(const Setting& s) const {
        return s.getSourceFile() ? included_path(s.getSourceFile(), include_dir_) : name_;
    }
    int line_of(const Setting& s) const {
        // libconfig dates a value by its parser's lookahead, which for the last
        // element of a list can be the next line; a paired literal knows better.
        if (auto it = literal_of_.find(&s); it != literal_of_.end()) return it->second->line;
        return std::max(1, static_cast<int>(s.getSourceLine()));
    }

    void fail(const Setting& at, const std::string& path, const std::string& what) {
        errors.push_back({file_of(at), line_of(at), path + ": " + what});
    }

    // -- Structure ----------------------------------------------------------

    static const Setting* find(const Setting& group, const char* key) {
        return group.exists(key) ? &group[key] : nullptr;
    }

    // Missing settings are reported at the line of the group that lacks them.
    const Setting* require(const Setting& group, const std::string& path, const char* key) {
        const Setting* s = find(group, key);
        if (!s) fail(group, join(path, key), "missing (required)");
        return s;
    }

    bool expect_type(const Setting& s, const std::string& path, bool ok, const char* expected) {
        if (!ok) fail(s, path, std::string("expected ") + expected + ", got " + type_name(s));
        return ok;
    }

    bool expect_group(const Setting& s, const std::string& path) {
        return expect_type(s, path, s.isGroup(), "a group { ... }");
    }

    void reject_unknown(const Setting& group, const std::string& path, std::initializer_list<std::string_view> known) {
        for (int i = 0; i < group.getLength(); ++i) {
            const Setting& s = group[i];
            std::string_view name = s.getName() ? s.getName() : "";
            if (std::find(known.begin(), known.end(), name) != known.end()) continue;
            std::string what = "unknown setting";
            // Typos are the usual cause: suggest the nearest known key.
            std::string_view best;
            size_t best_distance = 3;
            for (auto k : known) {
                size_t d = edit_distance(name, k);
                if (d < best_distance) best = k, best_distance = d;
            }
            if (!best.empty()) what += " (did you mean \"" + std::string(best) + "\"?)";
            fail(s, join(path, name), what);
        }
    }

    // -- Scalars ------------------------------------------------------------

    std::optional<Integer> integer(const Setting& s, const std::string& path) {
        if (!expect_type(s, path, s.getType() == Setting::TypeInt || s.getType() == Setting::TypeInt64,
                         "an integer"))
            return std::nullopt;
        int64_t v = s.getType() == Setting::TypeInt64 ? static_cast<long long>(s) : static_cast<int>(s);
        if (auto paired = literal_of_.find(&s); paired != literal_of_.end()) return as_written(*paired->second, v);
        if (s.getType() == Setting::TypeInt && s.getFormat() == Setting::FormatHex) {
            // A 32-bit hex literal is a bit pattern: 0xffffffff means 4294967295, not -1.
            v = static_cast<uint32_t>(v);
            return Integer{v, hex32(static_cast<uint32_t>(v))};
        }
        return Integer{v, std::to_string(v)};
    }

    // The value as written, where libconfig kept something else.
    static Integer as_written(const IntegerLiteral& lit, int64_t stored) {
        if (!lit.wrapped()) return Integer{stored, lit.text};
        // Beyond 64 bits: saturate; every range check then fails, quoting the text as written.
        return Integer{lit.value ? *lit.value : (lit.text[0] == '-' ? INT64_MIN : INT64_MAX), lit.text};
    }

    std::optional<int64_t> integer_in_range(const Setting& s, const std::string& path, int64_t min, int64_t max) {
        auto v = integer(s, path);
        if (!v) return std::nullopt;
        if (v->value < min || v->value > max) {
            fail(s, path, v->text + " is out of range (" + std::to_string(min) + ".." + std::to_string(max) + ")");
            return std::nullopt;
        }
        return v->value;
    }

    template <typename T>
    void read_integer(const Setting& group, const std::string& path, const char* key, int64_t min, int64_t max,
                      T& out) {
        if (const Setting* s = find(group, key)) {
            if (auto v = integer_in_range(*s, join(path, key), min, max)) out = static_cast<T>(*v);
        }
    }

    // An unsigned 32-bit value that may also be written as a string ("0x00001001"):
    // libconfig integers are signed, and hex strings are how SPIs are usually shown.
    std::optional<uint32_t> u32(const Setting& s, const std::string& path, const char* what, uint32_t min,
                                const std::string& note = "") {
        std::optional<Integer> v;
        if (s.getType() == Setting::TypeString) {
            const char* text = s;
            auto parsed = parse_u32_string(text);
            if (!parsed) {
                fail(s, path, quoted(text) + " is not " + what + " (an integer, or a hex string like \"0x00001001\")");
                return std::nullopt;
            }
            v = Integer{*parsed, text};
        } else if (expect_type(s, path, s.getType() == Setting::TypeInt || s.getType() == Setting::TypeInt64,
                               "an integer or a hex string")) {
            v = integer(s, path);
        }
        if (!v) return std::nullopt;
        if (v->value < min || v->value > UINT32_MAX) {
            fail(s, path, v->text + " is out of range (" + std::to_string(min) + "..4294967295" + note + ")");
            return std::nullopt;
        }
        return static_cast<uint32_t>(v->value);
    }

    std::optional<std::string> string(const Setting& s, const std::string& path) {
        if (!expect_type(s, path, s.getType() == Setting::TypeString, "a string")) return std::nullopt;
        return std::string(static_cast<const char*>(s));
    }

    std::optional<std::string> nonempty_string(const Setting& s, const std::string& path) {
        auto v = string(s, path);
        if (v && v->empty()) {
            fail(s, path, "must not be empty");
            return std::nullopt;
        }
        return v;
    }

    void read_bool(const Setting& group, const std::string& path, const char* key, bool& out) {
        if (const Setting* s = find(group, key)) {
            if (expect_type(*s, join(path, key), s->getType() == Setting::TypeBoolean, "true or false")) out = *s;
        }
    }

    std::optional<Ipv4Address> address(const Setting& s, const std::string& path) {
        auto text = string(s, path);
        if (!text) return std::nullopt;
        auto a = parse_ipv4(*text);
        if (!a) {
            fail(s, path, quoted(*text) + " is not an IPv4 address");
        } else if (!is_unicast(*a)) {
            fail(s, path, quoted(*text) + " is not a unicast address");
            return std::nullopt;
        }
        return a;
    }

    // RFC 4303 3.4.3 anti-replay window, in bits.
    std::optional<uint32_t> replay_window(const Setting& s, const std::string& path) {
        auto v = integer_in_range(s, path, 0, kMaxReplayWindow);
        if (v && *v % 64 != 0) {
            fail(s, path,
                 std::to_string(*v) + " is not a multiple of 64 (the window is kept in 64-bit blocks, RFC 6479)");
            return std::nullopt;
        }
        return v;
    }

    // -- dataplane ----------------------------------------------------------

    void load_dataplane(const Setting& group, DataplaneConfig& dp) {
        const std::string path = "dataplane";
        reject_unknown(group, path,
                       {"eal_args", "workers", "mbufs", "burst_size", "max_sas", "max_sessions", "stats_interval",
                        "access", "core"});

        if (const Setting* s = find(group, "eal_args")) {
            std::string p = join(path, "eal_args");
            if (expect_type(*s, p, s->isArray() || s->isList(), "a list of strings [ \"...\", ... ]")) {
                for (int i = 0; i < s->getLength(); ++i)
                    if (auto arg = string((*s)[i], element(p, i))) dp.eal_args.push_back(*arg);
            }
        }

        if (const Setting* s = require(group, path, "workers")) load_workers(*s, join(path, "workers"), dp);

        read_integer(group, path, "mbufs", 1023, 1 << 24, dp.mbufs);
        read_integer(group, path, "burst_size", 1, 256, dp.burst_size);
        read_integer(group, path, "max_sas", 1, 1 << 22, dp.max_sas);
        read_integer(group, path, "max_sessions", 1, kMaxSessions, dp.max_sessions);
        read_integer(group, path, "stats_interval", 0, 86400, dp.stats_interval);

        if (const Setting* s = require(group, path, "access"); s && expect_group(*s, join(path, "access")))
            load_port(*s, join(path, "access"), dp.access);
        if (const Setting* s = require(group, path, "core"); s && expect_group(*s, join(path, "core"))) {
            load_port(*s, join(path, "core"), dp.core);
            const Setting* device = find(*s, "device");
            if (device && !dp.core.device.empty() && dp.core.device == dp.access.device)
                fail(*device, join(path, "core.device"), quoted(dp.core.device) + " is also the access port's device");
        }
    }

    void load_workers(const Setting& s, const std::string& path, DataplaneConfig& dp) {
        constexpr int kMaxWorkers = 64;
        constexpr int64_t kMaxLcore = 1023;
        if (!expect_type(s, path, s.isArray() || s.isList(), "a list of lcore ids [ 1, 2, ... ]")) return;
        if (s.getLength() == 0) {
            fail(s, path, "must list at least one lcore");
            return;
        }
        if (s.getLength() > kMaxWorkers) {
            fail(s, path, std::to_string(s.getLength()) + " workers listed, at most " + std::to_string(kMaxWorkers));
            return;
        }
        for (int i = 0; i < s.getLength(); ++i) {
            const Setting& e = s[i];
            auto lcore = integer_in_range(e, element(path, i), 0, kMaxLcore);
            if (!lcore) continue;
            auto id = static_cast<unsigned>(*lcore);
            if (std::find(dp.worker_lcores.begin(), dp.worker_lcores.end(), id) != dp.worker_lcores.end()) {
                fail(e, element(path, i), "lcore " + std::to_string(id) + " is listed twice");
                continue;
            }
            dp.worker_lcores.push_back(id);
        }
    }

    void load_port(const Setting& group, const std::string& path, PortConfig& port) {
        reject_unknown(group, path, {"device", "address", "gateway", "ipv6_address", "gateway_ipv6", "gateway_mac",
                                     "mtu", "rx_descriptors", "tx_descriptors"});

        if (const Setting* s = require(group, path, "device")) {
            if (auto v = nonempty_string(*s, join(path, "device"))) port.device = *v;
        }
        if (const Setting* s = require(group, path, "address")) {
            std::string p = join(path, "address");
            if (auto text = string(*s, p)) {
                auto prefix = parse_ipv4_prefix(*text);
                if (!prefix)
                    fail(*s, p, quoted(*text) + " is not an IPv4 address/prefix");
                else if (!is_unicast(prefix->address))
                    fail(*s, p, quoted(*text) + " is not a unicast address");
                else
                    port.address = prefix->address, port.prefix_length = prefix->length;
            }
        }
        if (const Setting* s = find(group, "gateway")) {
            std::string p = join(path, "gateway");
            if (auto text = string(*s, p)) {
                auto gateway = parse_ipv4(*text);
                const uint32_t mask = port.prefix_length ? ~uint32_t{0} << (32 - port.prefix_length) : 0;
                if (!gateway || !is_unicast(*gateway))
                    fail(*s, p, quoted(*text) + " is not a unicast IPv4 address");
                else if (port.address && ((*gateway ^ port.address) & mask) != 0)
                    fail(*s, p, quoted(*text) + " is not on the port's subnet (" + join(path, "address") + ")");
                else if (*gateway == port.address)
                    fail(*s, p, quoted(*text) + " is the port's own address");
                else
                    port.gateway = *gateway;
            }
        }
        if (const Setting* s = find(group, "ipv6_address")) {
            std::string p = join(path, "ipv6_address");
            if (auto text = string(*s, p)) {
                auto prefix = parse_ipv6_prefix(*text);
                if (!prefix || prefix->length == 0 || prefix->length > 128)
                    fail(*s, p, quoted(*text) + " is not an IPv6 address/prefix length (2001:db8::1/64)");
                else if (prefix->address[0] == 0xff || prefix->address == std::array<uint8_t, 16>{})
                    fail(*s, p, quoted(*text) + " is not a unicast address");
                else
                    port.ipv6_address = prefix->address, port.ipv6_prefix_length = static_cast<uint8_t>(prefix->length);
            }
        }
        if (const Setting* s = find(group, "gateway_ipv6")) {
            std::string p = join(path, "gateway_ipv6");
            if (auto text = string(*s, p)) {
                std::array<uint8_t, 16> gateway{};
                if (inet_pton(AF_INET6, text->c_str(), gateway.data()) != 1 || gateway[0] == 0xff ||
                    gateway == std::array<uint8_t, 16>{})
                    fail(*s, p, quoted(*text) + " is not a unicast IPv6 address");
                else if (port.ipv6_prefix_length == 0)
                    fail(*s, p, "needs " + join(path, "ipv6_address") + " (the source of our solicitations)");
                else if (gateway == port.ipv6_address)
                    fail(*s, p, quoted(*text) + " is the port's own address");
                else
                    port.gateway_ipv6 = gateway;
            }
        }
        if (const Setting* s = find(group, "gateway_mac")) {
            std::string p = join(path, "gateway_mac");
            if (auto text = string(*s, p)) {
                if (auto mac = parse_mac(*text))
                    port.gateway_mac = *mac;
                else
                    fail(*s, p, quoted(*text) + " is not a MAC address (aa:bb:cc:dd:ee:ff)");
            }
        }
        read_integer(group, path, "mtu", 576, 9000, port.mtu);  // 576: RFC 791 minimum reassembly size
        read_descriptors(group, path, "rx_descriptors", port.rx_descriptors);
        read_descriptors(group, path, "tx_descriptors", port.tx_descriptors);
    }

    void read_descriptors(const Setting& group, const std::string& path, const char* key, uint16_t& out) {
        const Setting* s = find(group, key);
        if (!s) return;
        auto v = integer_in_range(*s, join(path, key), 64, 16384);
        if (!v) return;
        if ((*v & (*v - 1)) != 0) {
            fail(*s, join(path, key), std::to_string(*v) + " is not a power of two");
            return;
        }
        out = static_cast<uint16_t>(*v);
    }

    // -- ipsec --------------------------------------------------------------

    void load_ipsec(const Setting& group, Config& config) {
        const std::string path = "ipsec";
        reject_unknown(group, path, {"replay_window", "static_sas"});
        if (const Setting* s = find(group, "replay_window")) {
            if (auto v = replay_window(*s, join(path, "replay_window"))) config.ipsec.replay_window = *v;
        }
        if (const Setting* s = find(group, "static_sas")) {
            std::string p = join(path, "static_sas");
            if (!expect_type(*s, p, s->isList(), "a list of groups ( { ... }, ... )")) {
                static_sas_unreadable_ = true;
                return;
            }
            for (int i = 0; i < s->getLength(); ++i) {
                const Setting& sa = (*s)[i];
                if (!expect_group(sa, element(p, i))) continue;
                load_static_sa(sa, element(p, i), config);
            }
            // Found here, not when the data plane fills its table with its ports up.
            if (config.ipsec.static_sas.size() > config.dataplane.max_sas)
                fail(*s, p, std::to_string(config.ipsec.static_sas.size()) + " static SAs, more than dataplane.max_sas (" +
                                std::to_string(config.dataplane.max_sas) + ")");
        }
    }

    template <typename T>
    static const T* first_match(const std::vector<T>& items, auto matches) {
        auto it = std::find_if(items.begin(), items.end(), matches);
        return it == items.end() ? nullptr : &*it;
    }

    // The required, non-empty name of a list element, unique among those
    // already loaded (whose line the message names).
    template <typename Item>
    std::optional<std::string> unique_name(const Setting& group, const std::string& path,
                                           const std::vector<Item>& loaded, const char* what) {
        const Setting* s = require(group, path, "name");
        if (!s) return std::nullopt;
        auto name = nonempty_string(*s, join(path, "name"));
        if (!name) return std::nullopt;
        if (name->size() > kMaxNameLength) {
            fail(*s, join(path, "name"), quoted(*name) + " is " + std::to_string(name->size()) + " bytes long, at most " +
                                             std::to_string(kMaxNameLength) + " are kept");
            return std::nullopt;
        }
        if (auto same = first_match(loaded, [&](const Item& o) { return o.name == *name; })) {
            fail(*s, join(path, "name"),
                 quoted(*name) + " is already the name of the " + what + " at line " + std::to_string(same->line));
            return std::nullopt;
        }
        return name;
    }

    void load_static_sa(const Setting& group, const std::string& path, Config& config) {
        reject_unknown(group, path,
                       {"name", "direction", "spi", "cipher", "integrity", "cipher_key", "integrity_key", "local",
                        "peer", "udp_encap", "local_port", "peer_port", "replay_window", "first_sequence"});
        auto& sas = config.ipsec.static_sas;
        StaticSa sa;
        sa.line = static_cast<int>(group.getSourceLine());
        bool ok = true;
        auto check = [&ok](bool step) { ok = ok && step; };

        const auto name = unique_name(group, path, sas, "SA");
        check(name.has_value());
        if (name) sa.name = *name;

        std::optional<SaDirection> direction;
        if (const Setting* s = require(group, path, "direction")) {
            if (auto text = string(*s, join(path, "direction"))) {
                if (*text == "in")
                    direction = SaDirection::Inbound;
                else if (*text == "out")
                    direction = SaDirection::Outbound;
                else
                    fail(*s, join(path, "direction"), quoted(*text) + " is not a direction (valid: in, out)");
            }
        }
        check(direction.has_value());
        if (direction) sa.direction = *direction;
        const char* direction_word = sa.direction == SaDirection::Inbound ? "inbound" : "outbound";

        // RFC 4303 2.1: SPIs 1-255 are reserved by IANA, 0 is never sent.
        if (const Setting* s = require(group, path, "spi")) {
            std::string p = join(path, "spi");
            auto spi = u32(*s, p, "an SPI", 256, "; RFC 4303 2.1 reserves 1-255");
            if (spi && direction) {
                auto same =
                    first_match(sas, [&](const StaticSa& o) { return o.direction == sa.direction && o.spi == *spi; });
                if (same) {
                    fail(*s, p,
                         hex32(*spi) + " is already the SPI of " + direction_word + " SA " + quoted(same->name) +
                             " (line " + std::to_string(same->line) + ")");
                    spi.reset();
                }
            }
            check(spi.has_value());
            if (spi) sa.spi = *spi;
        } else {
            check(false);
        }

        std::optional<proto::EspCipher> cipher;
        if (const Setting* s = require(group, path, "cipher")) {
            if (auto text = string(*s, join(path, "cipher"))) {
                cipher = proto::cipher_from_name(*text);
                if (!cipher)
                    fail(*s, join(path, "cipher"), quoted(*text) + " is not a cipher (valid: " + cipher_names() + ")");
            }
        }
        check(cipher.has_value());
        if (cipher) sa.cipher = *cipher;

        const Setting* integrity_setting = find(group, "integrity");
        // Read through integrity_named(): resetting the optional in place trips GCC 12 -O1 -Wmaybe-uninitialized.
        std::optional<proto::EspIntegrity> integrity = proto::EspIntegrity::None;
        if (integrity_setting) integrity = integrity_named(*integrity_setting, join(path, "integrity"));
        check(integrity.has_value());
        if (integrity) sa.integrity = *integrity;

        bool transforms_ok = cipher && integrity;
        if (cipher && integrity) {
            const auto ci = proto::cipher_info(*cipher);
            const Setting& at = integrity_setting ? *integrity_setting : group;
            if (ci.aead && *integrity != proto::EspIntegrity::None) {
                // RFC 4106 / RFC 4303 3.2: an AEAD cipher carries its own ICV.
                fail(at, join(path, "integrity"),
                     std::string(ci.name) + " is an AEAD cipher and takes integrity \"none\", not " +
                         quoted(proto::integrity_info(*integrity).name));
                transforms_ok = false;
            } else if (!ci.aead && *integrity == proto::EspIntegrity::None) {
                fail(at, join(path, "integrity"),
                     std::string(ci.name) + " needs an integrity algorithm (valid: " + integrity_names(false) + ")");
                transforms_ok = false;
            }
        }

        if (const Setting* s = require(group, path, "cipher_key")) {
            auto key = key_bytes(*s, join(path, "cipher_key"));
            if (key && cipher) {
                const auto ci = proto::cipher_info(*cipher);
                if (key->size() != ci.key_size) {
                    std::string needs = std::to_string(ci.key_size);
                    if (ci.aead)
                        needs += " (" + std::to_string(ci.key_size - proto::kGcmSaltSize) + "-byte key + " +
                                 std::to_string(proto::kGcmSaltSize) + "-byte salt)";
                    fail(*s, join(path, "cipher_key"),
                         bytes_given(key->size()) + ", " + std::string(ci.name) + " needs " + needs);
                    key.reset();
                }
            }
            check(key.has_value());
            if (key) sa.cipher_key = std::move(*key);
        } else {
            check(false);
        }

        check(transforms_ok);

        // The integrity key is checked only against a valid cipher/integrity pair.
        if (transforms_ok && *integrity != proto::EspIntegrity::None) {
            const auto ii = proto::integrity_info(*integrity);
            if (const Setting* s = require(group, path, "integrity_key")) {
                auto key = key_bytes(*s, join(path, "integrity_key"));
                if (key && key->size() != ii.key_size) {
                    fail(*s, join(path, "integrity_key"),
                         bytes_given(key->size()) + ", " + std::string(ii.name) + " needs " +
                             std::to_string(ii.key_size));
                    key.reset();
                }
                check(key.has_value());
                if (key) sa.integrity_key = std::move(*key);
            } else {
                check(false);
            }
        } else if (const Setting* s = find(group, "integrity_key"); s && transforms_ok) {
            fail(*s, join(path, "integrity_key"), "not used with integrity \"none\"");
            check(false);
        }

        sa.local_address = config.dataplane.access.address;
        if (const Setting* s = find(group, "local")) {
            auto a = address(*s, join(path, "local"));
            check(a.has_value());
            if (a) sa.local_address = *a;
        }
        const Setting* peer = require(group, path, "peer");
        if (peer) {
            auto a = address(*peer, join(path, "peer"));
            check(a.has_value());
            if (a) sa.peer_address = *a;
        }
        check(peer != nullptr);

        read_bool(group, path, "udp_encap", sa.udp_encap);
        for (auto [key, out] : {std::pair{"local_port", &sa.local_port}, std::pair{"peer_port", &sa.peer_port}}) {
            const Setting* s = find(group, key);
            if (!s) continue;
            read_integer(group, path, key, 1, 65535, *out);
            // A setting that would be silently ignored is a mistake waiting to happen.
            if (!sa.udp_encap) fail(*s, join(path, key), "only used with udp_encap = true");
        }

        if (const Setting* s = find(group, "replay_window")) {
            if (direction == SaDirection::Outbound)
                fail(*s, join(path, "replay_window"), "only for inbound SAs (direction = \"in\")");
            else if (auto v = replay_window(*s, join(path, "replay_window")))
                sa.replay_window = *v;
        }
        if (const Setting* s = find(group, "first_sequence")) {
            std::string p = join(path, "first_sequence");
            if (direction == SaDirection::Inbound) {
                fail(*s, p, "only for outbound SAs (direction = \"out\")");
            } else if (auto v = u32(*s, p, "a sequence number", 1)) {  // RFC 4303 3.3.3: 0 is never sent
                sa.first_sequence = *v;
            }
        }

        // Only complete SAs are kept, so later duplicate checks compare real values.
        if (ok)
            sas.push_back(std::move(sa));
        else if (name)
            rejected_sa_names_.push_back(*name);
    }

    std::optional<proto::EspIntegrity> integrity_named(const Setting& s, const std::string& path) {
        auto text = string(s, path);
        if (!text) return std::nullopt;
        auto integrity = proto::integrity_from_name(*text);
        if (!integrity)
            fail(s, path, quoted(*text) + " is not an integrity algorithm (valid: " + integrity_names(true) + ")");
        return integrity;
    }

    // Key material is never echoed into messages: they end up in logs.
    std::optional<std::vector<uint8_t>> key_bytes(const Setting& s, const std::string& path) {
        auto text = string(s, path);
        if (!text) return std::nullopt;
        auto bytes = parse_hex_bytes(*text);
        if (!bytes) fail(s, path, "not a hex string (two hex digits per byte, optionally after 0x)");
        return bytes;
    }

    // -- mgmt ---------------------------------------------------------------

    void load_mgmt(const Setting& group, MgmtConfig& mgmt) {
        const std::string path = "mgmt";
        reject_unknown(group, path, {"socket", "socket_mode"});
        if (const Setting* s = find(group, "socket")) {
            const std::string p = join(path, "socket");
            if (auto v = nonempty_string(*s, p)) {
                // sockaddr_un holds 108 bytes with the terminating zero.
                if ((*v)[0] != '/') fail(*s, p, quoted(*v) + " is not an absolute path");
                else if (v->size() > 107) fail(*s, p, "longer than 107 bytes, the limit of a Unix socket path");
                else mgmt.socket = *v;
            }
        }
        if (const Setting* s = find(group, "socket_mode")) {
            const std::string p = join(path, "socket_mode");
            if (auto v = string(*s, p)) {
                char* end = nullptr;
                const unsigned long mode = std::strtoul(v->c_str(), &end, 8);
                if (v->empty() || *end != 0 || mode > 0777)
                    fail(*s, p, quoted(*v) + " is not an octal permission mode like \"0600\"");
                else mgmt.socket_mode = static_cast<uint32_t>(mode);
            }
        }
    }

    // -- l2tp ---------------------------------------------------------------

    void load_l2tp(const Setting& group, Config& config) {
        const std::string path = "l2tp";
        reject_unknown(group, path, {"static_sessions"});
        if (const Setting* s = find(group, "static_sessions")) {
            std::string p = join(path, "static_sessions");
            if (!expect_type(*s, p, s->isList(), "a list of groups ( { ... }, ... )")) return;
            for (int i = 0; i < s->getLength(); ++i) {
                const Setting& session = (*s)[i];
                if (!expect_group(session, element(p, i))) continue;
                load_static_session(session, element(p, i), config);
            }
            if (config.l2tp.static_sessions.size() > config.dataplane.max_sessions)
                fail(*s, p, std::to_string(config.l2tp.static_sessions.size()) +
                                " static sessions, more than dataplane.max_sessions (" +
                                std::to_string(config.dataplane.max_sessions) + ")");
        }
    }

    void load_static_session(const Setting& group, const std::string& path, Config& config) {
        reject_unknown(group, path,
                       {"name", "sa_in", "sa_out", "tunnel_id", "session_id", "peer_tunnel_id", "peer_session_id",
                        "client_ipv4", "client_ipv6_prefix", "mtu", "mss_clamp", "sequencing"});
        auto& sessions = config.l2tp.static_sessions;
        StaticSession session;
        session.line = static_cast<int>(group.getSourceLine());
        bool ok = true;
        auto check = [&ok](bool step) { ok = ok && step; };

        const auto name = unique_name(group, path, sessions, "session");
        check(name.has_value());
        if (name) session.name = *name;

        const StaticSa* sa_in = session_sa(group, path, "sa_in", SaDirection::Inbound, config.ipsec);
        const StaticSa* sa_out = session_sa(group, path, "sa_out", SaDirection::Outbound, config.ipsec);
        check(sa_in && sa_out);
        if (sa_in) session.sa_in = sa_in->name;
        if (sa_out) session.sa_out = sa_out->name;
        // What the client sends through sa_in is answered through sa_out: both lead to the same client.
        if (sa_in && sa_out && sa_in->peer_address != sa_out->peer_address) {
            fail(group["sa_out"], join(path, "sa_out"),
                 "peer " + format_ipv4(sa_out->peer_address) + " of SA " + quoted(sa_out->name) + " (line " +
                     std::to_string(sa_out->line) + ") differs from peer " + format_ipv4(sa_in->peer_address) +
                     " of sa_in " + quoted(sa_in->name) + " (line " + std::to_string(sa_in->line) +
                     "); both SAs are the client's");
            check(false);
        }

        // RFC 2661: a data session's tunnel and session ids are non-zero; 0 is for control messages.
        auto read_id = [&](const char* key, uint16_t& out) {
            const Setting* s = require(group, path, key);
            std::optional<int64_t> v;
            if (s) v = integer_in_range(*s, join(path, key), 1, 65535);
            if (v) out = static_cast<uint16_t>(*v);
            check(v.has_value());
            return v.has_value();
        };
        bool tunnel_id_ok = read_id("tunnel_id", session.tunnel_id);
        bool session_id_ok = read_id("session_id", session.session_id);
        read_id("peer_tunnel_id", session.peer_tunnel_id);
        read_id("peer_session_id", session.peer_session_id);
        if (sa_in && tunnel_id_ok && session_id_ok) {
            auto same = first_match(sessions, [&](const StaticSession& o) {
                return o.sa_in == session.sa_in && o.tunnel_id == session.tunnel_id &&
                       o.session_id == session.session_id;
            });
            if (same) {
                fail(group["session_id"], join(path, "session_id"),
                     "sa_in " + quoted(session.sa_in) + ", tunnel_id " + std::to_string(session.tunnel_id) +
                         " and session_id " + std::to_string(session.session_id) + " are already those of session " +
                         quoted(same->name) + " (line " + std::to_string(same->line) +
                         "); received L2TP data is looked up by all three");
                check(false);
            }
        }

        const Setting* ipv4 = find(group, "client_ipv4");
        if (ipv4) {
            std::string p = join(path, "client_ipv4");
            auto a = address(*ipv4, p);
            if (a) {
                auto same = first_match(sessions, [&](const StaticSession& o) { return o.client_ipv4 == *a; });
                if (same) {
                    fail(*ipv4, p,
                         format_ipv4(*a) + " is already the address of session " + quoted(same->name) + " (line " +
                             std::to_string(same->line) + ")");
                    a.reset();
                }
            }
            check(a.has_value());
            if (a) session.client_ipv4 = *a;
        }
        const Setting* ipv6 = find(group, "client_ipv6_prefix");
        if (ipv6) {
            std::string p = join(path, "client_ipv6_prefix");
            auto prefix = ipv6_prefix(*ipv6, p);
            if (prefix) {
                auto same = first_match(sessions, [&](const StaticSession& o) {
                    return o.client_ipv6_prefix_length == prefix->length && o.client_ipv6_prefix == prefix->address;
                });
                if (same) {
                    fail(*ipv6, p,
                         format_ipv6(prefix->address) + "/" + std::to_string(prefix->length) +
                             " is already the prefix of session " + quoted(same->name) + " (line " +
                             std::to_string(same->line) + ")");
                    prefix.reset();
                }
            }
            check(prefix.has_value());
            if (prefix) {
                session.client_ipv6_prefix = prefix->address;
                session.client_ipv6_prefix_length = static_cast<uint8_t>(prefix->length);
            }
        }
        if (!ipv4 && !ipv6) {
            fail(group, path, "neither client_ipv4 nor client_ipv6_prefix given (at least one is required)");
            check(false);
        }

        // 576: RFC 791 minimum reassembly size; 1500: RFC 1661 6.1 default MRU.
        if (const Setting* s = find(group, "mtu")) {
            std::string p = join(path, "mtu");
            if (auto v = integer_in_range(*s, p, 576, 1500)) {
                if (ipv6 && *v < 1280)
                    fail(*s, p,
                         std::to_string(*v) + " is below 1280, the IPv6 minimum link MTU (RFC 8200 5), and "
                                              "client_ipv6_prefix is given");
                else
                    session.mtu = static_cast<uint16_t>(*v);
            }
        }
        if (const Setting* s = find(group, "mss_clamp")) {
            std::string p = join(path, "mss_clamp");
            // 536: the default MSS (RFC 879, 576 - 40); 0 derives the clamp from mtu.
            if (auto v = integer(*s, p)) {
                if (v->value == 0 || (v->value >= 536 && v->value <= 9000))
                    session.mss_clamp = static_cast<uint16_t>(v->value);
                else
                    fail(*s, p, v->text + " is out of range (0, or 536..9000)");
            }
        }
        read_bool(group, path, "sequencing", session.sequencing);

        // As with SAs, only complete sessions are kept for the duplicate checks.
        if (ok) sessions.push_back(std::move(session));
    }

    // A session's sa_in or sa_out: the name of a static SA of that direction.
    const StaticSa* session_sa(const Setting& group, const std::string& path, const char* key, SaDirection direction,
                               const IpsecConfig& ipsec) {
        const Setting* s = require(group, path, key);
        if (!s) return nullptr;
        std::string p = join(path, key);
        auto name = nonempty_string(*s, p);
        if (!name) return nullptr;
        const bool inbound = direction == SaDirection::Inbound;
        const std::string not_one = quoted(*name) + " is not an " + (inbound ? "inbound" : "outbound") +
                                    " SA in ipsec.static_sas";
        const StaticSa* sa = first_match(ipsec.static_sas, [&](const StaticSa& o) { return o.name == *name; });
        if (!sa) {
            // An SA already reported as wrong is not reported again through every session using it.
            bool reported = static_sas_unreadable_ || std::find(rejected_sa_names_.begin(), rejected_sa_names_.end(),
                                                                *name) != rejected_sa_names_.end();
            if (!reported) fail(*s, p, not_one);
            return nullptr;
        }
        if (sa->direction != direction) {
            fail(*s, p,
                 not_one + " (it is " + (inbound ? "outbound" : "inbound") + ", line " + std::to_string(sa->line) +
                     ")");
            return nullptr;
        }
        return sa;
    }

    // "2001:db8:1::/64": length 1..128, no bits set beyond it.
    std::optional<Ipv6Prefix> ipv6_prefix(const Setting& s, const std::string& path) {
        auto text = string(s, path);
        if (!text) return std::nullopt;
        auto prefix = parse_ipv6_prefix(*text);
        if (!prefix) {
            fail(s, path, quoted(*text) + " is not an IPv6 prefix (like \"2001:db8:1::/64\")");
            return std::nullopt;
        }
        std::string length = std::to_string(prefix->length);
        if (prefix->length < 1 || prefix->length > 128) {
            fail(s, path, "prefix length " + length + " of " + quoted(*text) + " is out of range (1..128)");
            return std::nullopt;
        }
        auto network = ipv6_network(prefix->address, prefix->length);
        if (network != prefix->address) {
            fail(s, path,
                 quoted(*text) + " has bits set beyond the /" + length + " (did you mean " +
                     quoted(format_ipv6(network) + "/" + length) + "?)");
            return std::nullopt;
        }
        return prefix;
    }
};

LoadResult load_text(const std::string& text, const std::string& name, const std::string& include_dir) {
    LoadResult result;
    libconfig::Config parsed;
    if (!include_dir.empty()) parsed.setIncludeDir(include_dir.c_str());
    try {
        parsed.readString(text);
    } catch (const libconfig::ParseException& e) {
        std::string file = e.getFile() ? included_path(e.getFile(), include_dir) : name;
        std::string what = e.getError() ? e.getError() : "syntax error";
        std::string message = file + ":" + std::to_string(e.getLine()) + ": syntax error";
        if (what != "syntax error") message += ": " + what;
        result.errors.push_back(message);
        return result;
    }

    Loader loader(name, include_dir, scan_integer_literals(text));
    Config config;
    try {
        loader.pair_literals(parsed.getRoot());
        config = loader.load(parsed.getRoot());
    } catch (const libconfig::ConfigException& e) {
        // Not expected: every access is type-checked first.
        loader.errors.push_back({name, 1, std::string("internal error reading the configuration: ") + e.what()});
    }

    if (loader.errors.empty()) {
        result.config = std::move(config);
        return result;
    }
    // Main file first, then included files; each in line order.
    std::stable_sort(loader.errors.begin(), loader.errors.end(), [&](const Error& a, const Error& b) {
        return std::tuple(a.file != name, a.file, a.line) < std::tuple(b.file != name, b.file, b.line);
    });
    for (const auto& e : loader.errors)
        result.errors.push_back(e.file + ":" + std::to_string(e.line) + ": " + e.text);
    return result;
}

}  // namespace

LoadResult load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        LoadResult result;
        result.errors.push_back(path + ": cannot read: " + std::strerror(err));
        return result;
    }
    std::stringstream text;
    text << in.rdbuf();
    // @include paths are taken relative to the directory of the main file.
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
    return load_text(text.str(), path, dir);
}

LoadResult load_string(const std::string& text, const std::string& name) { return load_text(text, name, ""); }

std::string format_ipv4(Ipv4Address a) {
    return std::to_string(a >> 24) + "." + std::to_string(a >> 16 & 0xff) + "." + std::to_string(a >> 8 & 0xff) +
           "." + std::to_string(a & 0xff);
}

std::optional<Ipv4Address> parse_ipv4(const std::string& s) {
    Ipv4Address a = 0;
    size_t start = 0;
    for (int part = 0; part < 4; ++part) {
        size_t end = part < 3 ? s.find('.', start) : s.size();
        if (end == std::string::npos) return std::nullopt;
        auto octet = parse_decimal(std::string_view(s).substr(start, end - start), 3);
        if (!octet || *octet > 255) return std::nullopt;
        a = a << 8 | *octet;
        start = end + 1;
    }
    return a;
}

std::optional<Config> load_or_report(const std::string& path, const char* program) {
    LoadResult loaded = load_file(path);
    if (!loaded.config) {
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.c_str());
        std::fprintf(stderr, "%s: %zu error(s) in %s, not starting\n", program, loaded.errors.size(), path.c_str());
    }
    return std::move(loaded.config);
}

}  // namespace conc::config
