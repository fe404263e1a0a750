// Heap bytes per live transaction in the states a transaction spends most of
// its life in (Timers J, L, M, D, H, I, K: 5 to 32 s after the final response).
// Under load these dominate the server's memory, so each state has an upper
// bound here, well above what the layer needs, to catch regressions (e.g. a
// transaction that keeps its request after the final response again).

#include "test_support.hpp"

#include <malloc.h>

#include <cstddef>
#include <cstdio>

#if defined(__SANITIZE_ADDRESS__)
#define TANDEM_TX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TANDEM_TX_ASAN 1
#endif
#endif
#ifdef TANDEM_TX_ASAN
// From <sanitizer/allocator_interface.h>, which GCC does not install.
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace tandem::sip::testing {
namespace {

// Bytes the allocator holds for the program: chunk sizes with glibc, requested
// sizes under AddressSanitizer (which replaces malloc).
long heapInUse() {
#ifdef TANDEM_TX_ASAN
  return static_cast<long>(__sanitizer_get_current_allocated_bytes());
#else
  return static_cast<long>(mallinfo2().uordblks);
#endif
}

constexpr int kCount = 10000;

class NullSender final : public TransportSender {
 public:
  bool send(const Flow&, std::string) override { return true; }
  std::optional<core::Endpoint> advertised(Transport) const override {
    return endpoint("198.51.100.1", 5060);
  }
};

class NullClientUser final : public ClientTransactionUser {
 public:
  void onResponse(TransactionId, const Message&) override {}
  void onTimeout(TransactionId) override {}
  void onTransportError(TransactionId) override {}
};

// Keeps only the last request (its transaction answers it), as a TU that
// answers at once would.
class LastRequestUser final : public TransactionUser {
 public:
  void onRequest(TransactionId tx, std::unique_ptr<Message> request, const Flow&) override {
    lastTx = tx;
    last = std::move(request);
  }
  void onCancel(TransactionId, const Message&) override {}
  void onStrayResponse(std::unique_ptr<Message>, const Flow&) override {}
  void onServerTransactionGone(TransactionId) override {}

  TransactionId lastTx = 0;
  std::unique_ptr<Message> last;
};

class Memory : public ::testing::Test {
 protected:
  Memory() : layer(timers, sender, TimerConfig{}) { layer.setUser(&user); }

  // Runs `one(i)` kCount times; the heap growth per call.
  template <class F>
  long perTransaction(const char* what, F one) {
    const long before = heapInUse();
    for (int i = 0; i < kCount; ++i)
      one(i);
    const long per = (heapInUse() - before) / kCount;
    std::printf("[ memory ] %-34s %6ld bytes per transaction\n", what, per);
    return per;
  }

  static std::string text(std::string method, int i, std::string toTag = {}) {
    RequestSpec s;
    s.method = std::move(method);
    // As long as branches from common UAs and proxies.
    s.branch = "z9hG4bK-524287-1---" + std::to_string(1000000 + i);
    s.callId = "a84b4c76e66710-" + std::to_string(i) + "@pc33.example.com";
    s.toTag = std::move(toTag);
    return requestText(s);
  }

  // A server INVITE transaction that sent 100 and 180.
  TransactionId inviteRinging(int i) {
    layer.onMessage(text("INVITE", i), udpFlow());
    layer.respond(user.lastTx, makeResponse(*user.last, 180, {}, "uas-tag-1"));
    return user.lastTx;
  }

  // A client transaction sent over UDP and answered with `status`.
  void clientAnswered(std::string method, int status) {
    auto request = outgoing(std::move(method));
    const std::string response = responseTo(*request, status);
    layer.sendRequest(std::move(request), udpFlow("192.0.2.20"), client);
    layer.onMessage(response, udpFlow("192.0.2.20"));
  }

  core::FakeTimerService timers;
  NullSender sender;
  LastRequestUser user;
  NullClientUser client;
  TransactionLayer layer;
};

// The bounds hold with glibc's chunk overhead; with AddressSanitizer
// (requested sizes only) the figures are lower still. They include the map
// nodes and timer entries each transaction costs. Keeping a request (about
// 1.3 KB parsed) or an unneeded response (about 350 bytes) breaks them.

TEST_F(Memory, ServerNonInviteCompleted) {
  const long per = perTransaction("server non-INVITE Completed (J)", [&](int i) {
    layer.onMessage(text("REGISTER", i), udpFlow());
    layer.respond(user.lastTx, makeResponse(*user.last, 200, {}, "uas-tag-1"));
  });
  EXPECT_EQ(layer.stats().serverTransactions, std::uint64_t{kCount});
  EXPECT_LT(per, 1000);  // mostly the 200's bytes, kept for retransmitted requests
}

TEST_F(Memory, ServerInviteAccepted) {
  const long per = perTransaction("server INVITE Accepted (L)", [&](int i) {
    const TransactionId tx = inviteRinging(i);
    layer.respond(tx, makeResponse(*user.last, 200, {}, "uas-tag-1"));
  });
  EXPECT_EQ(layer.stats().serverTransactions, std::uint64_t{kCount});
  EXPECT_LT(per, 650);  // no response bytes: 2xx retransmissions come from the TU
}

TEST_F(Memory, ServerInviteCompletedAndConfirmed) {
  const long completed = perTransaction("server INVITE Completed (G, H)", [&](int i) {
    const TransactionId tx = inviteRinging(i);
    layer.respond(tx, makeResponse(*user.last, 486, {}, "uas-tag-1"));
  });
  EXPECT_LT(completed, 1000);  // the 486's bytes, resent by Timer G
  const long confirmed = perTransaction("server INVITE Confirmed (I)", [&](int i) {
    layer.onMessage(text("ACK", i, "uas-tag-1"), udpFlow());
  });
  std::printf("[ memory ] %-34s %6ld bytes per transaction\n", "server INVITE Confirmed (I), total",
              completed + confirmed);
  EXPECT_EQ(layer.stats().serverTransactions, std::uint64_t{kCount});
  EXPECT_LT(completed + confirmed, 650);  // the 486's bytes are gone
}

TEST_F(Memory, ClientInviteAccepted) {
  const long per =
      perTransaction("client INVITE Accepted (M)", [&](int) { clientAnswered("INVITE", 200); });
  EXPECT_EQ(layer.stats().clientTransactions, std::uint64_t{kCount});
  EXPECT_LT(per, 650);  // no request, no bytes: the TU ACKs and sees 2xx retransmissions
}

TEST_F(Memory, ClientInviteCompleted) {
  const long per =
      perTransaction("client INVITE Completed (D)", [&](int) { clientAnswered("INVITE", 486); });
  EXPECT_EQ(layer.stats().clientTransactions, std::uint64_t{kCount});
  EXPECT_LT(per, 1000);  // the ACK's bytes (no request), resent for retransmitted finals
}

TEST_F(Memory, ClientNonInviteCompleted) {
  const long per = perTransaction("client non-INVITE Completed (K)",
                                  [&](int) { clientAnswered("OPTIONS", 200); });
  EXPECT_EQ(layer.stats().clientTransactions, std::uint64_t{kCount});
  EXPECT_LT(per, 650);  // the key only
}

}  // namespace
}  // namespace tandem::sip::testing
