#pragma once
// Pieces of the URI parser reused by the header parsers (Via sent-by) and the
// message validator. Internal to src/sip/message.

#include "sip/message/uri.hpp"

#include <cstdint>
#include <string_view>

namespace tandem::sip::detail {

bool isIpv4(std::string_view s);
bool isIpv6(std::string_view s);
// hostname / IPv4address / IPv6reference (with brackets).
bool isHost(std::string_view s);
// Takes the host from the front of `s`: an IPv6 reference up to its "]", or
// the longest run of hostname characters; false when that is not a valid host.
bool takeHost(std::string_view& s, std::string_view& host);
bool parseHostPort(std::string_view& s, std::string_view& host, std::uint16_t& port);
// Parses into `out`; URI parameters are stored only when `keepParams`, so the
// eager validation of a message does not allocate.
bool parseUri(std::string_view text, Uri& out, bool keepParams);

}  // namespace tandem::sip::detail
