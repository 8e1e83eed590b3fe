// The little JSON our tools speak: the management socket (one object per
// line, flat requests such as {"command": "show sessions", "json": true},
// replies built as text) and concentrator-dp's --stats-json. Enough to read
// our own requests; not a general parser.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace conc::json {

std::string json_escape(std::string_view s);
std::string json_unescape(std::string_view s);  // the inside of a string literal
// The value of a top-level string member, or nullopt. The object's members
// are walked in order (strings, nested objects and arrays skipped whole), so
// nothing inside another member's value is taken for the key.
std::optional<std::string> json_string_member(std::string_view object, std::string_view key);
// The value of a top-level boolean member, or nullopt (as above).
std::optional<bool> json_bool_member(std::string_view object, std::string_view key);

}  // namespace conc::json
