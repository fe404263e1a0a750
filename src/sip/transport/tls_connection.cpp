#include "sip/transport/tls_connection.hpp"

#include "sip/transport/tls_identity.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

namespace tandem::sip::detail {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

struct TlsFactory::Contexts {
  ssl::context server{ssl::context::tls_server};
  ssl::context client{ssl::context::tls_client};
};

namespace {

// TLS 1.2 and later only (RFC 7525 §3.1.1).
constexpr long kContextOptions = ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                 ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                 ssl::context::no_tlsv1_1 | ssl::context::single_dh_use;

// Session resumption with client certificates needs a session id context.
constexpr unsigned char kSessionIdContext[] = "tandem-sip";

// ": it names a.example, b.example" or ": it names no SIP domain".
std::string describeNames(const CertificateNames& names) {
  const auto identities = sipDomainIdentities(names);
  if (identities.empty()) return ": it names no SIP domain";
  std::string text = ": it names ";
  for (std::size_t i = 0; i < identities.size() && i < 4; ++i) {
    if (i > 0) text += ", ";
    text += identities[i];
  }
  if (identities.size() > 4) text += ", ...";
  return text;
}

class TlsConnection final : public Connection {
 public:
  TlsConnection(ConnectionHost& host, ConnectionId id, asio::ip::tcp::socket socket,
                std::shared_ptr<const void> keepAlive, ssl::context& context)
      : Connection(host, id, Transport::Tls, socket.get_executor()),
        keepAlive_(std::move(keepAlive)),
        stream_(std::move(socket), context) {}

  // Outgoing to a SIP domain: SNI, and (if `verify`) RFC 5922 §7.2 checks.
  void expectDomain(const std::string& domain, bool verify) {
    domain_ = normalizeDomain(domain);
    // RFC 6066 §3: the host name, without a trailing dot.
    // OpenSSL refuses names it cannot send (over 255 bytes): then no SNI,
    // the checks below still apply, and its error must not stay queued for
    // the next SSL call on this thread to misread.
    if (SSL_set_tlsext_host_name(stream_.native_handle(), domain_.c_str()) != 1) ERR_clear_error();
    if (!verify) return;
    verifying_ = true;
    stream_.set_verify_mode(ssl::verify_peer);
    stream_.set_verify_callback([this](bool preverified, ssl::verify_context& context) {
      return verifyDomain(preverified, context);
    });
  }

  // Outgoing by address (tlsVerifyPeer): the certificate must name the IP.
  void expectAddress(const core::Endpoint& remote) {
    verifying_ = true;
    stream_.set_verify_mode(ssl::verify_peer);
    stream_.set_verify_callback(ssl::host_name_verification(remote.address.to_string()));
  }

  // Accepted, with a client certificate asked for: records why one failed.
  void verifyClient() {
    verifying_ = true;
    stream_.set_verify_callback([this](bool preverified, ssl::verify_context& context) {
      if (!preverified && problem_.empty()) {
        problem_ = std::string("TLS client certificate not trusted: ") +
                   X509_verify_cert_error_string(X509_STORE_CTX_get_error(context.native_handle()));
      }
      return preverified;
    });
  }

  const std::vector<std::string>& peerIdentities() const override { return identities_; }

  bool mayCarry(const Flow& to) const override {
    if (to.transport != Transport::Tls || to.tlsDomain.empty()) return true;
    if (identitiesContain(identities_, to.tlsDomain)) return true;
    // Opened for that very domain: while still opening, its handshake checks
    // it before anything is sent; without verification nothing ever will.
    return outgoing() && (state() < State::Open || !verifying_) &&
           domain_ == normalizeDomain(to.tlsDomain);
  }

 protected:
  asio::ip::tcp::socket& socket() override { return stream_.next_layer(); }
  void asyncHandshake(bool server) override {
    stream_.async_handshake(server ? ssl::stream_base::server : ssl::stream_base::client,
                            [this, self = shared_from_this()](const error_code& ec) {
                              if (!ec) rememberIdentities();
                              onHandshake(ec);
                            });
  }
  void asyncRead(asio::mutable_buffer into) override {
    stream_.async_read_some(into,
                            [this, self = shared_from_this()](const error_code& ec, std::size_t n) {
                              // A peer closing TCP without close_notify is just a closed
                              // connection: SIP framing already tells complete messages from
                              // truncated ones.
                              onRead(ec == ssl::error::stream_truncated ? asio::error::eof : ec, n);
                            });
  }
  void asyncWrite(std::span<const asio::const_buffer> buffers) override {
    asio::async_write(
        stream_, buffers,
        [this, self = shared_from_this()](const error_code& ec, std::size_t n) { onWrite(ec, n); });
  }
  std::string handshakeFailure(const error_code& ec) const override {
    if (!problem_.empty()) return problem_;
    return "TLS handshake failed: " + ec.message();
  }
  bool isCertificateFailure(const error_code& ec) const override {
    if (!problem_.empty()) return true;  // our checks refused the peer's
    if (ec.category() != asio::error::get_ssl_category()) return false;
    // What OpenSSL reports for a verification that failed here, or for
    // the peer refusing ours (its alert) or wanting one we did not send.
    switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
      case SSL_R_CERTIFICATE_VERIFY_FAILED:
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return true;
      default:
        return false;
    }
  }

 private:
  // Called for each certificate of the chain, root first. The first problem
  // is kept for handshakeFailure(): it becomes the caller's final response.
  bool verifyDomain(bool preverified, ssl::verify_context& context) {
    X509_STORE_CTX* store = context.native_handle();
    if (!preverified) {
      if (problem_.empty()) {
        problem_ = "TLS certificate of " + domain_ + " is not trusted: " +
                   X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
      }
      return false;
    }
    if (X509_STORE_CTX_get_error_depth(store) != 0) return true;
    const auto names = certificateNames(X509_STORE_CTX_get_current_cert(store));
    if (certificateMatchesDomain(names, domain_)) return true;
    problem_ =
        "TLS certificate of " + domain_ + " does not match the domain" + describeNames(names);
    return false;
  }

  // Only a certificate that was verified gives identities.
  void rememberIdentities() {
    if (!verifying_) return;
    SSL* ssl = stream_.native_handle();
    const X509* peer = SSL_get0_peer_certificate(ssl);
    if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return;
    identities_ = sipDomainIdentities(certificateNames(peer));
  }

  std::shared_ptr<const void> keepAlive_;  // the contexts, destroyed after stream_
  ssl::stream<asio::ip::tcp::socket> stream_;
  std::string domain_;  // outgoing to a SIP domain: that domain, normalised
  bool verifying_ = false;
  std::string problem_;                  // why verification failed
  std::vector<std::string> identities_;  // of the verified peer certificate
};

// The trusted CAs: the configured file, else the system's default store.
bool loadTrust(ssl::context& context, const std::string& caFile, std::string& error) {
  error_code ec;
  if (caFile.empty()) {
    context.set_default_verify_paths(ec);
    return true;  // an empty system store just verifies nothing
  }
  context.load_verify_file(caFile, ec);
  if (ec) {
    error = "cannot load TLS CA file " + caFile + ": " + ec.message();
    return false;
  }
  return true;
}

}  // namespace

TlsFactory::TlsFactory(std::shared_ptr<Contexts> contexts) : contexts_(std::move(contexts)) {}
TlsFactory::~TlsFactory() = default;

std::unique_ptr<TlsFactory> TlsFactory::create(const TransportOptions& options,
                                               std::string& error) {
  auto contexts = std::make_shared<Contexts>();
  error_code ec;
  if (options.tlsCertFile.empty() || options.tlsKeyFile.empty()) {
    error = "TLS needs a certificate file and a private key file";
    return nullptr;
  }
  // Our certificate serves both roles: server certificate, and client
  // certificate for servers that ask (mutual TLS between domains).
  for (auto* context : {&contexts->server, &contexts->client}) {
    context->set_options(kContextOptions, ec);
    context->use_certificate_chain_file(options.tlsCertFile, ec);
    if (ec) {
      error = "cannot load TLS certificate " + options.tlsCertFile + ": " + ec.message();
      return nullptr;
    }
    context->use_private_key_file(options.tlsKeyFile, ssl::context::pem, ec);
    if (ec) {
      error = "cannot load TLS private key " + options.tlsKeyFile + ": " + ec.message();
      return nullptr;
    }
    if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
      error = "TLS private key " + options.tlsKeyFile + " does not match certificate " +
              options.tlsCertFile;
      return nullptr;
    }
  }

  if (!loadTrust(contexts->client, options.tlsCaFile, error)) return nullptr;
  contexts->client.set_verify_mode(ssl::verify_none);  // per connection, see makeOutgoing

  const bool verifyClients = options.tlsClientAuth != TlsClientAuth::None;
  if (verifyClients) {
    if (!loadTrust(contexts->server, options.tlsCaFile, error)) return nullptr;
    contexts->server.set_verify_mode(options.tlsClientAuth == TlsClientAuth::Require
                                         ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert
                                         : ssl::verify_peer);
    SSL_CTX_set_session_id_context(contexts->server.native_handle(), kSessionIdContext,
                                   sizeof kSessionIdContext - 1);
  }

  std::unique_ptr<TlsFactory> factory(new TlsFactory(std::move(contexts)));
  factory->verifyPeer_ = options.tlsVerifyPeer;
  factory->verifyDomains_ = options.tlsVerifyDomains;
  factory->verifyClients_ = verifyClients;
  return factory;
}

std::shared_ptr<Connection> TlsFactory::makeAccepted(ConnectionHost& host, ConnectionId id,
                                                     asio::ip::tcp::socket socket) {
  auto connection =
      std::make_shared<TlsConnection>(host, id, std::move(socket), contexts_, contexts_->server);
  if (verifyClients_) connection->verifyClient();
  return connection;
}

std::shared_ptr<Connection> TlsFactory::makeOutgoing(ConnectionHost& host, ConnectionId id,
                                                     asio::ip::tcp::socket socket, const Flow& to) {
  auto connection =
      std::make_shared<TlsConnection>(host, id, std::move(socket), contexts_, contexts_->client);
  if (!to.tlsDomain.empty()) {
    connection->expectDomain(to.tlsDomain, verifyDomains_);
  } else if (verifyPeer_) {
    // Flows without a domain name peers by IP address only, so the
    // certificate is checked against that address (subjectAltName
    // iPAddress). No SNI: RFC 6066 §3 does not allow literal IP addresses.
    connection->expectAddress(to.remote);
  }
  return connection;
}

}  // namespace tandem::sip::detail
