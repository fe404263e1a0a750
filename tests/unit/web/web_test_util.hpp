#pragma once
// Helpers for the web server tests: the server and the clients share one
// io_context on the test's thread; waits run it until something happened.

#include "support/asio_loop.hpp"
#include "web/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tandem::web::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

using testkit::loopback;
using testkit::runFor;
using testkit::runUntil;

// Starts an asynchronous operation with a handler and runs the loop until it
// completes; timed_out when it does not within `timeout`.
template <class Start>
error_code await(asio::io_context& io, Start start, std::chrono::milliseconds timeout = 5000ms) {
  auto result = std::make_shared<std::optional<error_code>>();
  start([result](const error_code& ec, auto&&...) { *result = ec; });
  if (!runUntil(
          io, [&] { return result->has_value(); }, timeout))
    return asio::error::timed_out;
  return **result;
}

struct HttpResult {
  error_code error;
  unsigned status = 0;
  std::string body;
  http::fields headers;
};

// One request on a fresh connection over `stream` (connected already).
template <class Stream>
HttpResult exchange(asio::io_context& io, Stream& stream, http::request<http::string_body> req) {
  HttpResult r;
  req.prepare_payload();
  r.error = await(io, [&](auto h) { http::async_write(stream, req, h); });
  if (r.error) return r;
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (req.method() == http::verb::head) parser.skip(true);
  r.error = await(io, [&](auto h) { http::async_read(stream, buffer, parser, h); });
  if (r.error) return r;
  auto res = parser.release();
  r.status = res.result_int();
  r.body = res.body();
  for (const auto& f : res)
    r.headers.insert(f.name_string(), f.value());
  return r;
}

inline http::request<http::string_body> makeRequest(
    http::verb method, const std::string& target, const std::string& host = "127.0.0.1",
    std::vector<std::pair<std::string, std::string>> extra = {}) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, host);
  req.keep_alive(false);
  for (const auto& [n, v] : extra)
    req.set(n, v);
  return req;
}

// A plain HTTP request on a new connection.
inline HttpResult request(asio::io_context& io, std::uint16_t port, http::verb method,
                          const std::string& target,
                          std::vector<std::pair<std::string, std::string>> extra = {},
                          const std::string& host = "127.0.0.1") {
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  return exchange(io, socket, makeRequest(method, target, host, std::move(extra)));
}

inline HttpResult get(asio::io_context& io, std::uint16_t port, const std::string& target) {
  return request(io, port, http::verb::get, target);
}

// A WebSocket client over Stream (tcp::socket or ssl::stream<tcp::socket>).
template <class Stream>
struct WsClient {
  template <class... Args>
  explicit WsClient(asio::io_context& ioContext, Args&&... args)
      : io(ioContext), ws(std::forward<Args>(args)...) {}

  // The opening handshake offering `protocols` ("" offers none).
  error_code handshake(const std::string& protocols, const std::string& origin = "") {
    ws.set_option(
        websocket::stream_base::decorator([protocols, origin](websocket::request_type& r) {
          if (!protocols.empty()) r.set(http::field::sec_websocket_protocol, protocols);
          if (!origin.empty()) r.set(http::field::origin, origin);
        }));
    return await(io, [&](auto h) { ws.async_handshake(response, "127.0.0.1", "/ws", h); });
  }
  error_code write(const std::string& text, bool binary = false) {
    ws.binary(binary);
    return await(io, [&](auto h) { ws.async_write(asio::buffer(text), h); });
  }
  // One message; the error when the connection ended instead.
  error_code read(std::string& out, std::chrono::milliseconds timeout = 5000ms) {
    beast::flat_buffer buffer;
    const auto ec = await(
        io, [&](auto h) { ws.async_read(buffer, h); }, timeout);
    out = beast::buffers_to_string(buffer.data());
    return ec;
  }

  asio::io_context& io;
  websocket::stream<Stream> ws;
  websocket::response_type response;
};

}  // namespace tandem::web::test
