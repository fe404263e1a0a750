#include "web/client_config.hpp"

#include "core/jwt.hpp"
#include "core/metrics.hpp"

#include <nlohmann/json.hpp>

namespace tandem::web {
namespace {

// A Host header is echoed into URLs the browser will open: accept only what a
// host name, IP literal and port consist of.
bool plausibleHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
          c == '[' || c == ']'))
      return false;
  }
  return true;
}

// The user name put into TURN credentials: printable, without ':' (the
// separator of the REST user name), bounded.
std::string turnUser(const Request& request) {
  auto user = request.queryParam("user").value_or("");
  std::string out;
  for (char c : user) {
    if (static_cast<unsigned char>(c) > 0x20 && c != ':' && c != 0x7f) out += c;
    if (out.size() >= 64) break;
  }
  return out.empty() ? "anonymous" : out;
}

}  // namespace

bool IceServer::isTurn() const {
  for (const auto& url : urls) {
    if (url.rfind("turn:", 0) == 0 || url.rfind("turns:", 0) == 0) return true;
  }
  return false;
}

TurnCredentials turnCredentials(std::string_view secret, std::string_view user,
                                std::int64_t expiresAt) {
  TurnCredentials c;
  c.username = std::to_string(expiresAt) + ":" + std::string(user);
  c.password = core::base64Encode(core::hmac("SHA1", secret, c.username));
  return c;
}

std::string renderClientConfig(const ClientConfigOptions& options, const Request& request,
                               const std::vector<std::string>& subprotocols, std::int64_t now) {
  using json = nlohmann::json;
  json urls = json::array();
  if (!options.publicWebSocketUrl.empty()) {
    urls.push_back(options.publicWebSocketUrl);
  } else if (plausibleHost(request.host)) {
    urls.push_back(std::string(request.secure ? "wss://" : "ws://") + request.host + "/ws");
  }
  json ice = json::array();
  const auto user = turnUser(request);
  for (const auto& server : options.iceServers) {
    json entry = {{"urls", server.urls}};
    if (server.isTurn()) {
      if (!server.secret.empty()) {
        const auto c = turnCredentials(server.secret, user, now + server.ttl.count());
        entry["username"] = c.username;
        entry["credential"] = c.password;
        entry["ttl"] = server.ttl.count();
      } else {
        entry["username"] = server.username;
        entry["credential"] = server.credential;
      }
    }
    ice.push_back(std::move(entry));
  }
  json body = {
      {"domain", options.domain},
      {"websocket", {{"urls", urls}, {"subprotocols", subprotocols}}},
      {"iceServers", ice},
  };
  return body.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace tandem::web

namespace tandem::web {

void addStandardRoutes(HttpServer& server, ClientConfigOptions options, core::Metrics& metrics) {
  server.addRoute("/healthz", [](const Request&) {
    return Response{200, "text/plain; charset=utf-8", "ok", {{"Cache-Control", "no-store"}}};
  });
  server.addRoute("/metrics", [&metrics](const Request&) {
    return Response{200,
                    "text/plain; version=0.0.4; charset=utf-8",
                    metrics.render(),
                    {{"Cache-Control", "no-store"}}};
  });
  server.addRoute("/api/config", [&server, options = std::move(options)](const Request& request) {
    return Response{
        200,
        "application/json",
        renderClientConfig(options, request, server.webSocketProtocols(), core::unixNow()),
        {{"Cache-Control", "no-store"}}};
  });
}

}  // namespace tandem::web
