#pragma once
// SIP over TLS (RFC 3261 §26.2.1, RFC 5630): the server and client TLS
// contexts and connections using them. Keeps OpenSSL and boost/asio/ssl out of
// every other file. Internal to src/sip/transport.

#include "sip/transport/connection.hpp"

#include <memory>
#include <string>

namespace tandem::sip::detail {

class TlsFactory {
 public:
  // Loads tlsCertFile/tlsKeyFile (server) and tlsCaFile (client
  // verification). On failure returns null and sets `error`, naming the file.
  static std::unique_ptr<TlsFactory> create(const TransportOptions& options, std::string& error);
  ~TlsFactory();

  std::shared_ptr<Connection> makeAccepted(ConnectionHost& host, ConnectionId id,
                                           boost::asio::ip::tcp::socket socket);
  // `remote` is what the peer's certificate is checked against when
  // tlsVerifyPeer is set.
  std::shared_ptr<Connection> makeOutgoing(ConnectionHost& host, ConnectionId id,
                                           boost::asio::ip::tcp::socket socket,
                                           const core::Endpoint& remote);

 private:
  struct Contexts;
  explicit TlsFactory(std::shared_ptr<Contexts> contexts);
  // Shared with every connection, which may outlive the factory while it
  // drains after the layer is gone.
  std::shared_ptr<Contexts> contexts_;
  bool verifyPeer_ = false;
};

}  // namespace tandem::sip::detail
