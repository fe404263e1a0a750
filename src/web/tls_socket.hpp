#pragma once
// A server-side TLS stream for Beast: OpenSSL reading and writing a
// non-blocking TCP socket directly (SSL_set_fd), driven by Asio readiness
// waits. Internal to src/web; included by http_server.cpp only.
//
// Why not boost::asio::ssl::stream: it keeps two 17 KiB record buffers per
// connection, and its BIO pair two more; an idle WSS connection cost about
// 72 KiB. Here OpenSSL owns the only buffers and, with
// SSL_MODE_RELEASE_BUFFERS, gives them back while the connection is idle.

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

namespace tandem::web::detail {

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};

class TlsSocket {
 public:
  using tcp = boost::asio::ip::tcp;
  using executor_type = tcp::socket::executor_type;
  using next_layer_type = tcp::socket;
  using error_code = boost::system::error_code;

  TlsSocket(tcp::socket socket, SSL_CTX* context)
      : socket_(std::move(socket)), ssl_(SSL_new(context)) {
    error_code ignored;
    socket_.non_blocking(true, ignored);
    if (ssl_) SSL_set_fd(ssl_.get(), static_cast<int>(socket_.native_handle()));
  }
  TlsSocket(TlsSocket&&) = default;
  TlsSocket& operator=(TlsSocket&&) = default;

  executor_type get_executor() { return socket_.get_executor(); }
  tcp::socket& next_layer() { return socket_; }

  // The server side of the TLS handshake; handler(error_code, 0).
  template <class Token>
  auto async_handshake(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        Op{this,
           [](SSL* ssl, std::size_t& n) {
             n = 0;
             return SSL_accept(ssl);
           }},
        token, socket_);
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    boost::asio::mutable_buffer into;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::mutable_buffer b = *it;
      if (b.size()) {
        into = b;
        break;
      }
    }
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        Op{this,
           [into](SSL* ssl, std::size_t& n) {
             if (into.size() == 0) return 1;  // nothing asked: done at once
             return SSL_read_ex(ssl, into.data(), into.size(), &n);
           }},
        token, socket_);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    // One TLS record for a WebSocket frame header and its payload: gather
    // small sequences into one buffer the operation owns (OpenSSL must see
    // the same bytes again when a write is retried).
    auto owned = std::make_shared<std::string>();
    std::size_t count = 0;
    boost::asio::const_buffer single;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::const_buffer b = *it;
      if (!b.size()) continue;
      if (count++ == 0) single = b;
      if (owned->size() < kMaxGather) {
        owned->append(static_cast<const char*>(b.data()),
                      std::min(b.size(), kMaxGather - owned->size()));
      }
    }
    boost::asio::const_buffer from = count <= 1 ? single : boost::asio::buffer(*owned);
    if (count <= 1) owned.reset();
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        Op{this,
           [from, owned](SSL* ssl, std::size_t& n) {
             if (from.size() == 0) return 1;
             return SSL_write_ex(ssl, from.data(), from.size(), &n);
           }},
        token, socket_);
  }

  // Sends close_notify if it fits in the socket buffer now; never waits.
  void shutdownTls() {
    if (!socket_.is_open() || !ssl_ || !SSL_is_init_finished(ssl_.get())) return;
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
  }

 private:
  // One TLS record's payload at most: larger writes go out over several calls.
  static constexpr std::size_t kMaxGather = 16 * 1024;

  // Calls `attempt` until it succeeds or fails, waiting for the socket to be
  // readable or writable as OpenSSL asks. A result available at once is
  // posted, never delivered inside the initiating call.
  template <class Attempt>
  struct Op {
    TlsSocket* s;
    Attempt attempt;
    bool waited = false;
    bool posted = false;
    error_code result{};
    std::size_t bytes = 0;

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
      if (posted) {
        self.complete(result, bytes);
        return;
      }
      if (ec) {
        self.complete(ec, 0);
        return;
      }
      // A closed socket's descriptor may already belong to another connection.
      if (!s->socket_.is_open() || !s->ssl_) {
        finish(self, boost::asio::error::bad_descriptor, 0);
        return;
      }
      ERR_clear_error();
      errno = 0;
      std::size_t n = 0;
      const int r = attempt(s->ssl_.get(), n);
      if (r > 0) {
        finish(self, {}, n);
        return;
      }
      switch (SSL_get_error(s->ssl_.get(), r)) {
        case SSL_ERROR_WANT_READ:
          waited = true;
          s->socket_.async_wait(tcp::socket::wait_read, std::move(self));
          return;
        case SSL_ERROR_WANT_WRITE:
          waited = true;
          s->socket_.async_wait(tcp::socket::wait_write, std::move(self));
          return;
        case SSL_ERROR_ZERO_RETURN:
          finish(self, boost::asio::error::eof, 0);
          return;
        case SSL_ERROR_SYSCALL:
          // errno 0: the peer closed TCP without close_notify.
          finish(self,
                 errno ? error_code(errno, boost::system::system_category())
                       : error_code(boost::asio::error::eof),
                 0);
          return;
        default:
          finish(self, boost::system::errc::make_error_code(boost::system::errc::protocol_error),
                 0);
          return;
      }
    }

    template <class Self>
    void finish(Self& self, error_code ec, std::size_t n) {
      if (waited) {
        self.complete(ec, n);
        return;
      }
      posted = true;
      result = ec;
      bytes = n;
      boost::asio::post(s->socket_.get_executor(), std::move(self));
    }
  };

  tcp::socket socket_;
  std::unique_ptr<SSL, SslFree> ssl_;
};

// The WebSocket closing handshake is done: send close_notify and close TCP
// (Beast finds these by argument-dependent lookup).
inline void teardown(boost::beast::role_type, TlsSocket& socket, boost::system::error_code& ec) {
  socket.shutdownTls();
  socket.next_layer().close(ec);
}

template <class Handler>
void async_teardown(boost::beast::role_type, TlsSocket& socket, Handler&& handler) {
  socket.shutdownTls();
  boost::system::error_code ec;
  socket.next_layer().close(ec);
  boost::asio::post(socket.get_executor(),
                    boost::beast::bind_front_handler(std::forward<Handler>(handler), ec));
}

}  // namespace tandem::web::detail
