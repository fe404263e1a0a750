#include "core/endpoint.hpp"

#include <gtest/gtest.h>

namespace tandem::core {
namespace {

Endpoint at(const char* ip, std::uint16_t port) {
  return {boost::asio::ip::make_address(ip), port};
}

TEST(Endpoint, WildcardBecomesLoopbackOfItsFamilyAndOthersStay) {
  EXPECT_EQ(at("0.0.0.0", 8080).withLoopbackForWildcard(), at("127.0.0.1", 8080));
  EXPECT_EQ(at("::", 5060).withLoopbackForWildcard(), at("::1", 5060));
  EXPECT_EQ(at("127.0.0.3", 80).withLoopbackForWildcard(), at("127.0.0.3", 80));
  EXPECT_EQ(at("::1", 80).withLoopbackForWildcard().toString(), "[::1]:80");
}

}  // namespace
}  // namespace tandem::core
