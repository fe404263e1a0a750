#include "sip/message/headers.hpp"

#include "sip/message/chars.hpp"
#include "sip/message/headers_internal.hpp"
#include "sip/message/uri_internal.hpp"

#include <array>
#include <cstdint>
#include <cstring>

namespace tandem::sip {

using namespace detail;

// ---- Header names (RFC 3261 §7.3.3 compact forms, §20 long forms)

namespace {

struct KnownName {
  std::string_view lower;  // lower-case spelling
  HeaderId id;
};

// Long forms (RFC 3261 §20 and extensions) and compact forms (§7.3.3: i m e l c
// f s k t v, plus o r u x; "b" (Referred-By) has no id).
constexpr KnownName kKnownNames[] = {
    {"accept", HeaderId::Accept},
    {"allow", HeaderId::Allow},
    {"authorization", HeaderId::Authorization},
    {"call-id", HeaderId::CallId},
    {"contact", HeaderId::Contact},
    {"content-encoding", HeaderId::ContentEncoding},
    {"content-length", HeaderId::ContentLength},
    {"content-type", HeaderId::ContentType},
    {"cseq", HeaderId::CSeq},
    {"date", HeaderId::Date},
    {"event", HeaderId::Event},
    {"expires", HeaderId::Expires},
    {"from", HeaderId::From},
    {"max-forwards", HeaderId::MaxForwards},
    {"min-expires", HeaderId::MinExpires},
    {"path", HeaderId::Path},
    {"proxy-authenticate", HeaderId::ProxyAuthenticate},
    {"proxy-authorization", HeaderId::ProxyAuthorization},
    {"proxy-require", HeaderId::ProxyRequire},
    {"record-route", HeaderId::RecordRoute},
    {"require", HeaderId::Require},
    {"route", HeaderId::Route},
    {"server", HeaderId::Server},
    {"session-expires", HeaderId::SessionExpires},
    {"min-se", HeaderId::MinSE},
    {"supported", HeaderId::Supported},
    {"timestamp", HeaderId::Timestamp},
    {"to", HeaderId::To},
    {"unsupported", HeaderId::Unsupported},
    {"user-agent", HeaderId::UserAgent},
    {"via", HeaderId::Via},
    {"www-authenticate", HeaderId::WwwAuthenticate},
    {"authentication-info", HeaderId::AuthenticationInfo},
    {"allow-events", HeaderId::AllowEvents},
    {"refer-to", HeaderId::ReferTo},
    {"subject", HeaderId::Subject},
    {"warning", HeaderId::Warning},
    {"i", HeaderId::CallId},
    {"m", HeaderId::Contact},
    {"e", HeaderId::ContentEncoding},
    {"l", HeaderId::ContentLength},
    {"c", HeaderId::ContentType},
    {"f", HeaderId::From},
    {"s", HeaderId::Subject},
    {"k", HeaderId::Supported},
    {"t", HeaderId::To},
    {"v", HeaderId::Via},
    {"o", HeaderId::Event},
    {"r", HeaderId::ReferTo},
    {"u", HeaderId::AllowEvents},
    {"x", HeaderId::SessionExpires},
};
constexpr std::size_t kKnownCount = sizeof(kKnownNames) / sizeof(kKnownNames[0]);

// A perfect hash of (length, first, last character) over kKnownNames: each known
// name has a slot of its own, so one comparison decides. Characters are folded
// with | 0x20, which lower-cases letters and leaves '-' alone.
constexpr std::size_t nameSlot(std::size_t len, unsigned char first, unsigned char last) {
  return (len + (first | 0x20u) * 26u + (last | 0x20u) * 15u) & 0xFFu;
}

// kNameSlots[slot] = index into kKnownNames + 1, 0 when free.
constexpr std::array<std::uint8_t, 256> makeNameSlots() {
  std::array<std::uint8_t, 256> t{};
  for (std::size_t i = 0; i < kKnownCount; ++i) {
    std::string_view n = kKnownNames[i].lower;
    std::size_t slot = nameSlot(n.size(), static_cast<unsigned char>(n.front()),
                                static_cast<unsigned char>(n.back()));
    if (t[slot] != 0) throw "header name hash collision";  // fails constant evaluation
    t[slot] = static_cast<std::uint8_t>(i + 1);
  }
  return t;
}
constexpr std::array<std::uint8_t, 256> kNameSlots = makeNameSlots();

}  // namespace

namespace detail {

HeaderId headerIdFromToken(std::string_view n) {
  const std::size_t len = n.size();
  if (len == 0 || len > 19) return HeaderId::Other;
  std::uint8_t e = kNameSlots[nameSlot(len, static_cast<unsigned char>(n.front()),
                                       static_cast<unsigned char>(n.back()))];
  if (e == 0) return HeaderId::Other;
  const KnownName& k = kKnownNames[e - 1];
  if (k.lower.size() != len) return HeaderId::Other;
  // Exact for token characters: only letters change under | 0x20, and no token
  // character folds onto '-'. Compared a word at a time, with overlapping loads
  // for the tail, never reading outside either string.
  const char* a = n.data();
  const char* b = k.lower.data();
  if (len >= 8) {
    constexpr std::uint64_t kFold = 0x2020202020202020ull;
    auto load = [](const char* p) {
      std::uint64_t v = 0;
      std::memcpy(&v, p, 8);
      return v;
    };
    for (std::size_t i = 0; i + 8 <= len; i += 8) {
      if ((load(a + i) | kFold) != load(b + i)) return HeaderId::Other;
    }
    if ((load(a + len - 8) | kFold) != load(b + len - 8)) return HeaderId::Other;
  } else if (len >= 4) {
    constexpr std::uint32_t kFold = 0x20202020u;
    auto load = [](const char* p) {
      std::uint32_t v = 0;
      std::memcpy(&v, p, 4);
      return v;
    };
    if ((load(a) | kFold) != load(b) || (load(a + len - 4) | kFold) != load(b + len - 4)) {
      return HeaderId::Other;
    }
  } else {
    for (std::size_t i = 0; i < len; ++i) {
      if ((static_cast<unsigned char>(a[i]) | 0x20u) != static_cast<unsigned char>(b[i])) {
        return HeaderId::Other;
      }
    }
  }
  return k.id;
}

}  // namespace detail

HeaderId headerIdFromName(std::string_view n) {
  // Every known name is a token, so anything else is Other.
  return isToken(n) ? headerIdFromToken(n) : HeaderId::Other;
}

std::string_view headerName(HeaderId id) {
  switch (id) {
    case HeaderId::Other:
      return {};
    case HeaderId::Accept:
      return "Accept";
    case HeaderId::Allow:
      return "Allow";
    case HeaderId::Authorization:
      return "Authorization";
    case HeaderId::CallId:
      return "Call-ID";
    case HeaderId::Contact:
      return "Contact";
    case HeaderId::ContentEncoding:
      return "Content-Encoding";
    case HeaderId::ContentLength:
      return "Content-Length";
    case HeaderId::ContentType:
      return "Content-Type";
    case HeaderId::CSeq:
      return "CSeq";
    case HeaderId::Date:
      return "Date";
    case HeaderId::Event:
      return "Event";
    case HeaderId::Expires:
      return "Expires";
    case HeaderId::From:
      return "From";
    case HeaderId::MaxForwards:
      return "Max-Forwards";
    case HeaderId::MinExpires:
      return "Min-Expires";
    case HeaderId::Path:
      return "Path";
    case HeaderId::ProxyAuthenticate:
      return "Proxy-Authenticate";
    case HeaderId::ProxyAuthorization:
      return "Proxy-Authorization";
    case HeaderId::ProxyRequire:
      return "Proxy-Require";
    case HeaderId::RecordRoute:
      return "Record-Route";
    case HeaderId::Require:
      return "Require";
    case HeaderId::Route:
      return "Route";
    case HeaderId::Server:
      return "Server";
    case HeaderId::SessionExpires:
      return "Session-Expires";
    case HeaderId::MinSE:
      return "Min-SE";
    case HeaderId::Supported:
      return "Supported";
    case HeaderId::Timestamp:
      return "Timestamp";
    case HeaderId::To:
      return "To";
    case HeaderId::Unsupported:
      return "Unsupported";
    case HeaderId::UserAgent:
      return "User-Agent";
    case HeaderId::Via:
      return "Via";
    case HeaderId::WwwAuthenticate:
      return "WWW-Authenticate";
    case HeaderId::AuthenticationInfo:
      return "Authentication-Info";
    case HeaderId::AllowEvents:
      return "Allow-Events";
    case HeaderId::ReferTo:
      return "Refer-To";
    case HeaderId::Subject:
      return "Subject";
    case HeaderId::Warning:
      return "Warning";
  }
  return {};
}

// ---- Shared pieces

namespace detail {

namespace {

// An unquoted gen-value: token, host (IPv6 references and the bare IPv6
// addresses of "received") or the like.
bool isGenValueChar(char c) {
  return is(c, kGenValue);
}

}  // namespace

bool parseHeaderParams(std::string_view& s, std::vector<Param>* out, std::string_view* tag) {
  bool tagSeen = false;
  while (true) {
    std::string_view probe = s;
    skipLws(probe);
    if (probe.empty() || probe.front() != ';') return true;
    probe.remove_prefix(1);
    skipLws(probe);
    std::string_view name = takeWhile(probe, kToken);
    if (name.empty()) return false;
    std::string_view value;
    std::string_view afterName = probe;
    skipLws(probe);
    if (!probe.empty() && probe.front() == '=') {
      probe.remove_prefix(1);
      skipLws(probe);
      if (!probe.empty() && probe.front() == '"') {
        std::size_t end = quotedStringEnd(probe);
        if (end == std::string_view::npos) return false;
        value = probe.substr(0, end);
        probe.remove_prefix(end);
      } else {
        std::size_t n = 0;
        while (n < probe.size() && isGenValueChar(probe[n]))
          ++n;
        if (n == 0) return false;
        value = probe.substr(0, n);
        probe.remove_prefix(n);
      }
    } else {
      probe = afterName;
    }
    if (out) out->push_back(Param{name, value});
    if (tag != nullptr && !tagSeen && name.size() == 3 && iequals(name, "tag")) {
      *tag = value;
      tagSeen = true;
    }
    s = probe;
  }
}

bool parseNameAddr(std::string_view value, NameAddr& out, bool keepParams, std::string_view* tag) {
  // Reset field by field: cheaper than assigning a fresh NameAddr, and the
  // parameter vector keeps its capacity.
  out.displayName = {};
  out.params.clear();
  out.bracketed = false;
  std::string_view s = trimLws(value);
  if (s.empty()) return false;

  // name-addr = [ display-name ] LAQUOT addr-spec RAQUOT
  // display-name = *(token LWS) / quoted-string
  bool nameAddr = false;
  if (s.front() == '"') {
    std::size_t end = quotedStringEnd(s);
    if (end == std::string_view::npos) return false;
    out.displayName = s.substr(0, end);
    s.remove_prefix(end);
    skipLws(s);
    if (s.empty() || s.front() != '<') return false;
    nameAddr = true;
  } else {
    std::size_t n = 0;
    // UTF-8 octets are accepted in an unquoted display name too: RFC 3261
    // wants them quoted, but rejecting a From over it helps nobody.
    while (n < s.size() &&
           (is(s[n], kToken) || isLws(s[n]) || static_cast<unsigned char>(s[n]) >= 0x80)) {
      ++n;
    }
    if (n < s.size() && s[n] == '<') {
      out.displayName = trimLws(s.substr(0, n));
      s.remove_prefix(n);
      nameAddr = true;
    }
  }

  if (nameAddr) {
    std::size_t close = s.find('>');
    if (close == std::string_view::npos) return false;
    std::string_view uriText = s.substr(1, close - 1);
    if (!parseUri(uriText, out.uri, keepParams)) return false;
    out.bracketed = true;
    s.remove_prefix(close + 1);
  } else {
    // addr-spec: parameters after it belong to the header (RFC 3261 §20.10), and
    // a URI holding a comma, question mark or semicolon must be bracketed.
    std::size_t n = 0;
    while (n < s.size() && s[n] != ';' && !isLws(s[n]))
      ++n;
    std::string_view uriText = s.substr(0, n);
    if (uriText.find_first_of("?,") != std::string_view::npos) return false;
    if (!parseUri(uriText, out.uri, keepParams)) return false;
    s.remove_prefix(n);
  }
  if (!parseHeaderParams(s, keepParams ? &out.params : nullptr, tag)) return false;
  skipLws(s);
  return s.empty();
}

//   via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
//   sent-protocol = protocol-name SLASH protocol-version SLASH transport
//   sent-by       = host [ COLON port ]
bool parseVia(std::string_view value, Via& out, bool keepParams) {
  out.protocolName = out.protocolVersion = out.transport = out.host = {};
  out.port = 0;
  out.params.clear();
  std::string_view s = trimLws(value);
  std::string_view* parts[3] = {&out.protocolName, &out.protocolVersion, &out.transport};
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      skipLws(s);
      if (s.empty() || s.front() != '/') return false;
      s.remove_prefix(1);
      skipLws(s);
    }
    *parts[i] = takeWhile(s, kToken);
    if (parts[i]->empty()) return false;
  }
  if (s.empty() || !isLws(s.front())) return false;
  skipLws(s);
  if (!takeHost(s, out.host)) return false;
  std::size_t n = 0;
  std::string_view probe = s;
  skipLws(probe);
  if (!probe.empty() && probe.front() == ':') {
    probe.remove_prefix(1);
    skipLws(probe);
    n = 0;
    while (n < probe.size() && isDigit(probe[n]))
      ++n;
    if (!parseNumber<std::uint16_t>(probe.substr(0, n), 65535, out.port) || out.port == 0) {
      return false;
    }
    probe.remove_prefix(n);
    s = probe;
  }
  if (!parseHeaderParams(s, keepParams ? &out.params : nullptr)) return false;
  skipLws(s);
  return s.empty();
}

}  // namespace detail

// ---- Typed headers

std::optional<Via> Via::parse(std::string_view value) {
  Via via;
  if (!parseVia(value, via, true)) return std::nullopt;
  return via;
}

bool Via::hasRfc3261Branch() const {
  // RFC 3261 §8.1.1.7; a branch that is only the cookie (RFC 4475 §3.2.1) does
  // not identify a transaction, so it does not count.
  std::string_view b = branch();
  return b.size() > 7 && b.substr(0, 7) == "z9hG4bK";
}

std::optional<NameAddr> NameAddr::parse(std::string_view value) {
  NameAddr na;
  if (!parseNameAddr(value, na, true)) return std::nullopt;
  return na;
}

std::optional<CSeq> CSeq::parse(std::string_view value) {
  std::string_view s = trimLws(value);
  std::size_t n = 0;
  while (n < s.size() && isDigit(s[n]))
    ++n;
  CSeq out;
  // RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31.
  if (!parseNumber<std::uint32_t>(s.substr(0, n), 0x7FFFFFFFu, out.number)) return std::nullopt;
  s.remove_prefix(n);
  if (s.empty() || !isLws(s.front())) return std::nullopt;
  skipLws(s);
  out.method = s;
  if (!isToken(out.method)) return std::nullopt;
  return out;
}

namespace {

//   token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="  (RFC 7235)
bool isToken68(std::string_view s) {
  std::size_t n = 0;
  while (n < s.size() &&
         (is(s[n], kAlnum) || std::string_view("-._~+/").find(s[n]) != std::string_view::npos)) {
    ++n;
  }
  if (n == 0) return false;
  while (n < s.size() && s[n] == '=')
    ++n;
  return n == s.size();
}

}  // namespace

std::optional<AuthParams> AuthParams::parse(std::string_view value) {
  std::string_view s = trimLws(value);
  AuthParams out;
  out.scheme = takeWhile(s, kToken);
  if (out.scheme.empty()) return std::nullopt;
  if (s.empty()) return out;
  if (!isLws(s.front())) return std::nullopt;
  skipLws(s);
  if (isToken68(s)) {
    out.token68 = s;
    return out;
  }
  //   auth-param = token EQUAL ( token / quoted-string ), separated by COMMA
  while (true) {
    skipLws(s);
    if (s.empty()) break;
    if (s.front() == ',') {
      s.remove_prefix(1);
      continue;
    }
    std::string_view name = takeWhile(s, kToken);
    if (name.empty()) return std::nullopt;
    skipLws(s);
    if (s.empty() || s.front() != '=') return std::nullopt;
    s.remove_prefix(1);
    skipLws(s);
    std::string_view v;
    if (!s.empty() && s.front() == '"') {
      std::size_t end = quotedStringEnd(s);
      if (end == std::string_view::npos) return std::nullopt;
      v = s.substr(0, end);
      s.remove_prefix(end);
    } else {
      v = takeWhile(s, kToken);
      if (v.empty()) return std::nullopt;
    }
    out.params.push_back(Param{name, v});
    skipLws(s);
    if (!s.empty() && s.front() != ',') return std::nullopt;
  }
  return out;
}

std::optional<std::string> AuthParams::get(std::string_view name) const {
  auto v = findParam(params, name);
  if (!v) return std::nullopt;
  return unquote(*v);
}

std::vector<std::string_view> splitCommaList(std::string_view value) {
  std::vector<std::string_view> out;
  forEachCommaElement(value, [&out](std::string_view e) {
    out.push_back(e);
    return true;
  });
  return out;
}

std::string unquote(std::string_view quoted) {
  std::string_view s = trimLws(quoted);
  if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::string(s);
  s = s.substr(1, s.size() - 2);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace tandem::sip
