// The [http], [websocket], [ice] and [auth] configuration keys.
#include "app/config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace tandem::app {
namespace {

std::string writeToml(const std::string& text) {
  static int counter = 0;
  auto path = std::filesystem::temp_directory_path() /
              ("tandem-web-config-test-" + std::to_string(::getpid()) + "-" +
               std::to_string(counter++) + ".toml");
  std::ofstream(path) << text;
  return path.string();
}

// The ConfigError message of loading and validating `toml`, or "".
std::string errorFor(const std::string& toml) {
  try {
    Config c;
    loadConfigFile(writeToml(toml), c);
    validate(c);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return {};
}

TEST(WebConfig, DefaultsListenOn8080) {
  Config c;
  validate(c);
  ASSERT_TRUE(c.httpEndpoint);
  EXPECT_EQ(c.httpEndpoint->toString(), "0.0.0.0:8080");
  EXPECT_EQ(c.wsMaxMessageSize, 65535u);
  EXPECT_EQ(c.wsPingInterval.count(), 30);
  EXPECT_EQ(c.wsIdleTimeout.count(), 90);
  c.httpListen = "off";
  validate(c);
  EXPECT_FALSE(c.httpEndpoint);
  c.httpListen = "";
  validate(c);
  EXPECT_FALSE(c.httpEndpoint);
}

TEST(WebConfig, ReadsEveryKey) {
  Config c;
  loadConfigFile(writeToml(R"(
[http]
listen = "[::1]:8443"
allowed_origins = ["https://phone.example.com"]
public_ws_url = "wss://sip.example.com/ws"
[websocket]
max_message_size = 4096
ping_interval = 10
idle_timeout = 25
[[ice.servers]]
urls = "stun:stun.example.com"
[[ice.servers]]
urls = ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"]
secret = "coturn-secret"
ttl = 600
[auth]
jwt_secret = "jwt"
)"),
                 c);
  validate(c);
  EXPECT_EQ(c.httpEndpoint->toString(), "[::1]:8443");
  EXPECT_EQ(c.allowedOrigins, std::vector<std::string>{"https://phone.example.com"});
  EXPECT_EQ(c.publicWsUrl, "wss://sip.example.com/ws");
  EXPECT_EQ(c.wsMaxMessageSize, 4096u);
  EXPECT_EQ(c.wsPingInterval.count(), 10);
  EXPECT_EQ(c.wsIdleTimeout.count(), 25);
  ASSERT_EQ(c.iceServers.size(), 2u);
  EXPECT_EQ(c.iceServers[0].urls, std::vector<std::string>{"stun:stun.example.com"});
  EXPECT_FALSE(c.iceServers[0].isTurn());
  EXPECT_EQ(c.iceServers[1].urls.size(), 2u);
  EXPECT_EQ(c.iceServers[1].secret, "coturn-secret");
  EXPECT_EQ(c.iceServers[1].ttl.count(), 600);
  EXPECT_EQ(c.jwtSecret, "jwt");
}

TEST(WebConfig, BadValuesNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[http]\nlisten = \"8080\"", "http.listen"},
      {"[http]\nlisten = \"example.com:8080\"", "http.listen"},
      {"[http]\nroot = \"/nonexistent/dir\"", "http.root"},
      {"[http]\nallowed_origins = \"https://a\"", "http.allowed_origins"},
      {"[http]\nallowed_origins = [\"phone.example.com\"]", "http.allowed_origins"},
      {"[http]\npublic_ws_url = \"http://x/ws\"", "http.public_ws_url"},
      {"[http]\nport = 1", "http.port"},
      {"[websocket]\nmax_message_size = 10", "websocket.max_message_size"},
      {"[websocket]\nping_interval = 60\nidle_timeout = 60", "websocket.idle_timeout"},
      {"[[ice.servers]]\nurls = [\"http://x\"]", "ice.servers.urls"},
      {"[[ice.servers]]\nurls = [\"turn:x\"]", "ice.servers"},
      {"[[ice.servers]]\nurls = [\"turn:x\"]\nsecret = \"s\"\nttl = 5", "ice.servers.ttl"},
      {"[[ice.servers]]\nurl = \"stun:x\"", "ice.servers.url"},
      {"[auth]\njwt_secret = 5", "auth.jwt_secret"},
  };
  for (const auto& [toml, key] : cases) {
    const auto e = errorFor(toml);
    EXPECT_NE(e.find("'" + key), std::string::npos) << toml << " -> " << e;
  }
}

TEST(WebConfig, DefaultWebRootIsADirectoryPath) {
  EXPECT_FALSE(defaultWebRoot().empty());
}

}  // namespace
}  // namespace tandem::app
