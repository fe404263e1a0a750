#pragma once
// Helpers for the real-socket transport tests: a listener that records what it
// gets, loops that run the io_context until something happened, and
// certificates made by the openssl command line tool.

#include "sip/transport/transport_layer.hpp"
#include "support/asio_loop.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace tandem::sip::test {

using namespace std::chrono_literals;

struct Recorder : TransportListener {
  struct Message {
    std::string data;
    Flow from;
  };
  std::vector<Message> messages;
  std::vector<ConnectionId> closed;
  std::vector<Flow> failed;
  std::function<void(const std::string&, const Flow&)> reply;  // optional

  void onMessage(std::string data, const Flow& from) override {
    messages.push_back({std::move(data), from});
    if (reply) reply(messages.back().data, from);
  }
  void onConnectionClosed(ConnectionId id) override { closed.push_back(id); }
  void onSendFailed(const Flow& to) override { failed.push_back(to); }
};

using testkit::loopback;
using testkit::runFor;
using testkit::runUntil;

// A blocking TCP client; reads poll so that the server's loop keeps running.
class TcpClient {
 public:
  explicit TcpClient(std::uint16_t port) : socket_(io_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    socket_.non_blocking(true);
  }
  void write(std::string_view data) {
    std::size_t done = 0;
    while (done < data.size()) {
      boost::system::error_code ec;
      done += socket_.write_some(boost::asio::buffer(data.substr(done)), ec);
      if (ec && ec != boost::asio::error::would_block) throw boost::system::system_error(ec);
    }
  }
  // Reads until `want` bytes arrived, the peer closed, or timeout.
  std::string read(boost::asio::io_context& server, std::size_t want,
                   std::chrono::milliseconds timeout = 3000ms) {
    std::string got;
    runUntil(
        server, [&] { return poll(got) || got.size() >= want; }, timeout);
    return got;
  }
  // True once the server closed the connection.
  bool waitClosed(boost::asio::io_context& server, std::chrono::milliseconds timeout = 3000ms) {
    std::string ignored;
    return runUntil(
        server, [&] { return poll(ignored); }, timeout);
  }
  boost::asio::ip::tcp::endpoint local() const { return socket_.local_endpoint(); }

 private:
  // Appends what is readable; true on end of stream.
  bool poll(std::string& into) {
    char buf[4096];
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(boost::asio::buffer(buf), ec);
    if (ec == boost::asio::error::would_block) return false;
    if (ec) return true;
    into.append(buf, n);
    return false;
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
};

inline std::string sipMessage(std::string_view first, std::string_view body = "") {
  return std::string(first) +
         "\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKtest\r\nCall-ID: abc\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// A directory for one test suite's files; remove it with removeTempDir().
inline std::filesystem::path makeTempDir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "-XXXXXX";
  const char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr) << pattern;
  return made != nullptr ? std::filesystem::path(made) : std::filesystem::path();
}

inline void removeTempDir(const std::filesystem::path& dir) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

struct CertPair {
  std::string cert, key;  // PEM files
};

// A P-256 certificate `name`.crt/.key in `dir` for `subject` ("/CN=..."),
// with subjectAltName `san` (none when empty): self-signed, or signed by
// `issuer`.
inline CertPair makeCertificate(const std::filesystem::path& dir, const std::string& name,
                                const std::string& subject, const std::string& san,
                                const CertPair* issuer = nullptr) {
  CertPair pair{(dir / (name + ".crt")).string(), (dir / (name + ".key")).string()};
  std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '" +
      subject + "' -keyout " + pair.key + " -out " + pair.cert;
  if (issuer != nullptr) command += " -CA " + issuer->cert + " -CAkey " + issuer->key;
  if (!san.empty()) command += " -addext 'subjectAltName=" + san + "'";
  command += " 2>/dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return pair;
}

}  // namespace tandem::sip::test
