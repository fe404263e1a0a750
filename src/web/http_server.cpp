// The HTTP/WebSocket server. All of Beast and Asio SSL is in this one
// translation unit (builds are slow; see http_server.hpp).
//
// Connections go through up to three objects, each owning the socket in turn:
//   Detector        reads the first bytes; TLS ClientHello or plain HTTP
//                   (only when TLS is configured)
//   HttpConnection  HTTP/1.1 requests with keep-alive; hands a WebSocket
//                   upgrade on /ws to
//   WsConnection    the WebSocket, until it closes.
// Each is owned by the shared_ptrs its pending operations hold, and sits in
// the server's intrusive list while it lives. One timer per server sweeps that
// list for deadlines (slow requests, handshakes, WebSocket pings and idle
// peers), instead of a timer per connection: an idle WebSocket must cost as
// little memory as possible (docs/http.md, "Memory").

#include "web/http_server.hpp"

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "web/static_files.hpp"
#include "web/tls_socket.hpp"
#include "web/web_tuning.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/intrusive/list.hpp>

#include <fmt/format.h>

#include <array>
#include <map>

namespace tandem::web {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using SslStream = detail::TlsSocket;
using HttpRequest = http::request<http::string_body>;

namespace detail {

// Base of the three connection stages: a node in the server's list.
class Connection : public boost::intrusive::list_base_hook<
                       boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  virtual ~Connection() = default;
  // Enforces deadlines; never destroys the connection synchronously.
  virtual void sweep(Clock::time_point now) = 0;
  // Server shutdown: close gracefully where there is a protocol for it.
  virtual void stop() = 0;
  // Drop the TCP connection now.
  virtual void abort() = 0;
  // The server is being destroyed: drop the connection and tell the handler
  // at once, as the loop may never run again.
  virtual void serverGone() { abort(); }
};

using ConnectionList =
    boost::intrusive::list<Connection, boost::intrusive::constant_time_size<false>>;

}  // namespace detail

using detail::Connection;
using detail::ConnectionList;

namespace {

core::Endpoint toEndpoint(const tcp::endpoint& e) {
  return {e.address(), e.port()};
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& ioContext, HttpOptions opts)
      : io(ioContext),
        options(std::move(opts)),
        log(core::logger("web")),
        metrics(options.metrics ? *options.metrics : core::metrics()),
        wsGauge(metrics.gauge("tandem_websocket_connections", "Open WebSocket connections")),
        acceptor(ioContext),
        sweepTimer(ioContext),
        files(options.staticRoot, options.missingIndexHint) {
    static constexpr std::array<const char*, 5> classes{"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (std::size_t i = 0; i < classes.size(); ++i) {
      requests[i] =
          &metrics.counter("tandem_http_requests_total", "HTTP responses sent, by status class",
                           {{"class", classes[i]}});
    }
    const auto shortest =
        std::min({options.requestTimeout, options.pingInterval, options.idleTimeout});
    sweepPeriod = std::clamp(shortest / 4, tuning::kMinSweepPeriod, tuning::kMaxSweepPeriod);
  }

  void countResponse(unsigned status) {
    if (status >= 100 && status < 600) requests[status / 100 - 1]->inc();
  }
  core::Counter& rejected(const char* reason) {
    return metrics.counter("tandem_websocket_rejected_total",
                           "WebSocket handshakes refused, by reason", {{"reason", reason}});
  }

  void accept();
  void startConnection(tcp::socket socket);
  void sweep();
  void abortAll() {
    for (auto it = connections.begin(); it != connections.end();)
      (it++)->serverGone();
  }

  asio::io_context& io;
  HttpOptions options;
  std::shared_ptr<spdlog::logger> log;
  core::Metrics& metrics;
  core::Gauge& wsGauge;
  std::array<core::Counter*, 5> requests{};
  struct CtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  std::unique_ptr<SSL_CTX, CtxFree> tls;
  tcp::acceptor acceptor;
  asio::steady_timer sweepTimer;
  std::chrono::milliseconds sweepPeriod{1000};
  bool sweeping = false;
  bool stopped = false;
  std::optional<core::Endpoint> bound;
  std::map<std::string, WebSocketHandler*, std::less<>> protocols;
  std::vector<std::string> protocolOrder;
  std::map<std::string, Route, std::less<>> routes;
  StaticFiles files;
  ConnectionList connections;
  std::size_t webSockets = 0;
  std::uint64_t nextId = 1;
};

namespace {

using Impl = HttpServer::Impl;

// ---------------------------------------------------------------------------
// WebSocket stage.

template <class Stream>
class WsConnection final : public Connection,
                           public WebSocketSession,
                           public std::enable_shared_from_this<WsConnection<Stream>> {
 public:
  WsConnection(std::shared_ptr<Impl> server, Stream stream, const core::Endpoint& remote,
               const core::Endpoint& local, std::string protocol, WebSocketHandler& handler)
      : server_(std::move(server)),
        ws_(std::move(stream)),
        remote_(remote),
        local_(local),
        protocol_(std::move(protocol)),
        handler_(&handler),
        id_(server_->nextId++) {
    server_->connections.push_back(*this);
  }

  void start(HttpRequest request) {
    state_ = State::Handshake;
    deadline_ = Clock::now() + server_->options.requestTimeout;
    ws_.read_message_max(server_->options.maxWebSocketMessage);
    // One frame per message: the server never masks, so no write buffer is
    // needed, and auto-fragmenting would only add frame headers.
    ws_.auto_fragment(false);
    ws_.set_option(websocket::stream_base::timeout{websocket::stream_base::none(),
                                                   websocket::stream_base::none(), false});
    ws_.set_option(websocket::stream_base::decorator(
        [protocol = &protocol_](websocket::response_type& response) {
          response.set(http::field::server, "tandem");
          response.set(http::field::sec_websocket_protocol, *protocol);
        }));
    // Pings and pongs from the peer count as signs of life.
    ws_.control_callback(
        [this](websocket::frame_type, beast::string_view) { lastHeard_ = Clock::now(); });
    ws_.async_accept(
        request, [self = this->shared_from_this()](const error_code& ec) { self->onAccept(ec); });
  }

  // WebSocketSession
  void send(std::string text) override {
    if (state_ != State::Open) return;
    queuedBytes_ += text.size();
    if (queuedBytes_ > tuning::kMaxQueuedBytes) {
      server_->log->warn("ws {} {}: peer does not read ({} bytes queued), dropping it", id_,
                         remote_.toString(), queuedBytes_);
      abort();
      return;
    }
    queue_.push_back(std::move(text));
    if (!writing_) writeNext();
  }
  void close(std::uint16_t code, std::string_view reason) override {
    if (state_ != State::Open) return;
    state_ = State::Closing;
    deadline_ = Clock::now() + tuning::kCloseTimeout;
    closeCode_ = code;
    // A close frame's payload is at most 125 bytes, 2 of them the code.
    closeReason_ = std::string(reason.substr(0, 123));
    if (!writing_ && !pinging_) sendClose();
  }
  const core::Endpoint& remote() const override { return remote_; }
  const core::Endpoint& local() const override { return local_; }
  bool secure() const override { return std::is_same_v<Stream, SslStream>; }
  std::string_view subprotocol() const override { return protocol_; }
  std::uint64_t id() const override { return id_; }

  // Connection
  void sweep(Clock::time_point now) override {
    switch (state_) {
      case State::Handshake:
      case State::Closing:
        if (now >= deadline_) abort();
        break;
      case State::Open:
        if (now - lastHeard_ >= server_->options.idleTimeout) {
          server_->log->debug("ws {} {}: idle for {} ms, closing", id_, remote_.toString(),
                              server_->options.idleTimeout.count());
          abort();
        } else if (now - lastHeard_ >= server_->options.pingInterval &&
                   now - lastPing_ >= server_->options.pingInterval && !pinging_) {
          lastPing_ = now;
          pinging_ = true;
          ws_.async_ping({}, [self = this->shared_from_this()](const error_code&) {
            self->pinging_ = false;
            self->afterWrite();
          });
        }
        break;
      case State::Closed:
        break;
    }
  }
  void stop() override {
    if (state_ == State::Open) {
      close(close_code::kGoingAway, "server shutting down");
    } else if (state_ == State::Handshake) {
      abort();
    }
  }
  void abort() override {
    error_code ignored;
    beast::get_lowest_layer(ws_).close(ignored);
  }
  void serverGone() override { finish(asio::error::operation_aborted); }

 private:
  enum class State : std::uint8_t { Handshake, Open, Closing, Closed };

  void onAccept(const error_code& ec) {
    if (ec) {
      server_->log->debug("ws {} {}: handshake failed: {}", id_, remote_.toString(), ec.message());
      server_->rejected("handshake").inc();
      state_ = State::Closed;
      abort();
      return;
    }
    // The decorator is needed no more; drop its capture.
    ws_.set_option(websocket::stream_base::decorator([](websocket::response_type&) {}));
    server_->countResponse(101);
    state_ = State::Open;
    opened_ = true;
    lastHeard_ = lastPing_ = Clock::now();
    ++server_->webSockets;
    server_->wsGauge.add();
    server_->log->debug("ws {} {}: open ({}{})", id_, remote_.toString(), protocol_,
                        secure() ? ", tls" : "");
    read();
    handler_->onOpen(this->shared_from_this());
  }

  void read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](const error_code& ec, std::size_t) {
      self->onRead(ec);
    });
  }

  void onRead(const error_code& ec) {
    if (ec) {
      finish(ec);
      return;
    }
    lastHeard_ = Clock::now();
    if (!ws_.got_text()) {
      buffer_ = beast::flat_buffer();
      // RFC 7118 carries SIP in text messages; this server takes no binary.
      close(close_code::kUnsupportedData, "binary messages are not supported");
      read();
      return;
    }
    std::string text = beast::buffers_to_string(buffer_.data());
    // Give the buffer back: an idle connection should hold no message memory.
    buffer_ = beast::flat_buffer();
    read();
    if (state_ == State::Open && onMessage) onMessage(std::move(text));
  }

  void writeNext() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(queue_.front()),
                    [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                      self->onWrite(ec);
                    });
  }

  void onWrite(const error_code& ec) {
    writing_ = false;
    queuedBytes_ -= queue_.front().size();
    queue_.erase(queue_.begin());
    if (ec) {
      std::vector<std::string>().swap(queue_);
      queuedBytes_ = 0;
      abort();  // the pending read ends the connection
      return;
    }
    if (!queue_.empty() && state_ != State::Closed) {
      writeNext();
      return;
    }
    std::vector<std::string>().swap(queue_);
    afterWrite();
  }

  // A write or ping finished: start the close frame when one is waiting.
  void afterWrite() {
    if (state_ == State::Closing && !closeSent_ && !writing_ && !pinging_) sendClose();
  }

  void sendClose() {
    closeSent_ = true;
    websocket::close_reason reason;
    reason.code = closeCode_;
    reason.reason = closeReason_;
    ws_.async_close(reason, [self = this->shared_from_this()](const error_code& ec) {
      // The pending read sees the peer's close frame and finishes.
      if (ec) self->abort();
    });
  }

  // The read loop ended: the connection is gone, whatever the cause.
  void finish(const error_code& ec) {
    if (state_ == State::Closed) return;
    state_ = State::Closed;
    abort();
    std::vector<std::string>().swap(queue_);
    queuedBytes_ = 0;
    buffer_ = beast::flat_buffer();
    if (!opened_) return;
    --server_->webSockets;
    server_->wsGauge.sub();
    server_->log->debug("ws {} {}: closed ({}; close code {})", id_, remote_.toString(),
                        ec.message(), static_cast<unsigned>(ws_.reason().code));
    auto callback = std::move(onClose);
    onClose = nullptr;
    onMessage = nullptr;
    if (callback) callback();
  }

  std::shared_ptr<Impl> server_;
  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  std::vector<std::string> queue_;
  std::size_t queuedBytes_ = 0;
  core::Endpoint remote_, local_;
  std::string protocol_;
  std::string closeReason_;
  WebSocketHandler* handler_;
  std::uint64_t id_;
  Clock::time_point deadline_, lastHeard_, lastPing_;
  std::uint16_t closeCode_ = close_code::kNormal;
  State state_ = State::Handshake;
  bool opened_ = false;
  bool writing_ = false;
  bool pinging_ = false;
  bool closeSent_ = false;
};

// ---------------------------------------------------------------------------
// HTTP stage.

template <class Stream>
class HttpConnection final : public Connection,
                             public std::enable_shared_from_this<HttpConnection<Stream>> {
 public:
  static constexpr bool kSecure = std::is_same_v<Stream, SslStream>;

  HttpConnection(std::shared_ptr<Impl> server, Stream stream, beast::flat_buffer buffer,
                 const core::Endpoint& remote, const core::Endpoint& local)
      : server_(std::move(server)),
        stream_(std::move(stream)),
        buffer_(std::move(buffer)),
        remote_(remote),
        local_(local) {
    server_->connections.push_back(*this);
  }

  void start() {
    deadline_ = Clock::now() + server_->options.requestTimeout;
    if constexpr (kSecure) {
      stream_.async_handshake([self = this->shared_from_this()](const error_code& ec, std::size_t) {
        if (ec) {
          self->server_->log->debug("http {}: TLS handshake failed: {}", self->remote_.toString(),
                                    ec.message());
          self->abort();
          return;
        }
        self->readRequest();
      });
    } else {
      readRequest();
    }
  }

  void sweep(Clock::time_point now) override {
    if (now >= deadline_) {
      server_->log->debug("http {}: request timeout, closing", remote_.toString());
      abort();
    }
  }
  void stop() override { abort(); }
  void abort() override {
    error_code ignored;
    beast::get_lowest_layer(stream_).close(ignored);
  }

 private:
  void readRequest() {
    deadline_ = Clock::now() + server_->options.requestTimeout;
    parser_.emplace();
    parser_->header_limit(tuning::kMaxRequestHeader);
    parser_->body_limit(tuning::kMaxRequestBody);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                       self->onRequest(ec);
                     });
  }

  void onRequest(const error_code& ec) {
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
          ec != http::error::end_of_stream && ec != http::error::partial_message) {
        // A malformed request: one answer, then the connection closes.
        server_->log->debug("http {}: bad request: {}", remote_.toString(), ec.message());
        reply(Response{ec == http::error::header_limit ? 431u : 400u,
                       "text/plain; charset=utf-8",
                       "bad request: " + ec.message() + "\n",
                       {}},
              /*head=*/false, /*keepAlive=*/false);
        return;
      }
      abort();
      return;
    }
    HttpRequest request = parser_->release();
    parser_.reset();
    if (server_->stopped) {
      abort();
      return;
    }
    Request r = toRequest(request);
    const bool keepAlive = request.keep_alive();
    const bool head = request.method() == http::verb::head;

    if (r.path == "/ws") {
      if (!websocket::is_upgrade(request)) {
        Response response{426,
                          "text/plain; charset=utf-8",
                          "this is the WebSocket endpoint: connect with a WebSocket client\n",
                          {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}}};
        reply(std::move(response), head, keepAlive);
        return;
      }
      upgrade(std::move(request), r);
      return;
    }
    const bool getOrHead = request.method() == http::verb::get || head;
    if (const auto route = server_->routes.find(r.path); route != server_->routes.end()) {
      if (!getOrHead) {
        reply(methodNotAllowed(), head, keepAlive);
        return;
      }
      Response response;
      try {
        response = route->second(r);
      } catch (const std::exception& e) {
        server_->log->error("http route {} failed: {}", r.path, e.what());
        response = Response{500, "text/plain; charset=utf-8", "internal error\n", {}};
      }
      reply(std::move(response), head, keepAlive);
      return;
    }
    if (!getOrHead) {
      reply(methodNotAllowed(), head, keepAlive);
      return;
    }
    reply(server_->files.serve(r), head, keepAlive);
  }

  static Response methodNotAllowed() {
    return Response{
        405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", "GET, HEAD"}}};
  }

  Request toRequest(const HttpRequest& request) const {
    Request r;
    r.method = std::string(request.method_string());
    r.target = std::string(request.target());
    const auto q = r.target.find('?');
    r.path = r.target.substr(0, q);
    if (q != std::string::npos) r.query = r.target.substr(q + 1);
    r.host = std::string(request[http::field::host]);
    r.secure = kSecure;
    r.remote = remote_;
    for (const auto& field : request)
      r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    return r;
  }

  // RFC 6455 §4.2.2 and RFC 7118 §4: the server picks one of the offered
  // subprotocols; without one it can speak, it refuses the handshake.
  void upgrade(HttpRequest request, const Request& r) {
    const auto& allowed = server_->options.allowedOrigins;
    const auto origin = r.header("Origin");
    if (!allowed.empty() && !origin.empty() &&
        std::none_of(allowed.begin(), allowed.end(),
                     [&](const std::string& o) { return iequals(o, origin); })) {
      server_->rejected("origin").inc();
      server_->log->info("ws {}: origin '{}' not allowed", remote_.toString(), origin);
      reply(Response{403,
                     "text/plain; charset=utf-8",
                     fmt::format("origin '{}' is not allowed\n", origin),
                     {}},
            false, false);
      return;
    }
    std::string chosen;
    WebSocketHandler* handler = nullptr;
    for (auto range = request.equal_range(http::field::sec_websocket_protocol);
         range.first != range.second && !handler; ++range.first) {
      std::string_view list = range.first->value();
      while (!list.empty() && !handler) {
        const auto comma = list.find(',');
        auto token = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
          token.remove_prefix(1);
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
          token.remove_suffix(1);
        if (auto it = server_->protocols.find(token); it != server_->protocols.end()) {
          chosen = std::string(token);
          handler = it->second;
        }
      }
    }
    if (!handler) {
      server_->rejected("subprotocol").inc();
      std::string supported;
      for (const auto& p : server_->protocolOrder)
        supported += (supported.empty() ? "" : ", ") + p;
      reply(Response{400,
                     "text/plain; charset=utf-8",
                     fmt::format("no supported WebSocket subprotocol offered in "
                                 "Sec-WebSocket-Protocol; this server supports: {}\n",
                                 supported.empty() ? "(none)" : supported),
                     {}},
            false, false);
      return;
    }
    // Bytes after the request would be frames sent before the 101, which
    // RFC 6455 §4.1 forbids; they are dropped with the HTTP buffer.
    auto ws = std::make_shared<WsConnection<Stream>>(server_, std::move(stream_), remote_, local_,
                                                     std::move(chosen), *handler);
    ws->start(std::move(request));
  }

  void reply(Response response, bool head, bool keepAlive) {
    server_->countResponse(response.status);
    auto& res = response_.emplace(static_cast<http::status>(response.status), 11);
    res.set(http::field::server, "tandem");
    if (!response.contentType.empty() && response.status != 304)
      res.set(http::field::content_type, response.contentType);
    for (const auto& [name, value] : response.headers)
      res.set(name, value);
    keepAlive = keepAlive && !server_->stopped;
    res.keep_alive(keepAlive);
    if (response.status == 304 || response.status == 204) {
      // No body and no length (RFC 9110 §15.4.5).
    } else if (head) {
      res.content_length(response.body.size());
    } else {
      res.body() = std::move(response.body);
      res.prepare_payload();
    }
    deadline_ = Clock::now() + server_->options.requestTimeout;
    http::async_write(
        stream_, res,
        [self = this->shared_from_this(), keepAlive](const error_code& ec, std::size_t) {
          self->response_.reset();
          if (ec || !keepAlive) {
            self->closeAfterResponse();
            return;
          }
          self->readRequest();
        });
  }

  void closeAfterResponse() {
    if constexpr (kSecure) stream_.shutdownTls();
    error_code ignored;
    // FIN first, so that the response is not lost to a reset.
    beast::get_lowest_layer(stream_).shutdown(tcp::socket::shutdown_send, ignored);
    abort();
  }

  std::shared_ptr<Impl> server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  core::Endpoint remote_, local_;
  Clock::time_point deadline_;
};

// ---------------------------------------------------------------------------
// TLS detection stage (only when TLS is configured).

class Detector final : public Connection, public std::enable_shared_from_this<Detector> {
 public:
  Detector(std::shared_ptr<Impl> server, tcp::socket socket, const core::Endpoint& remote,
           const core::Endpoint& local)
      : server_(std::move(server)), socket_(std::move(socket)), remote_(remote), local_(local) {
    server_->connections.push_back(*this);
  }

  void start() {
    deadline_ = Clock::now() + server_->options.requestTimeout;
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](const error_code& ec) { self->onReadable(ec); });
  }

  void sweep(Clock::time_point now) override {
    if (now >= deadline_) abort();
  }
  void stop() override { abort(); }
  void abort() override {
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  // The first byte, peeked so that it stays for whoever reads next: 0x16 is a
  // TLS handshake record (RFC 8446 §5.1), which no HTTP method starts with.
  void onReadable(const error_code& ec) {
    if (ec || server_->stopped) {
      abort();
      return;
    }
    unsigned char first = 0;
    error_code peekError;
    socket_.non_blocking(true, peekError);
    const auto n = socket_.receive(asio::buffer(&first, 1), tcp::socket::message_peek, peekError);
    if (peekError == asio::error::would_block) {
      start();
      return;
    }
    if (peekError || n == 0) {
      abort();
      return;
    }
    if (first == 0x16) {
      auto c = std::make_shared<HttpConnection<SslStream>>(
          server_, SslStream(std::move(socket_), server_->tls.get()),
          beast::flat_buffer(tuning::kMaxRequestHeader), remote_, local_);
      c->start();
    } else {
      auto c = std::make_shared<HttpConnection<tcp::socket>>(
          server_, std::move(socket_), beast::flat_buffer(tuning::kMaxRequestHeader), remote_,
          local_);
      c->start();
    }
  }

  std::shared_ptr<Impl> server_;
  tcp::socket socket_;
  core::Endpoint remote_, local_;
  Clock::time_point deadline_;
};

}  // namespace

// ---------------------------------------------------------------------------
// The server.

void HttpServer::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
    if (!self->acceptor.is_open() || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Out of descriptors (or a transient error): try again shortly.
      self->log->warn("http accept failed: {}", ec.message());
      auto retry = std::make_shared<asio::steady_timer>(self->io, tuning::kAcceptRetryDelay);
      retry->async_wait([self, retry](const error_code&) {
        if (self->acceptor.is_open()) self->accept();
      });
      return;
    }
    self->startConnection(std::move(socket));
    self->accept();
  });
}

void HttpServer::Impl::startConnection(tcp::socket socket) {
  error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const auto local = socket.local_endpoint(ec);
  if (ec) return;  // already gone
  // Signaling messages are small and latency-bound.
  socket.set_option(tcp::no_delay(true), ec);
  if (tls) {
    std::make_shared<Detector>(shared_from_this(), std::move(socket), toEndpoint(remote),
                               toEndpoint(local))
        ->start();
  } else {
    std::make_shared<HttpConnection<tcp::socket>>(shared_from_this(), std::move(socket),
                                                  beast::flat_buffer(tuning::kMaxRequestHeader),
                                                  toEndpoint(remote), toEndpoint(local))
        ->start();
  }
}

void HttpServer::Impl::sweep() {
  sweepTimer.expires_after(sweepPeriod);
  sweepTimer.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec) {
      self->sweeping = false;
      return;
    }
    const auto now = Clock::now();
    for (auto it = self->connections.begin(); it != self->connections.end();)
      (it++)->sweep(now);
    if (self->stopped && self->connections.empty()) {
      self->sweeping = false;
      return;
    }
    self->sweep();
  });
}

HttpServer::HttpServer(asio::io_context& io, HttpOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

HttpServer::~HttpServer() {
  impl_->stopped = true;
  error_code ignored;
  impl_->acceptor.close(ignored);
  impl_->sweepTimer.cancel();
  impl_->abortAll();
}

std::string HttpServer::listen(const core::Endpoint& at) {
  auto& impl = *impl_;
  if (impl.acceptor.is_open()) return "already listening";
  const auto& o = impl.options;
  if (!o.tlsCertFile.empty() || !o.tlsKeyFile.empty()) {
    if (o.tlsCertFile.empty() || o.tlsKeyFile.empty())
      return "TLS needs both a certificate and a key";
    impl.tls.reset(SSL_CTX_new(TLS_server_method()));
    auto* ctx = impl.tls.get();
    ERR_clear_error();
    const auto failure = [&](const std::string& what) {
      char reason[256] = "unknown error";
      if (const auto code = ERR_get_error()) ERR_error_string_n(code, reason, sizeof reason);
      impl.tls.reset();
      return fmt::format("cannot load TLS {} ('{}' / '{}'): {}", what, o.tlsCertFile, o.tlsKeyFile,
                         reason);
    };
    if (!ctx) return failure("context");
    // TLS 1.2 and later only (RFC 7525 §3.1.1).
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Idle connections give their record buffers back; write_some semantics
    // for Beast, which may retry a write from another buffer address.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // No resumption state kept per client: browsers reconnect rarely, and a
    // session cache would grow with every connection.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    if (SSL_CTX_use_certificate_chain_file(ctx, o.tlsCertFile.c_str()) != 1)
      return failure("certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, o.tlsKeyFile.c_str(), SSL_FILETYPE_PEM) != 1)
      return failure("key");
    if (SSL_CTX_check_private_key(ctx) != 1) return failure("key (does not match the certificate)");
  }
  error_code ec;
  const tcp::endpoint endpoint(at.address, at.port);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(tuning::kListenBacklog, ec);
  if (ec) {
    error_code ignored;
    impl.acceptor.close(ignored);
    return ec.message();
  }
  impl.bound = toEndpoint(impl.acceptor.local_endpoint(ec));
  impl.stopped = false;
  impl.accept();
  if (!impl.sweeping) {
    impl.sweeping = true;
    impl.sweep();
  }
  return {};
}

std::optional<core::Endpoint> HttpServer::boundEndpoint() const {
  return impl_->bound;
}

bool HttpServer::tlsEnabled() const {
  return impl_->tls != nullptr;
}

void HttpServer::addWebSocketProtocol(std::string subprotocol, WebSocketHandler& handler) {
  if (!impl_->protocols.count(subprotocol)) impl_->protocolOrder.push_back(subprotocol);
  impl_->protocols[std::move(subprotocol)] = &handler;
}

std::vector<std::string> HttpServer::webSocketProtocols() const {
  return impl_->protocolOrder;
}

void HttpServer::addRoute(std::string path, Route route) {
  impl_->routes[std::move(path)] = std::move(route);
}

void HttpServer::shutdown() {
  auto& impl = *impl_;
  impl.stopped = true;
  error_code ignored;
  impl.acceptor.close(ignored);
  for (auto it = impl.connections.begin(); it != impl.connections.end();)
    (it++)->stop();
}

std::size_t HttpServer::webSocketCount() const {
  return impl_->webSockets;
}

}  // namespace tandem::web
