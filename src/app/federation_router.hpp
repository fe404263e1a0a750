#pragma once
// The proxy's route to other domains: static routes from the configuration
// first, then RFC 3263 (NAPTR, SRV, A/AAAA) through federation::Resolver.
// DNS failures become a final response: 404 when the domain has no SIP
// server (no records), 503 when DNS could not say (timeout, server failure).
// TLS hops carry the target's domain (Flow::tlsDomain): the transport checks
// the peer's certificate against it (RFC 5922 §7.2).

#include "federation/resolver.hpp"
#include "proxy/proxy.hpp"

#include <string>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace tandem::app {

class FederationRouter final : public proxy::DomainRouter {
 public:
  FederationRouter(boost::asio::io_context& io, federation::ResolverOptions options,
                   std::vector<std::pair<std::string, sip::Flow>> staticRoutes);
  void route(const sip::Uri& target, std::function<void(Result)> done) override;
  std::size_t cachedAnswers() const { return resolver_.cachedAnswers(); }

 private:
  boost::asio::io_context& io_;
  federation::Resolver resolver_;
  std::vector<std::pair<std::string, sip::Flow>> staticRoutes_;  // lower-case domain
};

}  // namespace tandem::app
