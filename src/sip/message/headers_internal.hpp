#pragma once
// Allocation-free building blocks of the header parsers, shared with the
// message validator. Internal to src/sip/message.

#include "sip/message/chars.hpp"
#include "sip/message/headers.hpp"

#include <string_view>
#include <vector>

namespace tandem::sip::detail {

// Calls f(element) for each top-level comma-separated element of `value`
// (commas inside quoted strings and <...> do not split), trimmed of LWS. Empty
// elements are reported too, so "a,,b" yields "a", "", "b". An all-blank value
// yields nothing. Stops early and returns false when f returns false.
template <typename F>
bool forEachCommaElement(std::string_view value, F&& f) {
  value = trimLws(value);
  if (value.empty()) return true;
  // Most values hold one element: without any comma there is nothing to split.
  if (value.find(',') == std::string_view::npos) return f(value);
  std::size_t start = 0;
  bool inQuotes = false;
  int angle = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (inQuotes) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inQuotes = false;
      }
    } else if (c == '"') {
      inQuotes = true;
    } else if (c == '<') {
      ++angle;
    } else if (c == '>') {
      if (angle > 0) --angle;
    } else if (c == ',' && angle == 0) {
      if (!f(trimLws(value.substr(start, i - start)))) return false;
      start = i + 1;
    }
  }
  return f(trimLws(value.substr(start)));
}

// Header parameters: *( SEMI generic-param ), with SWS around ";" and "=".
//   generic-param = token [ EQUAL gen-value ]
//   gen-value     = token / host / quoted-string
// Consumes parameters from the front of `s`; stops before the first character
// that does not start a parameter. Params are stored only when `out` is set;
// the value of the first "tag" parameter goes to `tag` when that is set.
bool parseHeaderParams(std::string_view& s, std::vector<Param>* out,
                       std::string_view* tag = nullptr);

bool parseNameAddr(std::string_view value, NameAddr& out, bool keepParams,
                   std::string_view* tag = nullptr);
// headerIdFromName() for a name already known to be a token (the splitter's).
HeaderId headerIdFromToken(std::string_view name);
bool parseVia(std::string_view value, Via& out, bool keepParams);

}  // namespace tandem::sip::detail
