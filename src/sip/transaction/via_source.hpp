#pragma once
// Internal to sip/transaction: the top Via of a received request, the address
// it came from, and where its responses go.

#include "sip/message/message.hpp"
#include "sip/transport/flow.hpp"

#include <optional>

namespace tandem::sip {

// RFC 3261 §18.2.1: adds `received=<source IP>` to the top Via when its sent-by
// host is not the source address. RFC 3581 §4: when the top Via has an `rport`
// without value, fills in the source port and adds `received` even if the host
// matches. Other Via values are preserved.
//
// Returns the top Via as received (before the edit), or nullopt when it cannot
// be parsed. Its views point into the bytes the message was parsed from, which
// edits never touch, so they stay valid for as long as the message lives.
std::optional<Via> recordSource(Message& request, const Flow& from);

// RFC 3261 §18.2.2, RFC 3581 §4: where responses to a request that arrived
// from `from` with top Via `via` go. Streams: back over the same connection.
// UDP: to the source address; to the source port when the Via has rport,
// otherwise to the sent-by port (5060 when absent).
Flow responseFlow(const Via& via, const Flow& from);

}  // namespace tandem::sip
