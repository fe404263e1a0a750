#pragma once
// SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966).
//
//   SIP-URI  = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
//   SIPS-URI = "sips:" [ userinfo ] hostport uri-parameters [ headers ]
//   userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
//   hostport = host [ ":" port ]
//   host     = hostname / IPv4address / IPv6reference
//   uri-parameters = *( ";" uri-parameter )
//   headers  = "?" header *( "&" header )
//
// A Uri holds views into the text it was parsed from (zero-copy): the text must
// outlive it. Escapes (%XX) are kept as written; compare with uriEquivalent().

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::sip {

enum class UriScheme : std::uint8_t { Sip, Sips, Tel, Other };

// A ;name=value (or bare ;name) parameter. `value` is empty for a bare name.
struct Param {
  std::string_view name;
  std::string_view value;
};

// Case-insensitive lookup of a parameter; nullopt when absent, "" when bare.
std::optional<std::string_view> findParam(const std::vector<Param>& params, std::string_view name);

struct Uri {
  UriScheme scheme = UriScheme::Other;
  std::string_view schemeText;  // as written, e.g. "sip", "SIPS", "tel"
  std::string_view user;        // may contain %XX escapes; for tel: the number
  std::string_view password;
  std::string_view host;      // as written; IPv6 references keep their brackets
  std::uint16_t port = 0;     // 0: no port given
  std::vector<Param> params;  // uri-parameters, in order
  std::string_view headers;   // raw text after '?', without the '?'
  std::string_view text;      // the whole URI as parsed

  // Strict parse per the ABNF above. Returns nullopt with no partial result.
  static std::optional<Uri> parse(std::string_view text);

  std::optional<std::string_view> param(std::string_view name) const {
    return findParam(params, name);
  }
  bool isSipOrSips() const { return scheme == UriScheme::Sip || scheme == UriScheme::Sips; }
  bool hostIsIpv6() const { return !host.empty() && host.front() == '['; }
  // Re-serialises from the parts (normalised spacing, same escapes).
  std::string toString() const;
};

// Equality per RFC 3261 §19.1.4 (case rules, unescaping, parameter rules).
bool uriEquivalent(const Uri& a, const Uri& b);

// Decodes %XX escapes; invalid escapes are copied through unchanged.
std::string unescape(std::string_view s);

// ASCII case-insensitive comparison, used for tokens, header names and hosts.
bool iequals(std::string_view a, std::string_view b);

}  // namespace tandem::sip
