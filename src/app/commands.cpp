#include "app/commands.hpp"

#include "app/config.hpp"
#include "app/server.hpp"
#include "core/jwt.hpp"
#include "core/log.hpp"
#include "registrar/digest.hpp"
#include "store/sqlite_store.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <iostream>
#include <optional>

namespace tandem::app {
namespace {

// Options every command shares: where the configuration and data live.
struct CommonOptions {
  std::string configFile;
  std::string domain;
  std::string dataDir;
  std::string logLevel;
};

void addCommonOptions(CLI::App& cmd, CommonOptions& o) {
  cmd.add_option("--config", o.configFile, "TOML configuration file (see tandem.example.toml)");
  cmd.add_option("--domain", o.domain, "SIP domain served (server.domain)");
  cmd.add_option("--data-dir", o.dataDir,
                 "directory of the SQLite store (server.data_dir, default ./var)");
  cmd.add_option("--log-level", o.logLevel,
                 "trace, debug, info, warn, error, critical or off (server.log_level)");
}

// Defaults, then the file, then the flags; validated.
Config buildConfig(const CommonOptions& o, const std::vector<std::string>& listen,
                   const std::string& tlsCert, const std::string& tlsKey,
                   const std::optional<std::string>& httpListen) {
  Config config;
  if (!o.configFile.empty()) loadConfigFile(o.configFile, config);
  if (!o.domain.empty()) config.domain = o.domain;
  if (!o.dataDir.empty()) config.dataDir = o.dataDir;
  if (!o.logLevel.empty()) config.logLevel = o.logLevel;
  if (!listen.empty()) {
    config.listen.clear();
    for (const auto& l : listen)
      config.listen.push_back(parseListen("--sip-listen", l));
  }
  if (!tlsCert.empty()) config.tlsCert = tlsCert;
  if (!tlsKey.empty()) config.tlsKey = tlsKey;
  if (httpListen) config.httpListen = *httpListen;
  validate(config);
  return config;
}

std::unique_ptr<store::SqliteStore> openStore(const Config& config) {
  std::string error;
  auto db = store::SqliteStore::open(config.dataDir, error);
  if (!db)
    throw ConfigError(
        fmt::format("configuration key 'server.data_dir' = '{}': {}", config.dataDir, error));
  return db;
}

}  // namespace

int runCommandLine(int argc, char** argv) {
  CLI::App app{"Tandem: web server, SIP registrar and proxy, and gateway for browser calling"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("tandem ") + TANDEM_VERSION);

  CommonOptions common;
  std::vector<std::string> listen;
  std::string tlsCert, tlsKey;
  auto* serveCmd = app.add_subcommand("serve", "run the server");
  addCommonOptions(*serveCmd, common);
  serveCmd->add_option("--sip-listen", listen,
                       "TRANSPORT:HOST:PORT to listen on (udp, tcp, tls); repeatable (sip.listen)");
  serveCmd->add_option("--tls-cert", tlsCert, "PEM certificate chain for TLS (tls.cert)");
  serveCmd->add_option("--tls-key", tlsKey, "PEM private key for TLS (tls.key)");
  std::optional<std::string> httpListen;
  serveCmd->add_option("--http-listen", httpListen,
                       "HOST:PORT of the web server (HTTP/WS, and HTTPS/WSS with --tls-cert); "
                       "\"off\" disables it (http.listen, default 0.0.0.0:8080)");

  auto* userCmd = app.add_subcommand("user", "manage users of the served domain");
  userCmd->require_subcommand(1);
  std::string userName, password;
  auto* addCmd = userCmd->add_subcommand("add", "create a user or change their password");
  addCommonOptions(*addCmd, common);
  addCmd->add_option("NAME", userName, "user name (the user part of user@domain)")->required();
  addCmd->add_option("--password", password, "password (only its digest hashes are stored)")
      ->required();
  auto* delCmd = userCmd->add_subcommand("del", "delete a user");
  addCommonOptions(*delCmd, common);
  delCmd->add_option("NAME", userName, "user name")->required();
  auto* listCmd = userCmd->add_subcommand("list", "list users");
  addCommonOptions(*listCmd, common);

  auto* tokenCmd = app.add_subcommand("token", "bearer tokens (JWT HS256) for users");
  tokenCmd->require_subcommand(1);
  auto* mintCmd =
      tokenCmd->add_subcommand("mint", "print a token for USER, signed with auth.jwt_secret");
  addCommonOptions(*mintCmd, common);
  std::string jwtSecret;
  long long ttl = 3600;
  mintCmd->add_option("USER", userName, "user name (the token's \"sub\")")->required();
  mintCmd->add_option("--ttl", ttl, "seconds the token stays valid (default 3600)")
      ->check(CLI::Range(1LL, 10LL * 365 * 24 * 3600));
  mintCmd->add_option("--jwt-secret", jwtSecret, "HS256 secret (auth.jwt_secret)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : 2;
  }

  try {
    const auto config = buildConfig(common, listen, tlsCert, tlsKey, httpListen);
    core::setLogLevel(config.logLevel);
    if (serveCmd->parsed()) return serve(config);
    if (mintCmd->parsed()) {
      const auto& secret = jwtSecret.empty() ? config.jwtSecret : jwtSecret;
      if (secret.empty())
        throw ConfigError(
            "configuration key 'auth.jwt_secret' is not set: tokens need the secret shared with "
            "the site (set auth.jwt_secret or pass --jwt-secret)");
      if (userName.empty()) throw ConfigError("user name must not be empty");
      const auto now = core::unixNow();
      core::JwtClaims claims;
      claims.subject = userName;
      claims.issuedAt = now;
      claims.expiresAt = now + ttl;
      std::cout << core::mintJwt(secret, claims) << "\n";
      return 0;
    }

    auto db = openStore(config);
    if (addCmd->parsed()) {
      for (char c : userName) {
        if (std::iscntrl(static_cast<unsigned char>(c)) || c == '@' || c == ':' || c == ' ')
          throw ConfigError(fmt::format(
              "user name '{}': must not contain spaces, '@', ':' or control characters", userName));
      }
      if (userName.empty()) throw ConfigError("user name must not be empty");
      registrar::UserRecord user{
          userName, config.domain,
          registrar::computeHa1(registrar::DigestAlgorithm::Md5, userName, config.domain, password),
          registrar::computeHa1(registrar::DigestAlgorithm::Sha256, userName, config.domain,
                                password)};
      if (!db->putUser(user)) {
        std::cerr << "tandem: could not store user '" << userName << "'\n";
        return 1;
      }
      std::cout << "user " << userName << "@" << config.domain << " saved\n";
      return 0;
    }
    if (delCmd->parsed()) {
      if (!db->deleteUser(userName)) {
        std::cerr << "tandem: no user '" << userName << "'\n";
        return 1;
      }
      std::cout << "user " << userName << " deleted\n";
      return 0;
    }
    if (listCmd->parsed()) {
      for (const auto& u : db->listUsers())
        std::cout << u.name << "@" << u.realm << "\n";
      return 0;
    }
  } catch (const ConfigError& e) {
    std::cerr << "tandem: " << e.what() << "\n";
    return 2;
  }
  return 2;
}

}  // namespace tandem::app
