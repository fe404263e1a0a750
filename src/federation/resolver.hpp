#pragma once
// Locating SIP servers (RFC 3263 §4): from a SIP or SIPS URI to the ordered
// list of (transport, address, port) to try, through NAPTR, SRV (RFC 2782) and
// A/AAAA lookups.
//
// Asynchronous on c-ares, driven by the io_context that runs everything else
// (docs/architecture.md, "Threading"): c-ares' sockets are watched with
// posix::stream_descriptor waits and its retransmissions with a steady_timer.
// No threads and no blocking calls; use the Resolver on its io_context's thread
// only.
//
// The rules, for a URI's host, port, `transport=` parameter and scheme:
//  1. Numeric host (IPv4, [IPv6]): that address; the port from the URI or the
//     transport's default (5060; 5061 for TLS); the transport from `transport=`,
//     else UDP for sip: and TLS for sips:.
//  2. Explicit port: A/AAAA of the host, transport as in 1.
//  3. `transport=` but no port: SRV for that transport (_sip._udp, _sip._tcp,
//     _sips._tcp); if there is no SRV record, A/AAAA with the default port.
//     transport=ws/wss (RFC 7118) have no SRV names: A/AAAA, port 80/443.
//  4. Otherwise NAPTR of the host. Records with flag "s" and a service we
//     support (SIP+D2U, SIP+D2T, SIPS+D2T; for sips: only SIPS+D2T) are taken
//     in (order, preference) order and their replacements looked up as SRV.
//     Without a usable NAPTR record, or when none of their SRV names has SRV
//     records: SRV queries for _sips._tcp, _sip._tcp, _sip._udp (that order;
//     sips: only _sips._tcp), limited to the supported transports. Without SRV
//     records: A/AAAA of the host with the default port and transport.
//  SRV records are ordered by priority and, within a priority, by RFC 2782's
//  weighted random selection (or by weight descending, see ResolverOptions).
//  Every SRV target's A (then AAAA) addresses go into the list in that order;
//  a target of "." (service not offered) is skipped. Duplicates are dropped.
//
// Names are queried as given (absolute, no search domains); /etc/hosts is not
// consulted. Answers are kept for their TTL, negative ones for their SOA's
// time (see
// ResolverOptions::cacheEntries): the next call to a domain resolves without
// asking again. Lookups of one step run in parallel (all SRV names, all targets' A and
// AAAA); steps run one after another. A step that times out with nothing
// found ends the resolution with an error: a DNS server that is not answering
// cannot tell "no records" from "records", and waiting for more steps would
// only multiply the delay.

#include "core/endpoint.hpp"
#include "sip/message/uri.hpp"
#include "sip/transport/flow.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace tandem::federation {

struct ResolverOptions {
  // DNS servers to ask (port 0 means 53). Empty: those of /etc/resolv.conf.
  std::vector<core::Endpoint> servers;
  // How long to wait for one server's answer to one query, and how many
  // rounds over all servers a query gets: a query gives up after
  // timeout × tries × servers.
  std::chrono::milliseconds timeout{2000};
  int tries = 2;
  // The transports we can use; NAPTR and SRV records for others are ignored,
  // and a URI that needs another (e.g. sips: without TLS) is an error.
  std::vector<sip::Transport> transports{sip::Transport::Udp, sip::Transport::Tcp,
                                         sip::Transport::Tls};
  // Also look up AAAA records (after A: IPv4 addresses come first).
  bool ipv6 = true;
  // RFC 2782 weighted random order among SRV records of equal priority. When
  // false, they are ordered by weight, highest first (deterministic).
  bool srvWeightedRandom = true;
  // Answers (NAPTR, SRV, A, AAAA) kept for their TTL (the smallest of their
  // records', at most cacheMaxTtl), so that calls to a domain do not wait for
  // three lookups each; negative answers for their SOA's time (RFC 2308), not
  // at all without an SOA. At most cacheEntries of them (0: no cache).
  // Records with TTL 0 are never kept.
  std::size_t cacheEntries = 1024;
  std::chrono::seconds cacheMaxTtl{3600};
};

struct Target {
  sip::Transport transport = sip::Transport::Udp;
  core::Endpoint endpoint;
  // The SRV target, or the URI's host (without IPv6 brackets), for logs. Not
  // what a TLS server's certificate must name: RFC 5922 §7.2 checks it
  // against the URI's domain (see app::FederationRouter).
  std::string host;

  friend bool operator==(const Target&, const Target&) = default;
};

struct Resolution {
  std::vector<Target> targets;  // in the order to try; empty on error
  // "" on success; otherwise why nothing was found, e.g.
  // "no DNS records for b.test", "DNS timeout resolving b.test".
  std::string error;

  bool ok() const { return error.empty(); }
};

class Resolver {
 public:
  Resolver(boost::asio::io_context& io, ResolverOptions options);
  // Cancels pending lookups: their callbacks are not called.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // Resolves a sip: or sips: URI (RFC 3263 §4, rules above). `done` is called
  // exactly once (unless the Resolver is destroyed first), always later from
  // the io_context, never from inside resolve(); it may destroy the Resolver.
  // The URI's text need not outlive the call. Errors (not a SIP URI, unknown
  // or unsupported transport, c-ares failing to start) also come through done.
  void resolve(const sip::Uri& uri, std::function<void(Resolution)> done);

  // Resolutions whose callback has not been called yet.
  std::size_t pending() const;
  // Answers in the cache (some may have expired and not been dropped yet).
  std::size_t cachedAnswers() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem::federation
