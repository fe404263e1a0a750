#pragma once
// Fakes and message builders shared by the transaction layer tests: a
// recording transport, recording transaction users and SIP text templates.

#include "core/timer_service.hpp"
#include "sip/message/message.hpp"
#include "sip/transaction/transaction_layer.hpp"
#include "sip/transport/flow.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::sip::testing {

using std::chrono::milliseconds;

inline core::Endpoint endpoint(std::string_view ip, std::uint16_t port) {
  return core::Endpoint{boost::asio::ip::make_address(std::string(ip)), port};
}

inline Flow udpFlow(std::string_view ip = "192.0.2.10", std::uint16_t port = 5060) {
  Flow f;
  f.transport = Transport::Udp;
  f.remote = endpoint(ip, port);
  f.local = endpoint("198.51.100.1", 5060);
  return f;
}

inline Flow tcpFlow(ConnectionId connection, std::string_view ip = "192.0.2.10",
                    std::uint16_t port = 49152) {
  Flow f;
  f.transport = Transport::Tcp;
  f.remote = endpoint(ip, port);
  f.local = endpoint("198.51.100.1", 5060);
  f.connection = connection;
  return f;
}

inline std::unique_ptr<Message> parse(std::string text) {
  ParseResult r = Message::parse(std::move(text));
  EXPECT_TRUE(r.ok()) << r.error;
  return std::move(r.message);
}

struct Sent {
  Flow to;
  std::string data;
  core::Clock::time_point at;

  std::unique_ptr<Message> message() const { return parse(data); }
};

class RecordingSender final : public TransportSender {
 public:
  explicit RecordingSender(const core::TimerService& clock) : clock_(clock) {}

  bool send(const Flow& to, std::string data) override {
    if (refuse) return false;
    sent.push_back(Sent{to, std::move(data), clock_.now()});
    return true;
  }
  std::optional<core::Endpoint> advertised(Transport) const override {
    return endpoint("198.51.100.1", 5060);
  }

  std::unique_ptr<Message> last() const { return sent.back().message(); }
  int lastStatus() const { return last()->status(); }
  // Milliseconds since `start` of every send.
  std::vector<long> times(core::Clock::time_point start) const {
    std::vector<long> out;
    for (const Sent& s : sent) {
      out.push_back(std::chrono::duration_cast<milliseconds>(s.at - start).count());
    }
    return out;
  }

  std::vector<Sent> sent;
  bool refuse = false;

 private:
  const core::TimerService& clock_;
};

class RecordingClientUser : public ClientTransactionUser {
 public:
  void onResponse(TransactionId tx, const Message& response) override {
    responses.push_back({tx, response.status(), std::string(response.to()->tag())});
    if (onResponseHook) onResponseHook(tx, response);
  }
  void onTimeout(TransactionId tx) override { timeouts.push_back(tx); }
  void onTransportError(TransactionId tx) override { transportErrors.push_back(tx); }

  struct Response {
    TransactionId tx;
    int status;
    std::string toTag;
  };
  std::vector<Response> responses;
  std::vector<TransactionId> timeouts;
  std::vector<TransactionId> transportErrors;
  std::function<void(TransactionId, const Message&)> onResponseHook;
};

class RecordingUser : public TransactionUser {
 public:
  void onRequest(TransactionId tx, std::unique_ptr<Message> request, const Flow& from) override {
    requests.push_back({tx, std::move(request), from});
    if (onRequestHook) onRequestHook(requests.back());
  }
  void onCancel(TransactionId inviteTx, const Message&) override { cancels.push_back(inviteTx); }
  void onStrayResponse(std::unique_ptr<Message> response, const Flow&) override {
    strays.push_back(std::move(response));
  }
  void onServerTransactionGone(TransactionId tx) override { gone.push_back(tx); }
  std::unique_ptr<Message> answerStatelessly(const Message& request, const Flow& from) override {
    return statelessHook ? statelessHook(request, from) : nullptr;
  }

  struct Request {
    TransactionId tx;
    std::unique_ptr<Message> message;
    Flow from;
  };
  std::vector<Request> requests;
  std::vector<TransactionId> cancels;
  std::vector<std::unique_ptr<Message>> strays;
  std::vector<TransactionId> gone;
  std::function<void(Request&)> onRequestHook;
  // Answers a non-INVITE request statelessly when set and returning a response.
  std::function<std::unique_ptr<Message>(const Message&, const Flow&)> statelessHook;
};

// A request as a UA at 192.0.2.10 would send it.
struct RequestSpec {
  std::string method = "INVITE";
  std::string branch = "z9hG4bK-a1";  // empty: no branch (RFC 2543)
  std::string viaSentBy = "192.0.2.10:5060";
  std::string viaTransport = "UDP";
  std::string viaExtra;  // e.g. ";rport"
  std::string moreVia;   // further Via values, written on the same line
  std::string requestUri = "sip:bob@example.com";
  std::string callId = "call-1@192.0.2.10";
  std::uint32_t cseq = 1;
  std::string cseqMethod;  // defaults to `method`
  std::string fromTag = "from-1";
  std::string toTag;
  std::string extraHeaders;  // full lines with CRLF
};

inline std::string requestText(const RequestSpec& s) {
  std::string t = s.method + " " + s.requestUri + " SIP/2.0\r\n";
  t += "Via: SIP/2.0/" + s.viaTransport + " " + s.viaSentBy;
  if (!s.branch.empty()) t += ";branch=" + s.branch;
  t += s.viaExtra;
  if (!s.moreVia.empty()) t += ", " + s.moreVia;
  t += "\r\nMax-Forwards: 70\r\n";
  t += "From: <sip:alice@example.com>;tag=" + s.fromTag + "\r\n";
  t += "To: <sip:bob@example.com>";
  if (!s.toTag.empty()) t += ";tag=" + s.toTag;
  t += "\r\nCall-ID: " + s.callId + "\r\n";
  t += "CSeq: " + std::to_string(s.cseq) + " " + (s.cseqMethod.empty() ? s.method : s.cseqMethod) +
       "\r\n";
  t += s.extraHeaders;
  t += "Content-Length: 0\r\n\r\n";
  return t;
}

inline std::unique_ptr<Message> request(const RequestSpec& s) {
  return parse(requestText(s));
}

// A request as Tandem would send it: its own Via with a fresh branch.
inline std::unique_ptr<Message> outgoing(std::string method, std::string extraHeaders = {}) {
  RequestSpec s;
  s.method = std::move(method);
  s.branch = TransactionLayer::newBranch();
  s.viaSentBy = "198.51.100.1:5060";
  s.extraHeaders = std::move(extraHeaders);
  return request(s);
}

// The bytes of a response to `req`, as the next hop would send it back.
inline std::string responseTo(const Message& req, int status, std::string_view toTag = "to-1") {
  return makeResponse(req, status, {}, status > 100 ? toTag : std::string_view{})->serialize();
}

// Test fixture: a layer on fake time with a recording transport and TU.
class LayerTest : public ::testing::Test {
 protected:
  // The 100 Trying leaves at once here (TimerConfig::trying 0): most tests
  // take it as the first response to look at. ServerInviteDelayedTrying runs
  // the default delay.
  static TimerConfig immediateTrying() {
    TimerConfig c;
    c.trying = milliseconds(0);
    return c;
  }
  explicit LayerTest(TimerConfig config = immediateTrying())
      : sender(timers), layer(timers, sender, config) {
    layer.setUser(&user);
    start = timers.now();
  }

  void advance(long ms) { timers.advance(milliseconds(ms)); }
  long elapsed() const {
    return std::chrono::duration_cast<milliseconds>(timers.now() - start).count();
  }

  core::FakeTimerService timers;
  RecordingSender sender;
  RecordingUser user;
  RecordingClientUser client;
  TransactionLayer layer;
  core::Clock::time_point start;
};

}  // namespace tandem::sip::testing
