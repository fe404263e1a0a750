#pragma once
// Test doubles for driving the SIP stack without sockets: a TransportSender
// that records what would go on the wire, in-memory user and binding stores,
// and helpers to build requests and digest credentials.

#include "registrar/digest.hpp"
#include "registrar/location.hpp"
#include "sip/message/message.hpp"
#include "sip/transport/flow.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <boost/asio/ip/address.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tandem::testkit {

inline core::Endpoint endpoint(const char* ip, std::uint16_t port) {
  return {boost::asio::ip::make_address(ip), port};
}

inline sip::Flow udpFrom(const char* ip, std::uint16_t port) {
  sip::Flow f;
  f.transport = sip::Transport::Udp;
  f.remote = endpoint(ip, port);
  f.local = endpoint("127.0.0.1", 5060);
  return f;
}

struct Sent {
  sip::Flow to;
  std::string data;
  std::unique_ptr<sip::Message> parse() const {
    auto r = sip::Message::parse(data);
    return std::move(r.message);
  }
};

class RecordingSender final : public sip::TransportSender {
 public:
  std::vector<Sent> sent;
  bool refuse = false;
  std::vector<sip::ConnectionId> closedConnections;  // connectionOpen() says false for these

  bool send(const sip::Flow& to, std::string data) override {
    if (refuse) return false;
    sent.push_back({to, std::move(data)});
    return true;
  }
  std::optional<core::Endpoint> advertised(sip::Transport t) const override {
    if (t == sip::Transport::Udp || t == sip::Transport::Tcp) return endpoint("127.0.0.1", 5060);
    if (t == sip::Transport::Ws) return endpoint("127.0.0.1", 8080);
    return std::nullopt;
  }
  bool connectionOpen(sip::ConnectionId id) const override {
    return std::find(closedConnections.begin(), closedConnections.end(), id) ==
           closedConnections.end();
  }
  // Parsed messages sent so far, from index `from`.
  std::vector<std::unique_ptr<sip::Message>> messages(std::size_t from = 0) const {
    std::vector<std::unique_ptr<sip::Message>> out;
    for (std::size_t i = from; i < sent.size(); ++i)
      out.push_back(sent[i].parse());
    return out;
  }
  std::unique_ptr<sip::Message> last() const {
    return sent.empty() ? nullptr : sent.back().parse();
  }
};

class MemoryStore final : public registrar::UserStore, public registrar::BindingStore {
 public:
  std::map<std::string, registrar::UserRecord> users;
  std::map<std::pair<std::string, std::string>, registrar::Binding> bindings;
  int flushes = 0;

  void addUser(const std::string& name, const std::string& realm, const std::string& password) {
    users[name] = {
        name, realm, registrar::computeHa1(registrar::DigestAlgorithm::Md5, name, realm, password),
        registrar::computeHa1(registrar::DigestAlgorithm::Sha256, name, realm, password)};
  }
  std::optional<registrar::UserRecord> findUser(std::string_view name) override {
    auto it = users.find(std::string(name));
    if (it == users.end()) return std::nullopt;
    return it->second;
  }
  bool putUser(const registrar::UserRecord& u) override {
    users[u.name] = u;
    return true;
  }
  bool deleteUser(std::string_view name) override { return users.erase(std::string(name)) > 0; }
  std::vector<registrar::UserRecord> listUsers() override {
    std::vector<registrar::UserRecord> out;
    for (auto& [k, v] : users)
      out.push_back(v);
    return out;
  }
  std::vector<registrar::Binding> loadBindings() override {
    std::vector<registrar::Binding> out;
    for (auto& [k, v] : bindings)
      out.push_back(v);
    return out;
  }
  bool putBinding(const registrar::Binding& b) override {
    bindings[{b.aor, b.contact}] = b;
    return true;
  }
  bool deleteBinding(std::string_view aor, std::string_view contact) override {
    bindings.erase({std::string(aor), std::string(contact)});
    return true;
  }
  bool flush() override {
    ++flushes;
    return true;
  }
};

// The value of an Authorization header answering `challenge` (a
// WWW-/Proxy-Authenticate value) for `method` and `uri` with qop=auth, MD5.
inline std::string digestAnswer(const std::string& challenge, const std::string& user,
                                const std::string& password, const std::string& method,
                                const std::string& uri, const std::string& nc = "00000001") {
  auto field = [&](const std::string& name) {
    auto at = challenge.find(name + "=\"");
    if (at == std::string::npos) return std::string();
    at += name.size() + 2;
    return challenge.substr(at, challenge.find('"', at) - at);
  };
  const auto realm = field("realm");
  const auto nonce = field("nonce");
  const std::string cnonce = "0a4f113b";
  using registrar::DigestAlgorithm;
  const auto ha1 = registrar::computeHa1(DigestAlgorithm::Md5, user, realm, password);
  const auto ha2 = registrar::digestHex(DigestAlgorithm::Md5, method + ":" + uri);
  const auto response = registrar::digestHex(
      DigestAlgorithm::Md5, fmt::format("{}:{}:{}:{}:auth:{}", ha1, nonce, nc, cnonce, ha2));
  return fmt::format(
      "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", "
      "algorithm=MD5, qop=auth, nc={}, cnonce=\"{}\"",
      user, realm, nonce, uri, response, nc, cnonce);
}

}  // namespace tandem::testkit
