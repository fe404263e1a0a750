#include "app/federation_router.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cctype>

namespace tandem::app {

FederationRouter::FederationRouter(boost::asio::io_context& io, federation::ResolverOptions options,
                                   std::vector<std::pair<std::string, sip::Flow>> staticRoutes)
    : io_(io), resolver_(io, std::move(options)), staticRoutes_(std::move(staticRoutes)) {}

void FederationRouter::route(const sip::Uri& target, std::function<void(Result)> done) {
  std::string host(target.host);
  for (auto& c : host)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [domain, hop] : staticRoutes_) {
    if (domain == host) {
      Result result;
      result.hops.push_back(hop);
      // Never from inside route().
      boost::asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable {
        done(std::move(result));
      });
      return;
    }
  }
  resolver_.resolve(target, [done = std::move(done)](federation::Resolution resolution) {
    Result result;
    for (const auto& t : resolution.targets) {
      sip::Flow flow;
      flow.transport = t.transport;
      flow.remote = t.endpoint;
      result.hops.push_back(flow);
    }
    if (result.hops.empty()) {
      const bool noSuchDomain = resolution.error.rfind("no DNS records", 0) == 0;
      result.status = noSuchDomain ? 404 : 503;
      std::string why = resolution.error.empty() ? "no usable address" : resolution.error;
      for (auto& c : why) {
        if (c == '\r' || c == '\n') c = ' ';
      }
      result.reason = (noSuchDomain ? "Not Found (" : "Service Unavailable (") + why + ")";
    }
    done(std::move(result));
  });
}

}  // namespace tandem::app
