#pragma once
// Character classes of the RFC 3261 §25.1 grammar, as one lookup table, plus the
// small scanning helpers the URI, header and message parsers share. Internal to
// src/sip/message: not part of the public interface.

#include <array>
#include <cstdint>
#include <string_view>

namespace tandem::sip::detail {

enum CharClass : std::uint16_t {
  kAlnum = 1 << 0,
  kDigit = 1 << 1,
  kHex = 1 << 2,
  // token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
  kToken = 1 << 3,
  // unreserved = alphanum / mark; mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
  kUnreserved = 1 << 4,
  // user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
  kUserExtra = 1 << 5,
  // password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )
  kPasswordExtra = 1 << 6,
  // param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
  kParamExtra = 1 << 7,
  // hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"
  kHnvExtra = 1 << 8,
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
  kScheme = 1 << 9,
  // LWS: SP, HTAB and the CR LF of folded lines (the splitter guarantees a CRLF
  // inside a header value is followed by SP or HTAB).
  kLws = 1 << 10,
  // hostname characters: alphanum / "-" / "." and, leniently, "_" (RFC 3261
  // does not allow it, but container and NetBIOS-style names carry it).
  kHost = 1 << 11,
  // An unquoted gen-value of a header parameter: token, and the "[", "]", ":"
  // of IPv6 references and bare IPv6 addresses ("received").
  kGenValue = 1 << 12,
};

constexpr std::array<std::uint16_t, 256> makeCharTable() {
  std::array<std::uint16_t, 256> t{};
  auto add = [&t](std::string_view chars, std::uint16_t cls) {
    for (char c : chars)
      t[static_cast<unsigned char>(c)] |= cls;
  };
  for (int c = '0'; c <= '9'; ++c)
    t[c] |= kAlnum | kDigit | kHex;
  for (int c = 'a'; c <= 'z'; ++c)
    t[c] |= kAlnum;
  for (int c = 'A'; c <= 'Z'; ++c)
    t[c] |= kAlnum;
  add("abcdefABCDEF", kHex);
  for (int c = 0; c < 256; ++c) {
    if (t[c] & kAlnum) t[c] |= kToken | kUnreserved | kScheme | kHost;
  }
  add("-.!%*_+`'~", kToken);
  add("-_.!~*'()", kUnreserved);
  add("&=+$,;?/", kUserExtra);
  add("&=+$,", kPasswordExtra);
  add("[]/:&+$", kParamExtra);
  add("[]/?:+$", kHnvExtra);
  add("+-.", kScheme);
  add(" \t\r\n", kLws);
  add("-._", kHost);
  for (int c = 0; c < 256; ++c) {
    if (t[c] & kToken) t[c] |= kGenValue;
  }
  add("[]:", kGenValue);
  return t;
}

inline constexpr std::array<std::uint16_t, 256> kCharTable = makeCharTable();

inline bool is(char c, std::uint16_t cls) {
  return (kCharTable[static_cast<unsigned char>(c)] & cls) != 0;
}
inline bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
inline bool isLws(char c) {
  return is(c, kLws);
}
inline bool isWsp(char c) {
  return c == ' ' || c == '\t';
}
inline char toLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

// ASCII case-insensitive equality with a lower-case literal.
inline bool iequalsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (toLower(s[i]) != lower[i]) return false;
  }
  return true;
}

inline bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is(c, kToken)) return false;
  }
  return true;
}

inline std::string_view trimLws(std::string_view s) {
  while (!s.empty() && isLws(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && isLws(s.back()))
    s.remove_suffix(1);
  return s;
}

inline void skipLws(std::string_view& s) {
  while (!s.empty() && isLws(s.front()))
    s.remove_prefix(1);
}

// Takes the longest prefix whose characters are all of class `cls`.
inline std::string_view takeWhile(std::string_view& s, std::uint16_t cls) {
  std::size_t n = 0;
  while (n < s.size() && is(s[n], cls))
    ++n;
  std::string_view out = s.substr(0, n);
  s.remove_prefix(n);
  return out;
}

// Parses 1*DIGIT into a value no larger than `max`; false on empty, non-digit or
// overflow. Leading zeros are allowed ("0068").
template <typename T>
bool parseNumber(std::string_view s, T max, T& out) {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!isDigit(c)) return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (v > static_cast<std::uint64_t>(max)) return false;
  }
  out = static_cast<T>(v);
  return true;
}

// Characters of `s` are each either in class `cls` or part of a valid %XX escape.
inline bool isEscapedRun(std::string_view s, std::uint16_t cls) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !is(s[i + 1], kHex) || !is(s[i + 2], kHex)) return false;
      i += 2;
    } else if (!is(c, cls)) {
      return false;
    }
  }
  return true;
}

// Finds the end of a quoted-string starting at s[0] == '"'. Returns the index
// one past the closing quote, or npos when unterminated.
//   quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
//   quoted-pair   = "\" (%x00-09 / %x0B-0C / %x0E-7F)
inline std::size_t quotedStringEnd(std::string_view s) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      if (i + 1 >= s.size()) return std::string_view::npos;
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

}  // namespace tandem::sip::detail
