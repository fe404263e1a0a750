#pragma once
// Internal to sip/transaction: how messages find their transaction.
//
// RFC 3261 §17.1.3 (responses to client transactions): the top Via branch and
// the CSeq method. §17.2.3 (requests to server transactions): the top Via
// branch, when it starts with the magic cookie "z9hG4bK", the sent-by and the
// method, where an ACK looks for the INVITE it acknowledges. Requests without
// the cookie come from RFC 2543 elements and are compared field by field.

#include "sip/message/message.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tandem::sip {

// Views into storage the owner of the key keeps alive (a message being matched,
// or a transaction's OwnedKey). Client keys leave sent-by empty.
struct MatchKey {
  std::string_view branch;
  std::string_view method;  // request method, CSeq method for responses
  std::string_view sentByHost;
  std::uint16_t sentByPort = 0;

  // Branch and method compare exactly; the host case-insensitively (§19.1.4).
  friend bool operator==(const MatchKey& a, const MatchKey& b);
};

struct MatchKeyHash {
  std::size_t operator()(const MatchKey& k) const noexcept;
};

// A transaction's own copy of its MatchKey, so the key outlives the request it
// came from. The text lives in one buffer, inside the object for the usual
// lengths (no allocation), with the hash computed once. Never copied or moved.
class OwnedKey {
 public:
  explicit OwnedKey(const MatchKey& key);
  ~OwnedKey();
  OwnedKey(const OwnedKey&) = delete;
  OwnedKey& operator=(const OwnedKey&) = delete;

  MatchKey get() const {
    return MatchKey{{text_, branchLen_},
                    {text_ + branchLen_, methodLen_},
                    {text_ + branchLen_ + methodLen_, hostLen_},
                    port_};
  }
  std::size_t hash() const { return hash_; }

 private:
  static constexpr std::size_t kInline = 64;
  std::size_t hash_ = 0;
  char* text_;  // inline_, or a heap buffer for a longer key
  std::uint16_t branchLen_, methodLen_, hostLen_, port_;
  char inline_[kInline];
};

// §17.2.3, RFC 2543 fallback. `original` created the server transaction;
// `responseToTag` is the To tag of the response that transaction sent. Compares
// Request-URI, To tag, From tag, Call-ID, CSeq and top Via:
//  - a request with the original's method (a retransmission) must equal it in all;
//  - an ACK for an INVITE has the CSeq number, and the To tag of the response;
//  - a CANCEL for an INVITE (§9.1) has the CSeq number and the INVITE's To.
bool legacyMatches(const Message& original, std::string_view responseToTag,
                   const Message& incoming);

}  // namespace tandem::sip
