// A web server for measuring memory per idle WebSocket: HttpServer with a
// "sip" handler that keeps every connection open and echoes text. Used by
// tests/perf/ws_memory.py, which reads this process's Pss while it holds
// thousands of idle connections.
//
//   web_ws_memory_server PORT [CERT KEY]
#include "web/http_server.hpp"

#include <malloc.h>
#include <sys/resource.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

namespace {

struct KeepOpen final : tandem::web::WebSocketHandler {
  void onOpen(std::shared_ptr<tandem::web::WebSocketSession> session) override {
    auto* raw = session.get();
    session->onMessage = [raw](std::string text) { raw->send(std::move(text)); };
    session->onClose = [session] {};  // the session lives until it closes
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    std::fprintf(stderr, "usage: %s PORT [CERT KEY]\n", argv[0]);
    return 2;
  }
  // One descriptor per connection: take the hard limit.
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  boost::asio::io_context io(1);
  tandem::web::HttpOptions options;
  if (argc == 4) {
    options.tlsCertFile = argv[2];
    options.tlsKeyFile = argv[3];
  }
  tandem::web::HttpServer server(io, options);
  KeepOpen handler;
  server.addWebSocketProtocol("sip", handler);
  tandem::core::Endpoint at{boost::asio::ip::make_address("127.0.0.1"),
                            static_cast<std::uint16_t>(std::atoi(argv[1]))};
  if (auto err = server.listen(at); !err.empty()) {
    std::fprintf(stderr, "listen: %s\n", err.c_str());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
  // SIGUSR1 prints the bytes malloc has handed out and not taken back, so
  // that live memory can be told from heap fragmentation.
  boost::asio::signal_set usr1(io, SIGUSR1);
  std::function<void()> waitUsr1 = [&] {
    usr1.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      std::printf("malloc-in-use %zu\n", mallinfo2().uordblks);
      std::fflush(stdout);
      waitUsr1();
    });
  };
  waitUsr1();
  std::printf("ready %u\n", static_cast<unsigned>(server.boundEndpoint()->port));
  std::fflush(stdout);
  io.run();
  return 0;
}
