#pragma once
// SIP over TLS (RFC 3261 §26.2.1, RFC 5630, RFC 5922): the server and client
// TLS contexts and connections using them, with certificate checks of SIP
// domains and optional client certificates (mutual TLS). Keeps OpenSSL and boost/asio/ssl out of
// every other file. Internal to src/sip/transport.

#include "sip/transport/connection.hpp"

#include <memory>
#include <string>

namespace tandem::sip::detail {

class TlsFactory {
 public:
  // Loads tlsCertFile/tlsKeyFile (server, and client certificate) and the
  // trusted CAs (tlsCaFile, else the system store). On failure returns null
  // and sets `error`, naming the file.
  static std::unique_ptr<TlsFactory> create(const TransportOptions& options, std::string& error);
  ~TlsFactory();

  // Asks for a client certificate per options.tlsClientAuth; a verified one
  // gives the connection its peerIdentities().
  std::shared_ptr<Connection> makeAccepted(ConnectionHost& host, ConnectionId id,
                                           boost::asio::ip::tcp::socket socket);
  // With `to.tlsDomain`: SNI is the domain and, when tlsVerifyDomains is set,
  // the server's certificate must chain to a trusted CA and name the domain
  // (RFC 5922 §7.2); otherwise the certificate is checked against the
  // address only when tlsVerifyPeer is set.
  std::shared_ptr<Connection> makeOutgoing(ConnectionHost& host, ConnectionId id,
                                           boost::asio::ip::tcp::socket socket, const Flow& to);

 private:
  struct Contexts;
  explicit TlsFactory(std::shared_ptr<Contexts> contexts);
  // Shared with every connection, which may outlive the factory while it
  // drains after the layer is gone.
  std::shared_ptr<Contexts> contexts_;
  bool verifyPeer_ = false;
  bool verifyDomains_ = true;
  bool verifyClients_ = false;
};

}  // namespace tandem::sip::detail
