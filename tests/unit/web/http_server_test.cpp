// HttpServer on 127.0.0.1 with Beast clients on the same io_context: static
// files, routes, WebSocket handshakes, messages, limits and timeouts, and
// HTTPS/WSS on the same port as plain HTTP.
#include "web/http_server.hpp"

#include "core/jwt.hpp"
#include "core/metrics.hpp"
#include "web/client_config.hpp"
#include "web_test_util.hpp"

#include <gtest/gtest.h>

#include <boost/asio/read.hpp>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace tandem::web {
namespace {

namespace fs = std::filesystem;
using namespace test;

// Echoes text messages; counts opens and closes.
struct EchoHandler : WebSocketHandler {
  std::vector<std::shared_ptr<WebSocketSession>> sessions;
  int closes = 0;
  std::vector<std::string> received;
  void onOpen(std::shared_ptr<WebSocketSession> s) override {
    auto* raw = s.get();
    s->onMessage = [this, raw](std::string text) {
      received.push_back(text);
      if (text == "close-me") {
        raw->close(4000, "asked to");
        return;
      }
      raw->send(std::move(text));
    };
    s->onClose = [this, s] { ++closes; };  // holds s: must be released after close
    sessions.push_back(std::move(s));
  }
};

void writeFile(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/tandem-web-XXXXXX";
    const char* made = mkdtemp(pattern);
    ASSERT_NE(made, nullptr);
    dir_ = new fs::path(made);
    const auto www = *dir_ / "www";
    writeFile(www / "index.html", "<!doctype html><title>phone</title>");
    writeFile(www / "app.js", "console.log('hi');");
    writeFile(www / "style.css", "body{}");
    writeFile(www / "icon.svg", "<svg/>");
    writeFile(www / "img.png", std::string("\x89PNG\r\n\x1a\n", 8));
    writeFile(www / "data.json", "{}");
    writeFile(www / "mod.wasm", std::string("\0asm", 4));
    writeFile(www / "favicon.ico", "ico");
    writeFile(www / "sub" / "index.html", "sub index");
    writeFile(www / "sub" / "page.html", "sub page");
    writeFile(www / ".hidden", "hidden");
    writeFile(*dir_ / "secret.txt", "TOP-SECRET");
    fs::create_symlink(*dir_ / "secret.txt", www / "link.txt");
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
        " -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
        (*dir_ / "key.pem").string() + " -out " + (*dir_ / "cert.pem").string() + " 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(*dir_, ignored);
    delete dir_;
  }

  HttpOptions baseOptions() {
    HttpOptions o;
    o.staticRoot = (*dir_ / "www").string();
    o.metrics = &metrics;
    o.requestTimeout = 2000ms;
    return o;
  }

  void start(HttpOptions o) {
    server.emplace(io, std::move(o));
    server->addWebSocketProtocol("sip", handler);
    ClientConfigOptions api;
    api.domain = "example.test";
    IceServer stun;
    stun.urls = {"stun:stun.example.test:3478"};
    IceServer turn;
    turn.urls = {"turn:turn.example.test:3478?transport=udp"};
    turn.secret = "turn-secret";
    turn.ttl = std::chrono::seconds(600);
    api.iceServers = {stun, turn};
    addStandardRoutes(*server, api, metrics);
    ASSERT_EQ(server->listen(loopback()), "");
    port = server->boundEndpoint()->port;
  }

  // A plain WebSocket client, connected and through the handshake.
  std::unique_ptr<WsClient<tcp::socket>> openWs(const std::string& protocols = "sip",
                                                error_code* ec = nullptr,
                                                const std::string& origin = "") {
    auto c = std::make_unique<WsClient<tcp::socket>>(io, io);
    c->ws.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    const auto e = c->handshake(protocols, origin);
    if (ec) *ec = e;
    return c;
  }

  // The server still answers HTTP and WebSocket echoes.
  void expectServing() {
    const auto r = get(io, port, "/healthz");
    EXPECT_EQ(r.status, 200u) << r.error.message();
    EXPECT_EQ(r.body, "ok");
    error_code ec;
    auto c = openWs("sip", &ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_FALSE(c->write("still here"));
    std::string got;
    EXPECT_FALSE(c->read(got));
    EXPECT_EQ(got, "still here");
  }

  // Reads until the server ends the connection; the close code it sent.
  unsigned readUntilClosed(WsClient<tcp::socket>& c, error_code* ec = nullptr) {
    std::string ignored;
    error_code e;
    do {
      e = c.read(ignored);
    } while (!e);
    if (ec) *ec = e;
    return c.ws.reason().code;
  }

  static fs::path* dir_;
  asio::io_context io;
  core::Metrics metrics;
  EchoHandler handler;
  std::optional<HttpServer> server;
  std::uint16_t port = 0;
};

fs::path* HttpServerTest::dir_ = nullptr;

TEST_F(HttpServerTest, ServesStaticFilesWithContentTypes) {
  start(baseOptions());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/", "text/html; charset=utf-8"},
      {"/index.html", "text/html; charset=utf-8"},
      {"/app.js", "text/javascript; charset=utf-8"},
      {"/style.css", "text/css; charset=utf-8"},
      {"/icon.svg", "image/svg+xml"},
      {"/img.png", "image/png"},
      {"/data.json", "application/json"},
      {"/mod.wasm", "application/wasm"},
      {"/favicon.ico", "image/x-icon"},
      {"/sub/", "text/html; charset=utf-8"},
      {"/sub/page.html?v=1", "text/html; charset=utf-8"},
  };
  for (const auto& [target, type] : cases) {
    const auto r = get(io, port, target);
    EXPECT_EQ(r.status, 200u) << target << ": " << r.error.message();
    EXPECT_EQ(r.headers[http::field::content_type], type) << target;
    EXPECT_EQ(r.headers[http::field::cache_control], "no-cache") << target;
  }
  EXPECT_EQ(get(io, port, "/").body, "<!doctype html><title>phone</title>");
  EXPECT_EQ(get(io, port, "/mod.wasm").body, std::string("\0asm", 4));
  EXPECT_EQ(get(io, port, "/sub").body, "sub index");
  EXPECT_EQ(get(io, port, "/missing.js").status, 404u);
  EXPECT_EQ(get(io, port, "/.hidden").status, 404u);
}

TEST_F(HttpServerTest, RefusesPathTraversal) {
  start(baseOptions());
  for (const std::string target :
       {"/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
        "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/sub/..%5c..%5csecret.txt", "/app.js%00.html",
        "/%252e%252e/secret.txt", "/link.txt", "/./../secret.txt", "//../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt", "/%zz", "/..\\secret.txt"}) {
    const auto r = get(io, port, target);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << target << " gave " << r.status;
    EXPECT_EQ(r.body.find("TOP-SECRET"), std::string::npos) << target;
  }
  expectServing();
}

TEST_F(HttpServerTest, HeadAndMethodsAndValidators) {
  start(baseOptions());
  const auto head = request(io, port, http::verb::head, "/app.js");
  EXPECT_EQ(head.status, 200u);
  EXPECT_EQ(head.headers[http::field::content_length], "18");
  EXPECT_EQ(head.body, "");
  const auto post = request(io, port, http::verb::post, "/app.js");
  EXPECT_EQ(post.status, 405u);
  EXPECT_EQ(post.headers[http::field::allow], "GET, HEAD");
  EXPECT_EQ(request(io, port, http::verb::delete_, "/healthz").status, 405u);

  const auto first = get(io, port, "/app.js");
  const std::string etag(first.headers[http::field::etag]);
  ASSERT_FALSE(etag.empty());
  const auto again = request(io, port, http::verb::get, "/app.js", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304u);
  EXPECT_EQ(again.body, "");
}

TEST_F(HttpServerTest, MissingRootExplainsItself) {
  auto o = baseOptions();
  o.staticRoot = (*dir_ / "does-not-exist").string();
  o.missingIndexHint = "web phone not built: run make";
  start(o);
  const auto r = get(io, port, "/");
  EXPECT_EQ(r.status, 404u);
  EXPECT_NE(r.body.find("web phone not built"), std::string::npos);
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequests) {
  start(baseOptions());
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  for (int i = 0; i < 3; ++i) {
    auto req = makeRequest(http::verb::get, "/healthz");
    req.keep_alive(true);
    const auto r = exchange(io, socket, req);
    EXPECT_EQ(r.status, 200u) << i << " " << r.error.message();
  }
}

TEST_F(HttpServerTest, MalformedRequestGets400) {
  start(baseOptions());
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(std::string("GARBAGE \x01\x02 nonsense\r\n\r\n")));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  EXPECT_FALSE(await(io, [&](auto h) { http::async_read(socket, buffer, res, h); }));
  EXPECT_EQ(res.result_int(), 400u);
  expectServing();
}

TEST_F(HttpServerTest, HealthzMetricsAndApiConfig) {
  start(baseOptions());
  EXPECT_EQ(get(io, port, "/healthz").body, "ok");

  const auto before = core::unixNow();
  const auto r =
      request(io, port, http::verb::get, "/api/config?user=alice", {}, "example.test:8080");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.headers[http::field::content_type], "application/json");
  // The JSON is checked field by field in client_config_test; here, the
  // wiring: Host-derived URL, registered subprotocols, TURN user.
  EXPECT_NE(r.body.find("\"ws://example.test:8080/ws\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"sip\""), std::string::npos) << r.body;
  const auto expiry = r.body.find(":alice\"");
  ASSERT_NE(expiry, std::string::npos) << r.body;
  const auto quote = r.body.rfind('"', expiry);
  const auto at = std::stoll(r.body.substr(quote + 1, expiry - quote - 1));
  EXPECT_GE(at, before + 600);
  EXPECT_LE(at, core::unixNow() + 600);

  auto ws = openWs();
  const auto m = get(io, port, "/metrics");
  EXPECT_EQ(m.status, 200u);
  EXPECT_NE(
      m.body.find("# TYPE tandem_websocket_connections gauge\ntandem_websocket_connections 1\n"),
      std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("# TYPE tandem_http_requests_total counter"), std::string::npos);
  EXPECT_NE(m.body.find("tandem_http_requests_total{class=\"2xx\"} "), std::string::npos);
  EXPECT_EQ(metrics.counter("tandem_http_requests_total", "", {{"class", "1xx"}}).value(), 1u);
}

TEST_F(HttpServerTest, WebSocketNegotiatesSipAndEchoes) {
  start(baseOptions());
  error_code ec;
  auto c = openWs("foo, sip", &ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(c->response[http::field::sec_websocket_protocol], "sip");
  ASSERT_TRUE(runUntil(io, [&] { return server->webSocketCount() == 1; }));
  ASSERT_EQ(handler.sessions.size(), 1u);
  EXPECT_EQ(handler.sessions[0]->subprotocol(), "sip");
  EXPECT_FALSE(handler.sessions[0]->secure());
  EXPECT_EQ(handler.sessions[0]->remote().port, c->ws.next_layer().local_endpoint().port());

  const std::string big(60000, 'x');
  for (const std::string& text : {std::string("REGISTER sip:example.test SIP/2.0\r\n\r\n"), big}) {
    ASSERT_FALSE(c->write(text));
    std::string got;
    ASSERT_FALSE(c->read(got));
    EXPECT_TRUE(got == text) << got.size();
  }
  // Server-initiated close with the handler's code.
  ASSERT_FALSE(c->write("close-me"));
  EXPECT_EQ(readUntilClosed(*c), 4000u);
  EXPECT_TRUE(runUntil(io, [&] { return handler.closes == 1; }));
  EXPECT_EQ(server->webSocketCount(), 0u);
  runFor(io, 50ms);
  EXPECT_EQ(handler.closes, 1);
}

TEST_F(HttpServerTest, HandshakeWithoutSupportedSubprotocolGets400) {
  start(baseOptions());
  for (const std::string offered : {"", "tandem.v2", "SIP2"}) {
    error_code ec;
    auto c = openWs(offered, &ec);
    EXPECT_EQ(ec, websocket::error::upgrade_declined) << offered << ": " << ec.message();
    EXPECT_EQ(c->response.result_int(), 400u) << offered;
    EXPECT_NE(c->response.body().find("supports: sip"), std::string::npos) << c->response.body();
  }
  // A plain GET on /ws explains what the endpoint is.
  EXPECT_EQ(get(io, port, "/ws").status, 426u);
  EXPECT_TRUE(handler.sessions.empty());
  expectServing();
}

TEST_F(HttpServerTest, OriginAllowList) {
  auto o = baseOptions();
  o.allowedOrigins = {"https://phone.example.test"};
  start(o);
  error_code ec;
  auto bad = openWs("sip", &ec, "https://evil.example");
  EXPECT_EQ(bad->response.result_int(), 403u);
  auto good = openWs("sip", &ec, "https://phone.example.test");
  EXPECT_FALSE(ec) << ec.message();
  expectServing();
}

TEST_F(HttpServerTest, BinaryMessageClosesWith1003) {
  start(baseOptions());
  auto c = openWs();
  ASSERT_FALSE(c->write(std::string("\x01\x02\x03", 3), /*binary=*/true));
  EXPECT_EQ(readUntilClosed(*c), 1003u);
  EXPECT_TRUE(runUntil(io, [&] { return handler.closes == 1; }));
  EXPECT_TRUE(handler.received.empty());
  expectServing();
}

TEST_F(HttpServerTest, OversizedMessageClosesWith1009) {
  auto o = baseOptions();
  o.maxWebSocketMessage = 1024;
  start(o);
  auto c = openWs();
  ASSERT_FALSE(c->write(std::string(1024, 'a')));
  std::string got;
  ASSERT_FALSE(c->read(got));
  c->write(std::string(1025, 'b'));
  EXPECT_EQ(readUntilClosed(*c), 1009u);
  EXPECT_TRUE(runUntil(io, [&] { return handler.closes == 1; }));
  EXPECT_EQ(handler.received.size(), 1u);
  expectServing();
}

TEST_F(HttpServerTest, InvalidUtf8ClosesThatConnectionOnly) {
  start(baseOptions());
  auto other = openWs();
  auto c = openWs();
  c->write(std::string("\xff\xfe", 2));
  EXPECT_EQ(readUntilClosed(*c), 1007u);
  ASSERT_FALSE(other->write("fine"));
  std::string got;
  EXPECT_FALSE(other->read(got));
  EXPECT_EQ(got, "fine");
}

TEST_F(HttpServerTest, PingsKeepReadingClientsAndIdleOnesAreClosed) {
  auto o = baseOptions();
  o.pingInterval = 100ms;
  o.idleTimeout = 400ms;
  start(o);
  auto live = openWs();
  int pings = 0;
  live->ws.control_callback([&](websocket::frame_type kind, beast::string_view) {
    if (kind == websocket::frame_type::ping) ++pings;
  });
  auto silent = openWs();  // never reads, so never answers pings
  std::string got;
  // The live client reads (and so answers pings) for 1 s: no message, still open.
  EXPECT_EQ(live->read(got, 1000ms), asio::error::timed_out);
  EXPECT_GE(pings, 3);
  EXPECT_TRUE(runUntil(
      io, [&] { return handler.closes == 1; }, 2000ms));
  EXPECT_EQ(server->webSocketCount(), 1u);
  error_code ec;
  readUntilClosed(*silent, &ec);
  EXPECT_TRUE(ec);
  live->ws.control_callback();
}

TEST_F(HttpServerTest, SlowHandshakeIsDropped) {
  auto o = baseOptions();
  o.requestTimeout = 300ms;
  start(o);
  tcp::socket slow(io), mute(io);
  slow.connect({asio::ip::make_address("127.0.0.1"), port});
  mute.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(slow, asio::buffer(std::string("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr")));
  const auto started = std::chrono::steady_clock::now();
  char byte;
  for (auto* socket : {&slow, &mute}) {
    const auto ec = await(io, [&](auto h) { socket->async_read_some(asio::buffer(&byte, 1), h); });
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 1500ms);
  EXPECT_TRUE(handler.sessions.empty());
  expectServing();
}

TEST_F(HttpServerTest, ShutdownClosesWebSocketsWith1001) {
  start(baseOptions());
  auto c = openWs();
  ASSERT_TRUE(runUntil(io, [&] { return server->webSocketCount() == 1; }));
  server->shutdown();
  EXPECT_EQ(readUntilClosed(*c), 1001u);
  EXPECT_TRUE(runUntil(io, [&] { return handler.closes == 1; }));
  EXPECT_EQ(server->webSocketCount(), 0u);
  tcp::socket late(io);
  error_code ec;
  late.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  EXPECT_TRUE(ec);  // no longer listening
}

TEST_F(HttpServerTest, HttpsAndWssShareThePortWithPlainHttp) {
  auto o = baseOptions();
  o.tlsCertFile = (*dir_ / "cert.pem").string();
  o.tlsKeyFile = (*dir_ / "key.pem").string();
  start(o);
  EXPECT_TRUE(server->tlsEnabled());

  ssl::context tls(ssl::context::tls_client);
  tls.load_verify_file((*dir_ / "cert.pem").string());
  tls.set_verify_mode(ssl::verify_peer);

  {
    ssl::stream<tcp::socket> stream(io, tls);
    stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    ASSERT_FALSE(await(io, [&](auto h) { stream.async_handshake(ssl::stream_base::client, h); }));
    const auto r =
        exchange(io, stream, makeRequest(http::verb::get, "/api/config", "127.0.0.1:443"));
    EXPECT_EQ(r.status, 200u) << r.error.message();
    EXPECT_NE(r.body.find("wss://127.0.0.1:443/ws"), std::string::npos) << r.body;
  }
  {
    WsClient<ssl::stream<tcp::socket>> c(io, io, tls);
    c.ws.next_layer().next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    ASSERT_FALSE(
        await(io, [&](auto h) { c.ws.next_layer().async_handshake(ssl::stream_base::client, h); }));
    ASSERT_FALSE(c.handshake("sip"));
    ASSERT_TRUE(runUntil(io, [&] { return handler.sessions.size() == 1; }));
    EXPECT_TRUE(handler.sessions[0]->secure());
    for (const std::string& text : {std::string("over tls"), std::string(60000, 't')}) {
      ASSERT_FALSE(c.write(text));
      std::string got;
      EXPECT_FALSE(c.read(got));
      EXPECT_TRUE(got == text) << got.size();
    }
    c.write("close-me");
    std::string ignored;
    while (!c.read(ignored)) {
    }
    EXPECT_EQ(c.ws.reason().code, 4000u);
  }
  // Plain HTTP and WS on the same port.
  expectServing();
}

TEST_F(HttpServerTest, BrokenTlsIsDroppedAndTheServerKeepsServing) {
  auto o = baseOptions();
  o.tlsCertFile = (*dir_ / "cert.pem").string();
  o.tlsKeyFile = (*dir_ / "key.pem").string();
  start(o);
  tcp::socket junk(io);
  junk.connect({asio::ip::make_address("127.0.0.1"), port});
  // A TLS handshake record header followed by garbage.
  asio::write(junk, asio::buffer(std::string("\x16\x03\x01\x00\x10garbagegarbage!!", 21)));
  // The server may answer with a TLS alert before it closes: read until the
  // connection ends (or the wait times out, which fails the test).
  std::array<char, 4096> sink;
  const auto ec = await(io, [&](auto h) { asio::async_read(junk, asio::buffer(sink), h); });
  EXPECT_TRUE(ec && ec != asio::error::timed_out)
      << "the server should have closed the connection: " << ec.message();
  expectServing();
}

TEST_F(HttpServerTest, UnloadableCertificateIsReported) {
  auto o = baseOptions();
  o.tlsCertFile = (*dir_ / "missing.pem").string();
  o.tlsKeyFile = (*dir_ / "key.pem").string();
  HttpServer s(io, o);
  const auto error = s.listen(loopback());
  EXPECT_NE(error.find("missing.pem"), std::string::npos) << error;
}

TEST_F(HttpServerTest, ListenReportsAddressInUse) {
  start(baseOptions());
  HttpServer second(io, baseOptions());
  EXPECT_NE(second.listen(loopback(port)), "");
}

}  // namespace
}  // namespace tandem::web
