#include "common/json/json.h"

#include <cstdint>
#include <cstdio>

namespace conc::json {

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

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The four hex digits at s[at..at+4) as a number, or -1.
long hex4(std::string_view s, size_t at) {
    if (at + 4 > s.size()) return -1;
    long v = 0;
    for (size_t i = at; i < at + 4; ++i) {
        const int d = hex_digit(s[i]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | cp >> 6);
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | cp >> 12);
        out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | cp >> 18);
        out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
        out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

}  // namespace

// RFC 8259 7. \uXXXX becomes UTF-8 (a surrogate pair one code point, a lone
// surrogate U+FFFD); an escape that is not one stays as written.
std::string json_unescape(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 == s.size()) {
            out += s[i];
            continue;
        }
        const char c = s[++i];
        switch (c) {
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            case 'u': {
                long cp = hex4(s, i + 1);
                if (cp < 0) {
                    out += "\\u";
                    break;
                }
                i += 4;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    const long low = i + 2 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u' ? hex4(s, i + 3) : -1;
                    if (low >= 0xDC00 && low < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        i += 6;
                    } else {
                        cp = 0xFFFD;
                    }
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    cp = 0xFFFD;
                }
                append_utf8(out, static_cast<uint32_t>(cp));
                break;
            }
            default: out += c;  // \" \\ \/ and anything else: the character itself
        }
    }
    return out;
}

namespace {

size_t skip_blanks(std::string_view s, size_t at) {
    while (at < s.size() && (s[at] == ' ' || s[at] == '\t' || s[at] == '\r' || s[at] == '\n')) ++at;
    return at;
}

// s[at] is the opening quote of a string: where its closing quote is, or npos.
size_t string_end(std::string_view s, size_t at) {
    for (++at; at < s.size(); ++at) {
        if (s[at] == '\\') ++at;
        else if (s[at] == '"') return at;
    }
    return std::string_view::npos;
}

// Past the value that starts at s[at]: a string, or anything up to the ','
// or '}' that ends it outside brackets and strings. npos if it never ends.
size_t value_end(std::string_view s, size_t at) {
    if (at < s.size() && s[at] == '"') {
        const size_t end = string_end(s, at);
        return end == std::string_view::npos ? end : end + 1;
    }
    int depth = 0;
    for (; at < s.size(); ++at) {
        const char c = s[at];
        if (c == '"') {
            at = string_end(s, at);
            if (at == std::string_view::npos) return at;
        } else if (c == '{' || c == '[') {
            ++depth;
        } else if (c == '}' || c == ']') {
            if (depth == 0) return at;
            --depth;
        } else if (c == ',' && depth == 0) {
            return at;
        }
    }
    return std::string_view::npos;
}

// Where the value of the top-level member "key" starts (after the colon and
// blanks), or npos. Members are walked in order, so a key's name inside
// another member's string value is not taken for it.
size_t value_start(std::string_view object, std::string_view key) {
    size_t at = skip_blanks(object, 0);
    if (at == object.size() || object[at] != '{') return std::string_view::npos;
    at = skip_blanks(object, at + 1);
    while (at < object.size() && object[at] == '"') {
        const size_t key_end = string_end(object, at);
        if (key_end == std::string_view::npos) return key_end;
        const bool match = json_unescape(object.substr(at + 1, key_end - at - 1)) == key;
        at = skip_blanks(object, key_end + 1);
        if (at == object.size() || object[at] != ':') return std::string_view::npos;
        at = skip_blanks(object, at + 1);
        if (match) return at;
        at = value_end(object, at);
        if (at == std::string_view::npos) return at;
        at = skip_blanks(object, at);
        if (at == object.size() || object[at] != ',') return std::string_view::npos;
        at = skip_blanks(object, at + 1);
    }
    return std::string_view::npos;
}

}  // namespace

std::optional<std::string> json_string_member(std::string_view object, std::string_view key) {
    size_t at = value_start(object, key);
    if (at == std::string_view::npos || at == object.size() || object[at] != '"') return std::nullopt;
    const size_t end = string_end(object, at);
    if (end == std::string_view::npos) return std::nullopt;
    return json_unescape(object.substr(at + 1, end - at - 1));
}

std::optional<bool> json_bool_member(std::string_view object, std::string_view key) {
    const size_t at = value_start(object, key);
    if (at == std::string_view::npos) return std::nullopt;
    if (object.substr(at, 4) == "true") return true;
    if (object.substr(at, 5) == "false") return false;
    return std::nullopt;
}

}  // namespace conc::json
