#include "sip/message/uri.hpp"

#include "sip/message/chars.hpp"
#include "sip/message/uri_internal.hpp"

#include <algorithm>
#include <array>
#include <charconv>

namespace tandem::sip {

using namespace detail;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (toLower(a[i]) != toLower(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> findParam(const std::vector<Param>& params, std::string_view name) {
  for (const Param& p : params) {
    if (iequals(p.name, name)) return p.value;
  }
  return std::nullopt;
}

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hexValue(s[i + 1]);
      int lo = hexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

namespace detail {

//   IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
bool isIpv4(std::string_view s) {
  for (int part = 0; part < 4; ++part) {
    std::size_t n = 0;
    unsigned v = 0;
    while (n < s.size() && n < 4 && isDigit(s[n]))
      v = v * 10 + static_cast<unsigned>(s[n++] - '0');
    if (n == 0 || n > 3 || v > 255) return false;
    s.remove_prefix(n);
    if (part < 3) {
      if (s.empty() || s.front() != '.') return false;
      s.remove_prefix(1);
    }
  }
  return s.empty();
}

//   IPv6address = hexpart [ ":" IPv4address ]
//   hexpart     = hexseq / hexseq "::" [ hexseq ] / "::" [ hexseq ]
//   hexseq      = hex4 *( ":" hex4)
bool isIpv6(std::string_view s) {
  const std::size_t n = s.size();
  if (n < 2) return false;
  int groups = 0;
  bool compressed = false;
  std::size_t i = 0;
  if (s[0] == ':') {
    if (s[1] != ':') return false;
    compressed = true;
    i = 2;
  }
  while (i < n) {
    std::size_t j = i;
    while (j < n && is(s[j], kHex))
      ++j;
    if (j < n && s[j] == '.') {
      if (!isIpv4(s.substr(i))) return false;
      groups += 2;
      i = n;
      break;
    }
    if (j == i || j - i > 4) return false;
    ++groups;
    i = j;
    if (i == n) break;
    if (s[i] != ':') return false;
    ++i;
    if (i < n && s[i] == ':') {
      if (compressed) return false;
      compressed = true;
      ++i;
    } else if (i == n) {
      return false;
    }
  }
  return compressed ? groups <= 7 : groups == 8;
}

//   host = hostname / IPv4address / IPv6reference
//   hostname = *( domainlabel "." ) toplabel [ "." ]
bool isHost(std::string_view s) {
  if (s.empty()) return false;
  if (s.front() == '[') {
    return s.size() > 2 && s.back() == ']' && isIpv6(s.substr(1, s.size() - 2));
  }
  if (!is(s.front(), kAlnum)) return false;
  char prev = 0;
  for (char c : s) {
    if (!is(c, kHost)) return false;
    if (c == '.' && prev == '.') return false;
    prev = c;
  }
  return true;
}

// Takes "host[:port]" from the front of `s` (no LWS inside), leaving `s` after
// the port.
bool takeHost(std::string_view& s, std::string_view& host) {
  if (!s.empty() && s.front() == '[') {
    std::size_t end = s.find(']');
    if (end == std::string_view::npos) return false;
    ++end;
    host = s.substr(0, end);
    if (!isHost(host)) return false;
    s.remove_prefix(end);
    return true;
  }
  // hostname / IPv4address in one pass: what isHost() checks of the run of
  // hostname characters (an alphanumeric first, no empty label inside).
  if (s.empty() || !is(s.front(), kAlnum)) return false;
  const char* p = s.data();
  const std::size_t size = s.size();
  std::size_t end = 1;
  for (; end < size; ++end) {
    const char c = p[end];
    if (!is(c, kHost)) break;
    if (c == '.' && p[end - 1] == '.') return false;
  }
  host = s.substr(0, end);
  s.remove_prefix(end);
  return true;
}

bool parseHostPort(std::string_view& s, std::string_view& host, std::uint16_t& port) {
  if (!takeHost(s, host)) return false;
  port = 0;
  if (!s.empty() && s.front() == ':') {
    s.remove_prefix(1);
    std::size_t n = 0;
    while (n < s.size() && isDigit(s[n]))
      ++n;
    // Port 0 is rejected: it cannot be told apart from "no port" in a Uri.
    if (!parseNumber<std::uint16_t>(s.substr(0, n), 65535, port) || port == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

namespace {

constexpr std::uint16_t kParamChar = kUnreserved | kParamExtra;
constexpr std::uint16_t kHnvChar = kUnreserved | kHnvExtra;

//   uri-parameters = *( ";" uri-parameter)
//   other-param    = pname [ "=" pvalue ]
//   pname = 1*paramchar   pvalue = 1*paramchar
bool parseUriParams(std::string_view s, std::vector<Param>* out) {
  // One allocation, of the final size, when there are parameters to keep.
  if (out && !s.empty()) {
    out->reserve(out->size() + static_cast<std::size_t>(std::count(s.begin(), s.end(), ';')));
  }
  while (!s.empty()) {
    if (s.front() != ';') return false;
    s.remove_prefix(1);
    std::size_t end = s.find(';');
    std::string_view item = s.substr(0, end);
    s.remove_prefix(end == std::string_view::npos ? s.size() : end);
    std::size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
    if (name.empty() || !isEscapedRun(name, kParamChar)) return false;
    if (eq != std::string_view::npos && (value.empty() || !isEscapedRun(value, kParamChar))) {
      return false;
    }
    if (out) out->push_back(Param{name, value});
  }
  return true;
}

//   headers = "?" header *( "&" header )
//   header  = hname "=" hvalue
bool validUriHeaders(std::string_view s) {
  if (s.empty()) return false;
  while (true) {
    std::size_t amp = s.find('&');
    std::string_view item = s.substr(0, amp);
    std::size_t eq = item.find('=');
    if (eq == 0 || eq == std::string_view::npos) return false;
    if (!isEscapedRun(item.substr(0, eq), kHnvChar)) return false;
    if (!isEscapedRun(item.substr(eq + 1), kHnvChar)) return false;
    if (amp == std::string_view::npos) return true;
    s.remove_prefix(amp + 1);
  }
}

bool parseSipRest(std::string_view rest, Uri& out, bool keepParams) {
  // userinfo ends at the only '@' a valid SIP URI can hold (user, password,
  // parameters and headers must escape it); the user part may itself contain
  // ';', '?' and '/'.
  std::size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    std::size_t colon = userinfo.find(':');
    out.user = userinfo.substr(0, colon);
    if (colon != std::string_view::npos) {
      out.password = userinfo.substr(colon + 1);
      if (!isEscapedRun(out.password, kUnreserved | kPasswordExtra)) return false;
    }
    if (out.user.empty() || !isEscapedRun(out.user, kUnreserved | kUserExtra)) return false;
    rest.remove_prefix(at + 1);
  }
  if (!parseHostPort(rest, out.host, out.port)) return false;
  std::size_t q = rest.find('?');
  std::string_view params = rest.substr(0, q);
  if (q != std::string_view::npos) {
    out.headers = rest.substr(q + 1);
    if (!validUriHeaders(out.headers)) return false;
  }
  return parseUriParams(params, keepParams ? &out.params : nullptr);
}

//   telephone-subscriber = global-number / local-number   (RFC 3966 §3)
bool parseTelRest(std::string_view rest, Uri& out, bool keepParams) {
  std::size_t semi = rest.find(';');
  std::string_view number = rest.substr(0, semi);
  if (number.empty()) return false;
  bool anyDigit = false;
  for (std::size_t i = 0; i < number.size(); ++i) {
    char c = number[i];
    if (c == '+' && i == 0) continue;
    if (is(c, kHex) || c == '*' || c == '#') {
      anyDigit = true;
    } else if (c != '-' && c != '.' && c != '(' && c != ')') {
      return false;
    }
  }
  if (!anyDigit) return false;
  out.user = number;
  rest.remove_prefix(number.size());
  return parseUriParams(rest, keepParams ? &out.params : nullptr);
}

// Any other absoluteURI is kept opaque: printable, no LWS and none of the
// characters that delimit it inside a header ('<', '>', '"').
bool validOpaque(std::string_view rest) {
  if (rest.empty()) return false;
  for (char c : rest) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || c == '<' || c == '>' || c == '"') return false;
  }
  return true;
}

}  // namespace

bool parseUri(std::string_view text, Uri& out, bool keepParams) {
  out.scheme = UriScheme::Other;
  out.schemeText = out.user = out.password = out.host = out.headers = out.text = {};
  out.port = 0;
  out.params.clear();
  std::size_t colon = text.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  std::string_view scheme = text.substr(0, colon);
  if (!is(scheme.front(), kAlnum) || isDigit(scheme.front())) return false;
  for (char c : scheme) {
    if (!is(c, kScheme)) return false;
  }
  out.schemeText = scheme;
  out.text = text;
  std::string_view rest = text.substr(colon + 1);
  bool ok = false;
  if (iequalsLower(scheme, "sip")) {
    out.scheme = UriScheme::Sip;
    ok = parseSipRest(rest, out, keepParams);
  } else if (iequalsLower(scheme, "sips")) {
    out.scheme = UriScheme::Sips;
    ok = parseSipRest(rest, out, keepParams);
  } else if (iequalsLower(scheme, "tel")) {
    out.scheme = UriScheme::Tel;
    ok = parseTelRest(rest, out, keepParams);
  } else {
    out.scheme = UriScheme::Other;
    ok = validOpaque(rest);
  }
  return ok;
}

}  // namespace detail

std::optional<Uri> Uri::parse(std::string_view text) {
  Uri uri;
  if (!detail::parseUri(text, uri, true)) return std::nullopt;
  return uri;
}

std::string Uri::toString() const {
  if (scheme == UriScheme::Other) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  out.append(schemeText.empty() ? (scheme == UriScheme::Sips  ? "sips"
                                   : scheme == UriScheme::Tel ? "tel"
                                                              : "sip")
                                : schemeText);
  out.push_back(':');
  if (scheme == UriScheme::Tel) {
    out.append(user);
  } else {
    if (!user.empty()) {
      out.append(user);
      if (!password.empty()) {
        out.push_back(':');
        out.append(password);
      }
      out.push_back('@');
    }
    out.append(host);
    if (port != 0) {
      std::array<char, 8> buf{};
      auto r = std::to_chars(buf.data(), buf.data() + buf.size(), port);
      out.push_back(':');
      out.append(buf.data(), r.ptr);
    }
  }
  for (const Param& p : params) {
    out.push_back(';');
    out.append(p.name);
    if (!p.value.empty()) {
      out.push_back('=');
      out.append(p.value);
    }
  }
  if (!headers.empty()) {
    out.push_back('?');
    out.append(headers);
  }
  return out;
}

namespace {

// Compares after %XX decoding, ASCII case-insensitively.
bool iequalsUnescaped(std::string_view a, std::string_view b) {
  if (a.find('%') == std::string_view::npos && b.find('%') == std::string_view::npos) {
    return iequals(a, b);
  }
  return iequals(unescape(a), unescape(b));
}

bool equalsUnescaped(std::string_view a, std::string_view b) {
  if (a.find('%') == std::string_view::npos && b.find('%') == std::string_view::npos) {
    return a == b;
  }
  return unescape(a) == unescape(b);
}

const Param* findParamUnescaped(const std::vector<Param>& params, std::string_view name) {
  for (const Param& p : params) {
    if (iequalsUnescaped(p.name, name)) return &p;
  }
  return nullptr;
}

enum class ParamMatch { Absent, Equal, Different };

// Looks `p` up in `params`; a repeated parameter matches when any of its
// occurrences carries the same value.
ParamMatch matchParam(const std::vector<Param>& params, const Param& p) {
  ParamMatch result = ParamMatch::Absent;
  for (const Param& q : params) {
    if (!iequalsUnescaped(q.name, p.name)) continue;
    if (iequalsUnescaped(q.value, p.value)) return ParamMatch::Equal;
    result = ParamMatch::Different;
  }
  return result;
}

// RFC 3261 §19.1.4: these parameters must match when present in either URI.
constexpr std::array<std::string_view, 5> kStrictParams = {"user", "ttl", "method", "maddr",
                                                           "transport"};

bool isStrictParam(std::string_view name) {
  for (std::string_view s : kStrictParams) {
    if (iequalsUnescaped(name, s)) return true;
  }
  return false;
}

bool sipParamsEquivalent(const std::vector<Param>& a, const std::vector<Param>& b) {
  for (std::string_view name : kStrictParams) {
    const Param* pa = findParamUnescaped(a, name);
    const Param* pb = findParamUnescaped(b, name);
    if (!pa && !pb) continue;
    if (!pa || !pb || !iequalsUnescaped(pa->value, pb->value)) return false;
  }
  for (const Param& p : a) {
    if (isStrictParam(p.name)) continue;
    if (matchParam(b, p) == ParamMatch::Different) return false;
  }
  for (const Param& p : b) {
    if (isStrictParam(p.name)) continue;
    if (matchParam(a, p) == ParamMatch::Different) return false;
  }
  return true;
}

// Every header of `a` appears in `b` with the same value (names compared
// case-insensitively, values after unescaping).
bool headersIncluded(std::string_view a, std::string_view b) {
  while (!a.empty()) {
    std::size_t amp = a.find('&');
    std::string_view item = a.substr(0, amp);
    a.remove_prefix(amp == std::string_view::npos ? a.size() : amp + 1);
    std::size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
    bool found = false;
    std::string_view rest = b;
    while (!rest.empty() && !found) {
      std::size_t amp2 = rest.find('&');
      std::string_view other = rest.substr(0, amp2);
      rest.remove_prefix(amp2 == std::string_view::npos ? rest.size() : amp2 + 1);
      std::size_t eq2 = other.find('=');
      std::string_view name2 = other.substr(0, eq2);
      std::string_view value2 =
          eq2 == std::string_view::npos ? std::string_view{} : other.substr(eq2 + 1);
      found = iequalsUnescaped(name, name2) && equalsUnescaped(value, value2);
    }
    if (!found) return false;
  }
  return true;
}

std::string telDigits(std::string_view number) {
  std::string out;
  out.reserve(number.size());
  for (char c : number) {
    if (c != '-' && c != '.' && c != '(' && c != ')') out.push_back(toLower(c));
  }
  return out;
}

}  // namespace

bool uriEquivalent(const Uri& a, const Uri& b) {
  if (a.scheme != b.scheme) return false;
  switch (a.scheme) {
    case UriScheme::Other: {
      if (!iequals(a.schemeText, b.schemeText)) return false;
      return a.text.substr(a.schemeText.size()) == b.text.substr(b.schemeText.size());
    }
    case UriScheme::Tel: {
      // RFC 3966 §4: numbers compared without visual separators; parameters
      // must all match, in any order.
      if (telDigits(a.user) != telDigits(b.user)) return false;
      if (a.params.size() != b.params.size()) return false;
      for (const Param& p : a.params) {
        if (matchParam(b.params, p) != ParamMatch::Equal) return false;
      }
      for (const Param& p : b.params) {
        if (matchParam(a.params, p) != ParamMatch::Equal) return false;
      }
      return true;
    }
    case UriScheme::Sip:
    case UriScheme::Sips:
      break;
  }
  if (a.user.empty() != b.user.empty()) return false;
  if (!equalsUnescaped(a.user, b.user)) return false;
  if (!equalsUnescaped(a.password, b.password)) return false;
  if (!iequals(a.host, b.host)) return false;
  if (a.port != b.port) return false;
  if (!sipParamsEquivalent(a.params, b.params)) return false;
  return headersIncluded(a.headers, b.headers) && headersIncluded(b.headers, a.headers);
}

}  // namespace tandem::sip
