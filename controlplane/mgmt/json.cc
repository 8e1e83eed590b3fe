#include "controlplane/mgmt/json.h"

#include <cstdio>

namespace conc::cp::mgmt {

std::string json_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            case '\r': out += "\\r"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out;
}

std::string json_unescape(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 == s.size()) {
            out += s[i];
            continue;
        }
        const char c = s[++i];
        switch (c) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'u':
                if (i + 4 < s.size()) {
                    out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 4)), nullptr, 16) & 0x7F);
                    i += 4;
                }
                break;
            default: out += c;
        }
    }
    return out;
}

namespace {

// Where the value of "key": starts (after the colon and blanks), or npos.
size_t value_start(std::string_view object, std::string_view key) {
    const std::string quoted = "\"" + std::string(key) + "\"";
    size_t at = object.find(quoted);
    if (at == std::string_view::npos) return at;
    at += quoted.size();
    while (at < object.size() && (object[at] == ' ' || object[at] == '\t')) ++at;
    if (at == object.size() || object[at] != ':') return std::string_view::npos;
    ++at;
    while (at < object.size() && (object[at] == ' ' || object[at] == '\t')) ++at;
    return at;
}

}  // namespace

std::optional<std::string> json_string_member(std::string_view object, std::string_view key) {
    size_t at = value_start(object, key);
    if (at == std::string_view::npos || at == object.size() || object[at] != '"') return std::nullopt;
    const size_t begin = ++at;
    for (; at < object.size(); ++at) {
        if (object[at] == '\\') ++at;
        else if (object[at] == '"') return json_unescape(object.substr(begin, at - begin));
    }
    return std::nullopt;
}

std::optional<bool> json_bool_member(std::string_view object, std::string_view key) {
    const size_t at = value_start(object, key);
    if (at == std::string_view::npos) return std::nullopt;
    if (object.substr(at, 4) == "true") return true;
    if (object.substr(at, 5) == "false") return false;
    return std::nullopt;
}

}  // namespace conc::cp::mgmt
