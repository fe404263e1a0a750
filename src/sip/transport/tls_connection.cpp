#include "sip/transport/tls_connection.hpp"

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

class TlsConnection final : public Connection {
 public:
  TlsConnection(ConnectionHost& host, ConnectionId id, asio::ip::tcp::socket socket,
                std::shared_ptr<const void> keepAlive, ssl::context& context)
      : Connection(host, id, Transport::Tls, socket.get_executor()),
        keepAlive_(std::move(keepAlive)),
        stream_(std::move(socket), context) {}

  ssl::stream<asio::ip::tcp::socket>& stream() { return stream_; }

 protected:
  asio::ip::tcp::socket& socket() override { return stream_.next_layer(); }
  void asyncHandshake(bool server) override {
    stream_.async_handshake(
        server ? ssl::stream_base::server : ssl::stream_base::client,
        [this, self = shared_from_this()](const error_code& ec) { onHandshake(ec); });
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

 private:
  std::shared_ptr<const void> keepAlive_;  // the contexts, destroyed after stream_
  ssl::stream<asio::ip::tcp::socket> stream_;
};

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
  contexts->server.set_options(kContextOptions, ec);
  contexts->server.use_certificate_chain_file(options.tlsCertFile, ec);
  if (ec) {
    error = "cannot load TLS certificate " + options.tlsCertFile + ": " + ec.message();
    return nullptr;
  }
  contexts->server.use_private_key_file(options.tlsKeyFile, ssl::context::pem, ec);
  if (ec) {
    error = "cannot load TLS private key " + options.tlsKeyFile + ": " + ec.message();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(contexts->server.native_handle()) != 1) {
    error = "TLS private key " + options.tlsKeyFile + " does not match certificate " +
            options.tlsCertFile;
    return nullptr;
  }

  contexts->client.set_options(kContextOptions, ec);
  if (!options.tlsCaFile.empty()) {
    contexts->client.load_verify_file(options.tlsCaFile, ec);
    if (ec) {
      error = "cannot load TLS CA file " + options.tlsCaFile + ": " + ec.message();
      return nullptr;
    }
  } else if (options.tlsVerifyPeer) {
    contexts->client.set_default_verify_paths(ec);
  }
  contexts->client.set_verify_mode(options.tlsVerifyPeer ? ssl::verify_peer : ssl::verify_none);

  std::unique_ptr<TlsFactory> factory(new TlsFactory(std::move(contexts)));
  factory->verifyPeer_ = options.tlsVerifyPeer;
  return factory;
}

std::shared_ptr<Connection> TlsFactory::makeAccepted(ConnectionHost& host, ConnectionId id,
                                                     asio::ip::tcp::socket socket) {
  return std::make_shared<TlsConnection>(host, id, std::move(socket), contexts_, contexts_->server);
}

std::shared_ptr<Connection> TlsFactory::makeOutgoing(ConnectionHost& host, ConnectionId id,
                                                     asio::ip::tcp::socket socket,
                                                     const core::Endpoint& remote) {
  auto connection =
      std::make_shared<TlsConnection>(host, id, std::move(socket), contexts_, contexts_->client);
  // Flows name peers by IP address only, so the certificate is checked against
  // that address (subjectAltName iPAddress). No SNI is sent: RFC 6066 §3 does
  // not allow literal IP addresses in server_name.
  if (verifyPeer_) {
    connection->stream().set_verify_callback(
        ssl::host_name_verification(remote.address.to_string()));
  }
  return connection;
}

}  // namespace tandem::sip::detail
