#include "sip/message/headers.hpp"

#include "sip/message/chars.hpp"
#include "sip/message/headers_internal.hpp"
#include "sip/message/uri_internal.hpp"

namespace tandem::sip {

using namespace detail;

// ---- Header names (RFC 3261 §7.3.3 compact forms, §20 long forms)

HeaderId headerIdFromName(std::string_view n) {
  if (n.empty()) return HeaderId::Other;
  const char c = toLower(n[0]);
  auto named = [&n](std::string_view canonical) { return iequals(n, canonical); };
  switch (n.size()) {
    case 1:
      switch (c) {
        case 'i':
          return HeaderId::CallId;
        case 'm':
          return HeaderId::Contact;
        case 'e':
          return HeaderId::ContentEncoding;
        case 'l':
          return HeaderId::ContentLength;
        case 'c':
          return HeaderId::ContentType;
        case 'f':
          return HeaderId::From;
        case 's':
          return HeaderId::Subject;
        case 'k':
          return HeaderId::Supported;
        case 't':
          return HeaderId::To;
        case 'v':
          return HeaderId::Via;
        case 'o':
          return HeaderId::Event;
        case 'r':
          return HeaderId::ReferTo;
        case 'u':
          return HeaderId::AllowEvents;
        case 'x':
          return HeaderId::SessionExpires;
        default:
          return HeaderId::Other;  // b (Referred-By) and others: no id
      }
    case 2:
      return named("To") ? HeaderId::To : HeaderId::Other;
    case 3:
      return named("Via") ? HeaderId::Via : HeaderId::Other;
    case 4:
      if (c == 'c' && named("CSeq")) return HeaderId::CSeq;
      if (c == 'd' && named("Date")) return HeaderId::Date;
      if (c == 'f' && named("From")) return HeaderId::From;
      if (c == 'p' && named("Path")) return HeaderId::Path;
      return HeaderId::Other;
    case 5:
      if (c == 'a' && named("Allow")) return HeaderId::Allow;
      if (c == 'e' && named("Event")) return HeaderId::Event;
      if (c == 'r' && named("Route")) return HeaderId::Route;
      return HeaderId::Other;
    case 6:
      if (c == 'a' && named("Accept")) return HeaderId::Accept;
      if (c == 's' && named("Server")) return HeaderId::Server;
      if (c == 'm' && named("Min-SE")) return HeaderId::MinSE;
      return HeaderId::Other;
    case 7:
      switch (c) {
        case 'c':
          if (named("Call-ID")) return HeaderId::CallId;
          if (named("Contact")) return HeaderId::Contact;
          return HeaderId::Other;
        case 'e':
          return named("Expires") ? HeaderId::Expires : HeaderId::Other;
        case 'r':
          return named("Require") ? HeaderId::Require : HeaderId::Other;
        case 's':
          return named("Subject") ? HeaderId::Subject : HeaderId::Other;
        case 'w':
          return named("Warning") ? HeaderId::Warning : HeaderId::Other;
        default:
          return HeaderId::Other;
      }
    case 8:
      return named("Refer-To") ? HeaderId::ReferTo : HeaderId::Other;
    case 9:
      if (c == 's' && named("Supported")) return HeaderId::Supported;
      if (c == 't' && named("Timestamp")) return HeaderId::Timestamp;
      return HeaderId::Other;
    case 10:
      return named("User-Agent") ? HeaderId::UserAgent : HeaderId::Other;
    case 11:
      if (c == 'm' && named("Min-Expires")) return HeaderId::MinExpires;
      if (c == 'u' && named("Unsupported")) return HeaderId::Unsupported;
      return HeaderId::Other;
    case 12:
      switch (c) {
        case 'c':
          return named("Content-Type") ? HeaderId::ContentType : HeaderId::Other;
        case 'm':
          return named("Max-Forwards") ? HeaderId::MaxForwards : HeaderId::Other;
        case 'r':
          return named("Record-Route") ? HeaderId::RecordRoute : HeaderId::Other;
        case 'a':
          return named("Allow-Events") ? HeaderId::AllowEvents : HeaderId::Other;
        default:
          return HeaderId::Other;
      }
    case 13:
      if (c == 'a' && named("Authorization")) return HeaderId::Authorization;
      if (c == 'p' && named("Proxy-Require")) return HeaderId::ProxyRequire;
      return HeaderId::Other;
    case 14:
      return named("Content-Length") ? HeaderId::ContentLength : HeaderId::Other;
    case 15:
      return named("Session-Expires") ? HeaderId::SessionExpires : HeaderId::Other;
    case 16:
      if (c == 'c' && named("Content-Encoding")) return HeaderId::ContentEncoding;
      if (c == 'w' && named("WWW-Authenticate")) return HeaderId::WwwAuthenticate;
      return HeaderId::Other;
    case 18:
      return named("Proxy-Authenticate") ? HeaderId::ProxyAuthenticate : HeaderId::Other;
    case 19:
      if (c == 'p' && named("Proxy-Authorization")) return HeaderId::ProxyAuthorization;
      if (c == 'a' && named("Authentication-Info")) return HeaderId::AuthenticationInfo;
      return HeaderId::Other;
    default:
      return HeaderId::Other;
  }
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
  return is(c, kToken) || c == '[' || c == ']' || c == ':';
}

}  // namespace

bool parseHeaderParams(std::string_view& s, std::vector<Param>* out) {
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
    s = probe;
  }
}

bool parseNameAddr(std::string_view value, NameAddr& out, bool keepParams) {
  out = NameAddr{};
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
  if (!parseHeaderParams(s, keepParams ? &out.params : nullptr)) return false;
  skipLws(s);
  return s.empty();
}

//   via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
//   sent-protocol = protocol-name SLASH protocol-version SLASH transport
//   sent-by       = host [ COLON port ]
bool parseVia(std::string_view value, Via& out, bool keepParams) {
  out = Via{};
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
  std::size_t n = 0;
  if (!s.empty() && s.front() == '[') {
    n = s.find(']');
    if (n == std::string_view::npos) return false;
    ++n;
  } else {
    while (n < s.size() && is(s[n], kHost))
      ++n;
  }
  out.host = s.substr(0, n);
  if (!isHost(out.host)) return false;
  s.remove_prefix(n);
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
