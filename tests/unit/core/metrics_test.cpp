#include "core/metrics.hpp"

#include <gtest/gtest.h>

namespace tandem::core {
namespace {

TEST(Metrics, RendersCountersAndGaugesInExpositionFormat) {
  Metrics m;
  m.counter("tandem_sip_messages_total", "SIP messages received", {{"method", "INVITE"}}).inc(3);
  auto& reg = m.counter("tandem_sip_messages_total", "ignored", {{"method", "REGISTER"}});
  reg.inc();
  m.gauge("tandem_websocket_connections", "Open WebSockets").add(5);
  m.gauge("tandem_websocket_connections", "Open WebSockets").sub(2);
  EXPECT_EQ(&reg, &m.counter("tandem_sip_messages_total", "", {{"method", "REGISTER"}}));
  EXPECT_EQ(m.render(),
            "# HELP tandem_sip_messages_total SIP messages received\n"
            "# TYPE tandem_sip_messages_total counter\n"
            "tandem_sip_messages_total{method=\"INVITE\"} 3\n"
            "tandem_sip_messages_total{method=\"REGISTER\"} 1\n"
            "# HELP tandem_websocket_connections Open WebSockets\n"
            "# TYPE tandem_websocket_connections gauge\n"
            "tandem_websocket_connections 3\n");
}

TEST(Metrics, CallbackGaugesLiveAsLongAsTheirHandle) {
  Metrics m;
  int bindings = 7;
  {
    auto handle = m.callbackGauge("tandem_registrations", "Registered bindings", {},
                                  [&] { return static_cast<double>(bindings); });
    EXPECT_NE(m.render().find("tandem_registrations 7\n"), std::string::npos);
    bindings = 8;
    auto moved = std::move(handle);
    EXPECT_NE(m.render().find("tandem_registrations 8\n"), std::string::npos);
  }
  EXPECT_EQ(m.render().find("tandem_registrations"), std::string::npos);
}

TEST(Metrics, CallbackCountersRenderAsCountersWithTheirLabels) {
  Metrics m;
  std::uint64_t invites = 3;
  auto handle = m.callbackCounter("tandem_sip_requests_received_total", "SIP requests",
                                  {{"method", "INVITE"}}, [&] { return double(invites); });
  invites = 4;
  EXPECT_EQ(m.render(),
            "# HELP tandem_sip_requests_received_total SIP requests\n"
            "# TYPE tandem_sip_requests_received_total counter\n"
            "tandem_sip_requests_received_total{method=\"INVITE\"} 4\n");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
  Metrics m;
  m.counter("x_total", "line\\one\ntwo", {{"v", "a\"b\\c\nd"}}).inc();
  EXPECT_EQ(m.render(),
            "# HELP x_total line\\\\one\\ntwo\n# TYPE x_total counter\n"
            "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(Metrics, ProcessWideRegistryIsOne) {
  EXPECT_EQ(&metrics(), &metrics());
}

}  // namespace
}  // namespace tandem::core
