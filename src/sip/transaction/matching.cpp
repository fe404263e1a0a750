#include "sip/transaction/matching.hpp"

#include <algorithm>
#include <functional>
#include <limits>

namespace tandem::sip {

bool operator==(const MatchKey& a, const MatchKey& b) {
  return a.branch == b.branch && a.method == b.method && a.sentByPort == b.sentByPort &&
         iequals(a.sentByHost, b.sentByHost);
}

std::size_t MatchKeyHash::operator()(const MatchKey& k) const noexcept {
  // The branch alone is unique in practice; the host is left out of the hash
  // because it compares case-insensitively.
  const std::size_t h = std::hash<std::string_view>{}(k.branch);
  return h ^
         (std::hash<std::string_view>{}(k.method) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
}

namespace {

std::uint16_t clampLength(std::size_t n) {
  return static_cast<std::uint16_t>(
      std::min<std::size_t>(n, std::numeric_limits<std::uint16_t>::max()));
}

}  // namespace

OwnedKey::OwnedKey(const MatchKey& key)
    : text_(inline_),
      branchLen_(clampLength(key.branch.size())),
      methodLen_(clampLength(key.method.size())),
      hostLen_(clampLength(key.sentByHost.size())),
      port_(key.sentByPort) {
  // The parser bounds messages far below 64 KiB per field; clamping is defence only.
  const std::size_t size = std::size_t{branchLen_} + methodLen_ + hostLen_;
  if (size > kInline) text_ = new char[size];
  char* out = std::copy_n(key.branch.data(), branchLen_, text_);
  out = std::copy_n(key.method.data(), methodLen_, out);
  std::copy_n(key.sentByHost.data(), hostLen_, out);
  hash_ = MatchKeyHash{}(get());
}

OwnedKey::~OwnedKey() {
  if (text_ != inline_) delete[] text_;
}

namespace {

// Top Via equality for RFC 2543 requests: sent-protocol transport, sent-by and
// whatever branch the element put there. Parameters the layer added on receipt
// (received, rport) are left out: a retransmission from another source port is
// still a retransmission.
bool sameTopVia(const Message& a, const Message& b) {
  const auto* va = a.topViaParsed();
  const auto* vb = b.topViaParsed();
  if (!va || !vb) return false;
  return iequals(va->transport, vb->transport) && iequals(va->host, vb->host) &&
         va->port == vb->port && va->branch() == vb->branch();
}

std::string_view tagOf(const std::optional<NameAddr>& na) {
  return na ? na->tag() : std::string_view{};
}

}  // namespace

bool legacyMatches(const Message& original, std::string_view responseToTag,
                   const Message& incoming) {
  if (original.callId() != incoming.callId()) return false;
  const auto oc = original.cseq();
  const auto ic = incoming.cseq();
  if (!oc || !ic || oc->number != ic->number) return false;
  if (tagOf(original.from()) != tagOf(incoming.from())) return false;
  if (!uriEquivalent(original.requestUri(), incoming.requestUri())) return false;
  if (!sameTopVia(original, incoming)) return false;

  const std::string_view toTag = tagOf(incoming.to());
  if (incoming.methodText() == original.methodText()) {
    return oc->method == ic->method && toTag == tagOf(original.to());
  }
  if (original.method() != Method::Invite) return false;
  if (incoming.method() == Method::Ack) return toTag == responseToTag;
  if (incoming.method() == Method::Cancel) return toTag == tagOf(original.to());
  return false;
}

}  // namespace tandem::sip
