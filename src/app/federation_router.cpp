#include "app/federation_router.hpp"

#include "core/endpoint.hpp"
#include "core/metrics.hpp"
#include "sip/transport/tls_identity.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

#include <array>
#include <cctype>

namespace tandem::app {

FederationRouter::FederationRouter(boost::asio::io_context& io, federation::ResolverOptions options,
                                   std::vector<std::pair<std::string, sip::Flow>> staticRoutes)
    : io_(io), resolver_(io, std::move(options)), staticRoutes_(std::move(staticRoutes)) {}

namespace {

// tandem_federation_routes_total{result}: how requests for other domains were
// routed (static route, DNS) or why not (no such domain, DNS failure). Looked
// up once: the registry takes a lock and builds the label set.
enum Route { kStatic, kDns, kNotFound, kDnsFailure };
core::Counter& routed(Route route) {
  static const std::array<core::Counter*, 4> counters = [] {
    const auto counter = [](const char* result) {
      return &core::metrics().counter("tandem_federation_routes_total",
                                      "requests for other domains, by how they were routed",
                                      {{"result", result}});
    };
    return std::array<core::Counter*, 4>{counter("static"), counter("dns"), counter("not_found"),
                                         counter("dns_failure")};
  }();
  return *counters[route];
}

// RFC 5922 §7.2: a TLS hop toward a domain must present a certificate for
// that domain (the URI's host, not the SRV target it resolved to). A
// numeric host names no domain: nothing to match (tls.ca_file and
// the plain TLS rules apply).
std::string tlsDomainOf(const std::string& host) {
  return core::parseIpLiteral(host) ? std::string() : host;
}

}  // namespace

void FederationRouter::route(const sip::Uri& target, std::function<void(Result)> done) {
  const std::string host = sip::normalizeDomain(target.host);
  for (const auto& [domain, hop] : staticRoutes_) {
    if (domain == host) {
      Result result;
      result.hops.push_back(hop);
      if (hop.transport == sip::Transport::Tls) result.hops.back().tlsDomain = domain;
      routed(kStatic).inc();
      // Never from inside route().
      boost::asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable {
        done(std::move(result));
      });
      return;
    }
  }
  resolver_.resolve(target, [done = std::move(done),
                             tlsDomain = tlsDomainOf(host)](federation::Resolution resolution) {
    Result result;
    for (const auto& t : resolution.targets) {
      sip::Flow flow;
      flow.transport = t.transport;
      flow.remote = t.endpoint;
      if (t.transport == sip::Transport::Tls) flow.tlsDomain = tlsDomain;
      result.hops.push_back(flow);
    }
    if (result.hops.empty()) {
      const bool noSuchDomain = resolution.error.rfind("no DNS records", 0) == 0;
      routed(noSuchDomain ? kNotFound : kDnsFailure).inc();
      result.status = noSuchDomain ? 404 : 503;
      std::string why = resolution.error.empty() ? "no usable address" : resolution.error;
      for (auto& c : why) {
        if (c == '\r' || c == '\n') c = ' ';
      }
      result.reason = (noSuchDomain ? "Not Found (" : "Service Unavailable (") + why + ")";
    } else {
      routed(kDns).inc();
    }
    done(std::move(result));
  });
}

}  // namespace tandem::app
