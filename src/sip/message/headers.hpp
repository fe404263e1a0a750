#pragma once
// Typed views of the header fields the stack reads (RFC 3261 §20, §25.1).
// Each parse() is strict, returns nullopt on malformed input, and keeps views
// into the text it was given.

#include "sip/message/uri.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::sip {

// Known header fields. Compact forms (RFC 3261 §7.3.3: i m e l c f s k t v, plus
// o r u b x) map to the same id.
enum class HeaderId : std::uint8_t {
  Other,
  Accept,
  Allow,
  Authorization,
  CallId,
  Contact,
  ContentEncoding,
  ContentLength,
  ContentType,
  CSeq,
  Date,
  Event,
  Expires,
  From,
  MaxForwards,
  MinExpires,
  Path,
  ProxyAuthenticate,
  ProxyAuthorization,
  ProxyRequire,
  RecordRoute,
  Require,
  Route,
  Server,
  SessionExpires,
  MinSE,
  Supported,
  Timestamp,
  To,
  Unsupported,
  UserAgent,
  Via,
  WwwAuthenticate,
  AuthenticationInfo,
  AllowEvents,
  ReferTo,
  Subject,
  Warning,
};

// Maps a header name (any case, compact or long) to its id; Other when unknown.
HeaderId headerIdFromName(std::string_view name);
// Canonical long name used when the stack writes a header, e.g. "Call-ID".
std::string_view headerName(HeaderId id);

//   via-parm = sent-protocol LWS sent-by *( SEMI via-params )
//   sent-protocol = protocol-name SLASH protocol-version SLASH transport
//   sent-by = host [ COLON port ]
struct Via {
  std::string_view protocolName;     // "SIP"
  std::string_view protocolVersion;  // "2.0"
  std::string_view transport;        // "UDP", "TCP", "TLS", "WS", "WSS", ...
  std::string_view host;             // IPv6 keeps brackets
  std::uint16_t port = 0;            // 0: none given
  std::vector<Param> params;

  static std::optional<Via> parse(std::string_view value);
  std::optional<std::string_view> param(std::string_view name) const {
    return findParam(params, name);
  }
  std::string_view branch() const { return param("branch").value_or(std::string_view{}); }
  // True when the branch carries the RFC 3261 magic cookie "z9hG4bK".
  bool hasRfc3261Branch() const;
};

//   name-addr / addr-spec with header parameters (From, To, Contact, Route, ...)
//   name-addr = [ display-name ] LAQUOT addr-spec RAQUOT
struct NameAddr {
  std::string_view displayName;  // raw: may be a quoted-string with its quotes
  Uri uri;
  std::vector<Param> params;  // header parameters after the URI (tag, q, expires, ...)
  bool bracketed = false;     // written as <uri>

  static std::optional<NameAddr> parse(std::string_view value);
  std::optional<std::string_view> param(std::string_view name) const {
    return findParam(params, name);
  }
  std::string_view tag() const { return param("tag").value_or(std::string_view{}); }
};

//   CSeq = "CSeq" HCOLON 1*DIGIT LWS Method
struct CSeq {
  std::uint32_t number = 0;
  std::string_view method;

  static std::optional<CSeq> parse(std::string_view value);
};

// Digest / Bearer credentials and challenges (RFC 3261 §25.1, RFC 7616, RFC 8898):
//   credentials = ("Digest" LWS digest-response) / other-response
//   challenge   = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
struct AuthParams {
  std::string_view scheme;    // "Digest", "Bearer", ...
  std::vector<Param> params;  // values raw: quoted strings keep their quotes
  std::string_view token68;   // for "Bearer <token>"

  static std::optional<AuthParams> parse(std::string_view value);
  // Value of a parameter with surrounding quotes removed and \-escapes resolved.
  std::optional<std::string> get(std::string_view name) const;
};

// Splits a header value at top-level commas (not inside quotes or <...>),
// trimming whitespace around each element.
std::vector<std::string_view> splitCommaList(std::string_view value);

// Removes surrounding quotes and resolves quoted-pair escapes.
std::string unquote(std::string_view quoted);

}  // namespace tandem::sip
