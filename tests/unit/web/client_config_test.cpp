// /api/config rendering and TURN REST credentials, recomputed here with
// OpenSSL directly rather than through core::hmac.
#include "web/client_config.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

namespace tandem::web {
namespace {

using json = nlohmann::json;

std::string referencePassword(const std::string& secret, const std::string& username) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(username.data()), username.size(), mac, &length);
  EXPECT_EQ(length, 20u);
  unsigned char out[64];
  const int n = EVP_EncodeBlock(out, mac, static_cast<int>(length));
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

ClientConfigOptions options() {
  ClientConfigOptions o;
  o.domain = "example.test";
  IceServer stun;
  stun.urls = {"stun:stun.example.test:3478"};
  IceServer turn;
  turn.urls = {"turn:turn.example.test:3478?transport=udp", "turns:turn.example.test:5349"};
  turn.secret = "s3cret";
  turn.ttl = std::chrono::seconds(3600);
  IceServer fixed;
  fixed.urls = {"turn:fixed.example.test"};
  fixed.username = "u";
  fixed.credential = "p";
  o.iceServers = {stun, turn, fixed};
  return o;
}

Request request(std::string host, std::string query = "", bool secure = false) {
  Request r;
  r.method = "GET";
  r.path = "/api/config";
  r.host = std::move(host);
  r.query = std::move(query);
  r.secure = secure;
  return r;
}

TEST(ClientConfig, TurnCredentialsInCoturnRestForm) {
  const auto c = turnCredentials("s3cret", "alice", 1700000000);
  EXPECT_EQ(c.username, "1700000000:alice");
  EXPECT_EQ(c.password, referencePassword("s3cret", "1700000000:alice"));
  EXPECT_EQ(c.password.size(), 28u);  // base64 of 20 bytes
}

TEST(ClientConfig, RendersDomainUrlsSubprotocolsAndIceServers) {
  const auto body = renderClientConfig(
      options(), request("phone.example.test:8080", "user=bob%40x"), {"sip", "tandem.v1"}, 1000);
  const auto j = json::parse(body);
  EXPECT_EQ(j["domain"], "example.test");
  EXPECT_EQ(j["websocket"]["urls"], json::array({"ws://phone.example.test:8080/ws"}));
  EXPECT_EQ(j["websocket"]["subprotocols"], json::array({"sip", "tandem.v1"}));
  const auto& ice = j["iceServers"];
  ASSERT_EQ(ice.size(), 3u);
  EXPECT_EQ(ice[0], json({{"urls", {"stun:stun.example.test:3478"}}}));
  EXPECT_EQ(ice[1]["urls"].size(), 2u);
  EXPECT_EQ(ice[1]["username"], "4600:bob@x");
  EXPECT_EQ(ice[1]["credential"], referencePassword("s3cret", "4600:bob@x"));
  EXPECT_EQ(ice[1]["ttl"], 3600);
  EXPECT_EQ(ice[2]["username"], "u");
  EXPECT_EQ(ice[2]["credential"], "p");
}

TEST(ClientConfig, AnonymousUserSchemeAndFixedUrl) {
  auto j = json::parse(renderClientConfig(options(), request("h:1", "", true), {"sip"}, 0));
  EXPECT_EQ(j["websocket"]["urls"], json::array({"wss://h:1/ws"}));
  EXPECT_EQ(j["iceServers"][1]["username"], "3600:anonymous");
  // ':' would split the REST user name; it is dropped.
  j = json::parse(renderClientConfig(options(), request("h", "user=a:b"), {"sip"}, 0));
  EXPECT_EQ(j["iceServers"][1]["username"], "3600:ab");

  auto o = options();
  o.publicWebSocketUrl = "wss://sip.example.test/ws";
  j = json::parse(renderClientConfig(o, request("ignored"), {"sip"}, 0));
  EXPECT_EQ(j["websocket"]["urls"], json::array({"wss://sip.example.test/ws"}));
}

TEST(ClientConfig, ImplausibleHostGivesNoUrl) {
  const auto j =
      json::parse(renderClientConfig(options(), request("evil\"/><script>"), {"sip"}, 0));
  EXPECT_TRUE(j["websocket"]["urls"].empty());
}

TEST(Request, QueryParamsAndHeaders) {
  Request r;
  r.query = "a=1&user=al%20ice&b&c=x+y";
  r.headers = {{"Host", "h"}, {"X-Thing", "v"}};
  EXPECT_EQ(r.queryParam("user"), "al ice");
  EXPECT_EQ(r.queryParam("b"), "");
  EXPECT_EQ(r.queryParam("c"), "x y");
  EXPECT_EQ(r.queryParam("missing"), std::nullopt);
  EXPECT_EQ(r.header("x-thing"), "v");
  EXPECT_EQ(r.header("nope"), "");
}

}  // namespace
}  // namespace tandem::web
