#include "federation/resolver.hpp"

#include "core/log.hpp"
#include "core/random.hpp"
#include "federation/dns_message.hpp"

#include <ares.h>
#include <poll.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace tandem::federation {

namespace asio = boost::asio;
using sip::Transport;

namespace {

constexpr int kClassIn = 1;
constexpr int kTypeA = 1;
constexpr int kTypeAaaa = 28;
constexpr int kTypeSrv = 33;
constexpr int kTypeNaptr = 35;
// Addresses taken from one A or AAAA answer.
constexpr int kMaxAddresses = 32;

std::uint16_t defaultPort(Transport t) {
  switch (t) {
    case Transport::Tls:
      return 5061;
    case Transport::Ws:
      return 80;
    case Transport::Wss:
      return 443;
    default:
      return 5060;
  }
}

const char* transportText(Transport t) {
  switch (t) {
    case Transport::Udp:
      return "UDP";
    case Transport::Tcp:
      return "TCP";
    case Transport::Tls:
      return "TLS";
    case Transport::Ws:
      return "WS";
    case Transport::Wss:
      return "WSS";
  }
  return "?";
}

// The `transport=` parameter of a sip: or sips: URI. For sips: a stream
// transport means its TLS form; UDP has none.
std::optional<Transport> transportParam(std::string_view value, bool sips) {
  if (sip::iequals(value, "udp")) {
    if (sips) return std::nullopt;
    return Transport::Udp;
  }
  if (sip::iequals(value, "tcp")) return sips ? Transport::Tls : Transport::Tcp;
  if (sip::iequals(value, "tls")) return Transport::Tls;
  if (sip::iequals(value, "ws")) return sips ? Transport::Wss : Transport::Ws;
  if (sip::iequals(value, "wss")) return Transport::Wss;
  return std::nullopt;
}

// The SRV owner name for a transport (RFC 3263 §4.2); "" when SIP defines none.
std::string srvName(Transport t, const std::string& host) {
  switch (t) {
    case Transport::Udp:
      return "_sip._udp." + host;
    case Transport::Tcp:
      return "_sip._tcp." + host;
    case Transport::Tls:
      return "_sips._tcp." + host;
    default:
      return {};
  }
}

// A NAPTR service field (RFC 3263 §4.1) → transport.
std::optional<Transport> naptrService(std::string_view service, bool sips) {
  if (sip::iequals(service, "SIPS+D2T")) return Transport::Tls;
  if (sips) return std::nullopt;
  if (sip::iequals(service, "SIP+D2T")) return Transport::Tcp;
  if (sip::iequals(service, "SIP+D2U")) return Transport::Udp;
  return std::nullopt;
}

struct SrvRecord {
  std::string target;
  std::uint16_t port = 0;
  std::uint16_t priority = 0;
  std::uint16_t weight = 0;
};

// Priority ascending; within a priority RFC 2782's weighted random selection
// (weight-0 records first in the running sum, so they are rarely first), or
// weight descending.
void orderSrv(std::vector<SrvRecord>& records, bool weightedRandom) {
  std::stable_sort(records.begin(), records.end(),
                   [](const SrvRecord& a, const SrvRecord& b) { return a.priority < b.priority; });
  for (auto begin = records.begin(); begin != records.end();) {
    const auto end = std::find_if(
        begin, records.end(), [&](const SrvRecord& r) { return r.priority != begin->priority; });
    if (!weightedRandom) {
      std::stable_sort(begin, end,
                       [](const SrvRecord& a, const SrvRecord& b) { return a.weight > b.weight; });
    } else {
      std::vector<SrvRecord> pool(std::make_move_iterator(begin), std::make_move_iterator(end));
      std::stable_partition(pool.begin(), pool.end(),
                            [](const SrvRecord& r) { return r.weight == 0; });
      for (auto out = begin; !pool.empty(); ++out) {
        std::uint64_t sum = 0;
        for (const auto& r : pool)
          sum += r.weight;
        const std::uint64_t pick = core::randomU64() % (sum + 1);
        std::uint64_t running = 0;
        auto chosen = pool.begin();
        for (; chosen != pool.end(); ++chosen) {
          running += chosen->weight;
          if (running >= pick) break;
        }
        if (chosen == pool.end()) chosen = std::prev(pool.end());
        *out = std::move(*chosen);
        pool.erase(chosen);
      }
    }
    begin = end;
  }
}

bool isRootName(const std::string& name) {
  return name.empty() || name == ".";
}

}  // namespace

// One resolve() call, from the URI to the callback.
struct Job {
  enum class Step { Naptr, NaptrSrv, Srv, SrvTargets, Address };
  struct SrvSet {
    std::string name;
    Transport transport;
    std::vector<SrvRecord> records;
  };
  struct Addresses {
    std::vector<asio::ip::address> v4;
    std::vector<asio::ip::address> v6;
  };

  std::string host;  // without IPv6 brackets
  bool sips = false;
  std::function<void(Resolution)> done;
  // What A/AAAA of the host itself use (explicit port, or no SRV records).
  Transport fallbackTransport = Transport::Udp;
  std::uint16_t fallbackPort = 5060;

  Step step = Step::Naptr;
  int outstanding = 0;  // queries of the current step not answered yet
  bool finished = false;
  // Worst outcomes seen; they explain an empty result.
  bool timedOut = false;
  bool unreachable = false;
  int serverError = ARES_SUCCESS;

  std::vector<SrvSet> srv;                     // in order of preference
  std::map<std::string, Addresses> addresses;  // by SRV target, or the host
};

struct Resolver::Impl : std::enable_shared_from_this<Resolver::Impl> {
  // One c-ares socket, watched for what c-ares asked for.
  struct Socket {
    explicit Socket(asio::io_context& io) : descriptor(io) {}
    asio::posix::stream_descriptor descriptor;
    std::uint64_t generation = 0;  // tells a reused fd number from its predecessor
    bool wantRead = false;
    bool wantWrite = false;
    bool readPending = false;  // an async_wait or a posted check is under way
    bool writePending = false;
  };

  // One ares_query; c-ares owns it (as its callback argument) until answered.
  struct Query {
    Impl* impl;
    std::shared_ptr<Job> job;
    std::string name;
    int type;
    std::size_t index;  // into job->srv for SRV queries
    int attempt = 0;
  };

  Impl(asio::io_context& io, ResolverOptions opts) : io(io), options(std::move(opts)), timer(io) {}
  ~Impl() { close(); }

  void init() {
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
      initError = std::string("DNS resolver unavailable: ") + ares_strerror(rc);
      return;
    }
    libraryInitialised = true;
    ares_options o{};
    o.timeout = static_cast<int>(std::max<std::int64_t>(1, options.timeout.count()));
    // One round over the servers per query; Query::attempt counts the rounds,
    // so that each gets the full timeout (c-ares would double it per round).
    o.tries = 1;
    o.sock_state_cb = &Impl::onSocketState;
    o.sock_state_cb_data = this;
    rc = ares_init_options(&channel, &o,
                           ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
    if (rc != ARES_SUCCESS) {
      channel = nullptr;
      initError = std::string("DNS resolver unavailable: ") + ares_strerror(rc);
      return;
    }
    if (!options.servers.empty()) {
      std::vector<ares_addr_port_node> nodes(options.servers.size());
      for (std::size_t i = 0; i < nodes.size(); ++i) {
        const core::Endpoint& server = options.servers[i];
        ares_addr_port_node& node = nodes[i];
        node.next = i + 1 < nodes.size() ? &nodes[i + 1] : nullptr;
        if (server.address.is_v4()) {
          node.family = AF_INET;
          const auto bytes = server.address.to_v4().to_bytes();
          std::memcpy(&node.addr.addr4, bytes.data(), bytes.size());
        } else {
          node.family = AF_INET6;
          const auto bytes = server.address.to_v6().to_bytes();
          std::memcpy(&node.addr.addr6, bytes.data(), bytes.size());
        }
        node.udp_port = node.tcp_port = server.port != 0 ? server.port : 53;
      }
      rc = ares_set_servers_ports(channel, nodes.data());
      if (rc != ARES_SUCCESS) {
        ares_destroy(channel);
        channel = nullptr;
        initError = std::string("DNS resolver unavailable: ") + ares_strerror(rc);
      }
    }
  }

  void close() {
    if (closed) return;
    closed = true;
    timer.cancel();
    // Calls every pending query back with ARES_EDESTRUCTION (ignored: frees the
    // Query) and reports each socket closed (onSocketState releases it).
    if (channel != nullptr) ares_destroy(channel);
    channel = nullptr;
    for (auto& [fd, socket] : sockets)
      socket->descriptor.release();
    sockets.clear();
    jobs.clear();
    if (libraryInitialised) ares_library_cleanup();
    libraryInitialised = false;
  }

  // --- Resolution steps ---------------------------------------------------

  void start(const sip::Uri& uri, std::shared_ptr<Job> job) {
    jobs.insert(job);
    if (!uri.isSipOrSips()) return fail(job, "not a SIP or SIPS URI: " + std::string(uri.text));
    job->sips = uri.scheme == sip::UriScheme::Sips;
    std::string_view host = uri.host;
    if (uri.hostIsIpv6() && host.size() >= 2 && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    job->host = std::string(host);
    if (job->host.empty()) return fail(job, "no host in " + std::string(uri.text));

    std::optional<Transport> transport;
    if (auto param = uri.param("transport")) {
      transport = transportParam(*param, job->sips);
      if (!transport) {
        return fail(
            job, "unsupported transport=" + std::string(*param) + " in " + std::string(uri.text));
      }
      if (!supports(*transport)) {
        return fail(job, std::string("transport ") + transportText(*transport) +
                             " not supported, needed for " + std::string(uri.text));
      }
    }
    if (!transport && !defaultTransport(job->sips)) {
      return fail(job, "no supported transport for " + std::string(uri.text));
    }
    job->fallbackTransport = transport ? *transport : *defaultTransport(job->sips);
    job->fallbackPort = uri.port != 0 ? uri.port : defaultPort(job->fallbackTransport);

    boost::system::error_code ec;
    const auto literal = asio::ip::make_address(job->host, ec);
    if (!ec) {
      return succeed(job, {{job->fallbackTransport, {literal, job->fallbackPort}, job->host}});
    }
    if (channel == nullptr) return fail(job, initError);

    if (uri.port != 0) return startAddress(job);
    if (transport) {
      const std::string name = srvName(*transport, job->host);
      if (name.empty()) return startAddress(job);  // WS: no SRV defined
      job->srv.push_back({name, *transport, {}});
      return startSrv(job, Job::Step::Srv);
    }
    job->step = Job::Step::Naptr;
    ask(job, job->host, kTypeNaptr, 0);
  }

  // After all queries of a step are answered.
  void advance(const std::shared_ptr<Job>& job) {
    if (job->finished) return;
    switch (job->step) {
      case Job::Step::Naptr:
        if (job->timedOut || job->unreachable) return fail(job, "");
        if (!job->srv.empty()) return startSrv(job, Job::Step::NaptrSrv);
        return startGenericSrv(job);
      case Job::Step::NaptrSrv:
      case Job::Step::Srv: {
        bool anyRecord = false;
        std::set<std::string> targets;
        for (auto& set : job->srv) {
          anyRecord = anyRecord || !set.records.empty();
          for (const auto& r : set.records) {
            if (!isRootName(r.target)) targets.insert(r.target);
          }
        }
        if (!targets.empty()) {
          for (auto& set : job->srv)
            orderSrv(set.records, options.srvWeightedRandom);
          job->step = Job::Step::SrvTargets;
          ++job->outstanding;
          for (const auto& target : targets)
            askAddresses(job, target);
          return answered(job);
        }
        // Only "." targets: the domain says it offers no SIP service.
        if (anyRecord) return fail(job, "no SIP service at " + job->host);
        if (job->timedOut || job->unreachable) return fail(job, "");
        if (job->step == Job::Step::NaptrSrv) return startGenericSrv(job);
        return startAddress(job);
      }
      case Job::Step::SrvTargets: {
        std::vector<Target> out;
        for (const auto& set : job->srv) {
          for (const auto& r : set.records) {
            auto it = job->addresses.find(r.target);
            if (it == job->addresses.end()) continue;
            for (const auto* list : {&it->second.v4, &it->second.v6}) {
              for (const auto& a : *list)
                out.push_back({set.transport, {a, r.port}, r.target});
            }
          }
        }
        if (out.empty()) return fail(job, "no addresses for the SRV targets of " + job->host);
        return succeed(job, std::move(out));
      }
      case Job::Step::Address: {
        std::vector<Target> out;
        const auto& found = job->addresses[job->host];
        for (const auto* list : {&found.v4, &found.v6}) {
          for (const auto& a : *list) {
            out.push_back({job->fallbackTransport, {a, job->fallbackPort}, job->host});
          }
        }
        if (out.empty()) return fail(job, "");
        return succeed(job, std::move(out));
      }
    }
  }

  // SRV without NAPTR: every supported transport, most secure first.
  void startGenericSrv(const std::shared_ptr<Job>& job) {
    job->srv.clear();
    for (Transport t : {Transport::Tls, Transport::Tcp, Transport::Udp}) {
      if (!supports(t) || (job->sips && t != Transport::Tls)) continue;
      job->srv.push_back({srvName(t, job->host), t, {}});
    }
    startSrv(job, Job::Step::Srv);
  }

  void startSrv(const std::shared_ptr<Job>& job, Job::Step step) {
    job->step = step;
    ++job->outstanding;  // so that an answer given at once does not end the step
    for (std::size_t i = 0; i < job->srv.size(); ++i)
      ask(job, job->srv[i].name, kTypeSrv, i);
    answered(job);
  }

  void startAddress(const std::shared_ptr<Job>& job) {
    job->step = Job::Step::Address;
    ++job->outstanding;
    askAddresses(job, job->host);
    answered(job);
  }

  void askAddresses(const std::shared_ptr<Job>& job, const std::string& name) {
    job->addresses[name];
    ask(job, name, kTypeA, 0);
    if (options.ipv6) ask(job, name, kTypeAaaa, 0);
  }

  void ask(const std::shared_ptr<Job>& job, const std::string& name, int type, std::size_t index) {
    ++job->outstanding;
    send(std::unique_ptr<Query>(new Query{this, job, name, type, index}));
  }

  void send(std::unique_ptr<Query> query) {
    if (query->attempt == 0) {
      if (const auto* cached = cachedAnswer(query->name, query->type)) {
        // As if c-ares had answered: later, from the loop.
        asio::post(io, [weak = weak_from_this(), q = std::shared_ptr<Query>(std::move(query)),
                        answer = *cached]() mutable {
          auto self = weak.lock();
          if (!self || self->closed) return;
          auto owned = std::make_unique<Query>(std::move(*q));
          self->handleAnswer(std::move(owned), answer.status,
                             reinterpret_cast<const unsigned char*>(answer.bytes.data()),
                             static_cast<int>(answer.bytes.size()));
        });
        return;
      }
    }
    Query* q = query.release();
    ares_query(channel, q->name.c_str(), kClassIn, q->type, &Impl::onAnswer, q);
  }

  // ---- The answer cache (ResolverOptions::cacheEntries)
  struct CachedAnswer {
    std::string bytes;  // the DNS message as received
    std::chrono::steady_clock::time_point expires;
    int status = ARES_SUCCESS;  // or a negative answer: ARES_ENOTFOUND, ARES_ENODATA
  };
  static std::string cacheKey(const std::string& name, int type) {
    std::string key = std::to_string(type) + ':';
    for (const char c : name)
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return key;
  }
  const CachedAnswer* cachedAnswer(const std::string& name, int type) {
    if (options.cacheEntries == 0) return nullptr;
    const auto it = cache.find(cacheKey(name, type));
    if (it == cache.end()) return nullptr;
    if (std::chrono::steady_clock::now() >= it->second.expires) {
      cache.erase(it);
      return nullptr;
    }
    return &it->second;
  }
  // Answers are kept for their smallest TTL; negative ones (the name does not
  // exist, or has no records of the type) for as long as the zone's SOA says
  // (RFC 2308 §5), and not at all without an SOA.
  void remember(const std::string& name, int type, int status, const unsigned char* abuf,
                int alen) {
    if (options.cacheEntries == 0 || abuf == nullptr) return;
    const auto size = static_cast<std::size_t>(alen);
    const auto ttl = std::min<std::int64_t>(
        status == ARES_SUCCESS ? dnsAnswerTtl(abuf, size) : dnsNegativeTtl(abuf, size),
        options.cacheMaxTtl.count());
    if (ttl <= 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (cache.size() >= options.cacheEntries) {
      std::erase_if(cache, [now](const auto& e) { return now >= e.second.expires; });
      // Still full: the answer closest to expiring makes room (a scan of at
      // most cacheEntries, only when the cache is full of live answers).
      while (cache.size() >= options.cacheEntries) {
        cache.erase(std::min_element(cache.begin(), cache.end(), [](const auto& a, const auto& b) {
          return a.second.expires < b.second.expires;
        }));
      }
    }
    cache[cacheKey(name, type)] = {std::string(reinterpret_cast<const char*>(abuf), alen),
                                   now + std::chrono::seconds(ttl), status};
  }

  void answered(const std::shared_ptr<Job>& job) {
    if (--job->outstanding == 0) advance(job);
  }

  static void onAnswer(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
    std::unique_ptr<Query> q(static_cast<Query*>(arg));
    Impl& self = *q->impl;
    if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED || self.closed) return;
    if (status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA)
      self.remember(q->name, q->type, status, abuf, alen);
    self.handleAnswer(std::move(q), status, abuf, alen);
  }

  void handleAnswer(std::unique_ptr<Query> q, int status, const unsigned char* abuf, int alen) {
    Impl& self = *this;
    if ((status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED) &&
        ++q->attempt < self.options.tries) {
      self.send(std::move(q));
      return;
    }
    Job& job = *q->job;
    note(job, status);
    if (status == ARES_SUCCESS && !job.finished) {
      switch (q->type) {
        case kTypeNaptr:
          self.parseNaptr(job, abuf, alen);
          break;
        case kTypeSrv:
          parseSrv(job, q->index, abuf, alen);
          break;
        default:
          parseAddresses(job, q->name, q->type, abuf, alen);
          break;
      }
    }
    self.answered(q->job);
  }

  static void note(Job& job, int status) {
    switch (status) {
      case ARES_SUCCESS:
      case ARES_ENODATA:
      case ARES_ENOTFOUND:
        break;
      case ARES_ETIMEOUT:
        job.timedOut = true;
        break;
      case ARES_ECONNREFUSED:
        job.unreachable = true;
        break;
      default:
        job.serverError = status;
        break;
    }
  }

  void parseNaptr(Job& job, const unsigned char* abuf, int alen) {
    ares_naptr_reply* reply = nullptr;
    const int rc = ares_parse_naptr_reply(abuf, alen, &reply);
    if (rc != ARES_SUCCESS) return note(job, rc);
    struct Usable {
      std::uint16_t order;
      std::uint16_t preference;
      Job::SrvSet set;
    };
    std::vector<Usable> usable;
    for (auto* r = reply; r != nullptr; r = r->next) {
      const std::string_view flags(reinterpret_cast<const char*>(r->flags));
      const std::string_view service(reinterpret_cast<const char*>(r->service));
      const std::string replacement = r->replacement != nullptr ? r->replacement : "";
      if (!sip::iequals(flags, "s") || isRootName(replacement)) continue;
      const auto transport = naptrService(service, job.sips);
      if (!transport || !supports(*transport)) continue;
      usable.push_back({r->order, r->preference, {replacement, *transport, {}}});
    }
    ares_free_data(reply);
    std::stable_sort(usable.begin(), usable.end(), [](const Usable& a, const Usable& b) {
      return std::tie(a.order, a.preference) < std::tie(b.order, b.preference);
    });
    for (auto& u : usable) {
      const bool seen = std::any_of(job.srv.begin(), job.srv.end(), [&](const Job::SrvSet& s) {
        return s.transport == u.set.transport && sip::iequals(s.name, u.set.name);
      });
      if (!seen) job.srv.push_back(std::move(u.set));
    }
  }

  static void parseSrv(Job& job, std::size_t index, const unsigned char* abuf, int alen) {
    ares_srv_reply* reply = nullptr;
    const int rc = ares_parse_srv_reply(abuf, alen, &reply);
    if (rc != ARES_SUCCESS) return note(job, rc);
    for (auto* r = reply; r != nullptr; r = r->next) {
      job.srv[index].records.push_back(
          {r->host != nullptr ? r->host : "", r->port, r->priority, r->weight});
    }
    ares_free_data(reply);
  }

  static void parseAddresses(Job& job, const std::string& name, int type, const unsigned char* abuf,
                             int alen) {
    auto& found = job.addresses[name];
    int count = kMaxAddresses;
    if (type == kTypeA) {
      ares_addrttl ttls[kMaxAddresses];
      const int rc = ares_parse_a_reply(abuf, alen, nullptr, ttls, &count);
      if (rc != ARES_SUCCESS) return note(job, rc);
      for (int i = 0; i < count; ++i) {
        asio::ip::address_v4::bytes_type bytes;
        std::memcpy(bytes.data(), &ttls[i].ipaddr, bytes.size());
        found.v4.push_back(asio::ip::address_v4(bytes));
      }
    } else {
      ares_addr6ttl ttls[kMaxAddresses];
      const int rc = ares_parse_aaaa_reply(abuf, alen, nullptr, ttls, &count);
      if (rc != ARES_SUCCESS) return note(job, rc);
      for (int i = 0; i < count; ++i) {
        asio::ip::address_v6::bytes_type bytes;
        std::memcpy(bytes.data(), &ttls[i].ip6addr, bytes.size());
        found.v6.push_back(asio::ip::address_v6(bytes));
      }
    }
  }

  void succeed(const std::shared_ptr<Job>& job, std::vector<Target> targets) {
    // The same transport and address twice (say, from a NAPTR record and an
    // SRV record naming the same server) only costs a second attempt.
    std::vector<Target> unique;
    for (auto& t : targets) {
      const bool seen = std::any_of(unique.begin(), unique.end(), [&](const Target& u) {
        return u.transport == t.transport && u.endpoint == t.endpoint;
      });
      if (!seen) unique.push_back(std::move(t));
    }
    Resolution result;
    result.targets = std::move(unique);
    finish(job, std::move(result));
  }

  // `otherwise` explains an empty result when no query failed; "" means "no
  // DNS records for <host>".
  void fail(const std::shared_ptr<Job>& job, std::string otherwise) {
    Resolution result;
    if (job->timedOut) {
      result.error = "DNS timeout resolving " + job->host;
    } else if (job->unreachable) {
      result.error = "DNS server unreachable resolving " + job->host;
    } else if (!otherwise.empty()) {
      result.error = std::move(otherwise);
    } else if (job->serverError != ARES_SUCCESS) {
      result.error = "DNS error resolving " + job->host + ": " + ares_strerror(job->serverError);
    } else {
      result.error = "no DNS records for " + job->host;
    }
    finish(job, std::move(result));
  }

  void finish(const std::shared_ptr<Job>& job, Resolution result) {
    if (job->finished) return;
    job->finished = true;
    jobs.erase(job);
    if (result.ok()) {
      core::logger("dns")->debug("{}: {} target(s), first {} {}", job->host, result.targets.size(),
                                 transportText(result.targets.front().transport),
                                 result.targets.front().endpoint.toString());
    } else {
      core::logger("dns")->debug("{}: {}", job->host, result.error);
    }
    // Never from inside resolve() or c-ares: the callback may destroy us.
    asio::post(io, [weak = weak_from_this(), done = std::move(job->done),
                    result = std::move(result)]() mutable {
      auto self = weak.lock();
      if (!self || self->closed) return;
      --self->pendingCallbacks;
      done(std::move(result));
    });
  }

  bool supports(Transport t) const {
    return std::find(options.transports.begin(), options.transports.end(), t) !=
           options.transports.end();
  }

  // Without a transport= parameter (RFC 3263 §4.1): UDP for sip:, TLS for
  // sips:; TCP when UDP is not supported.
  std::optional<Transport> defaultTransport(bool sips) const {
    if (sips) return supports(Transport::Tls) ? std::optional(Transport::Tls) : std::nullopt;
    for (Transport t : {Transport::Udp, Transport::Tcp, Transport::Tls}) {
      if (supports(t)) return t;
    }
    return std::nullopt;
  }

  // --- c-ares sockets and timeouts on the io_context ---------------------

  static void onSocketState(void* data, ares_socket_t fd, int readable, int writable) {
    static_cast<Impl*>(data)->socketState(fd, readable != 0, writable != 0);
  }

  void socketState(ares_socket_t fd, bool readable, bool writable) {
    auto it = sockets.find(fd);
    if (!readable && !writable) {
      // c-ares is about to close it: stop watching without closing it.
      if (it != sockets.end()) {
        it->second->descriptor.release();
        sockets.erase(it);
      }
      return;
    }
    if (it == sockets.end()) {
      auto socket = std::make_unique<Socket>(io);
      boost::system::error_code ec;
      socket->descriptor.assign(fd, ec);
      if (ec) {
        // Unwatchable: its queries will time out.
        core::logger("dns")->warn("cannot watch c-ares socket {}: {}", fd, ec.message());
        socket->descriptor.release();
        return;
      }
      socket->generation = nextGeneration++;
      it = sockets.emplace(fd, std::move(socket)).first;
    }
    it->second->wantRead = readable;
    it->second->wantWrite = writable;
    watch(fd, *it->second);
  }

  // Waits for what c-ares wants. Asio's epoll reactor is edge-triggered and a
  // wait started after the edge would miss it (c-ares reads a TCP answer in
  // several calls), so readiness is checked first, without blocking.
  void watch(ares_socket_t fd, Socket& socket) {
    short events = 0;
    if (socket.wantRead && !socket.readPending) events |= POLLIN;
    if (socket.wantWrite && !socket.writePending) events |= POLLOUT;
    if (events == 0) return;
    pollfd p{fd, events, 0};
    if (::poll(&p, 1, 0) < 0) p.revents = 0;
    const short failed = POLLERR | POLLHUP | POLLNVAL;
    for (const bool read : {true, false}) {
      if ((events & (read ? POLLIN : POLLOUT)) == 0) continue;
      (read ? socket.readPending : socket.writePending) = true;
      auto handler = [weak = weak_from_this(), fd, generation = socket.generation,
                      read](const boost::system::error_code& ec) {
        if (auto self = weak.lock()) self->ready(fd, generation, read, ec);
      };
      if ((p.revents & ((read ? POLLIN : POLLOUT) | failed)) != 0) {
        asio::post(io, [handler] { handler({}); });
      } else {
        socket.descriptor.async_wait(read ? asio::posix::stream_descriptor::wait_read
                                          : asio::posix::stream_descriptor::wait_write,
                                     handler);
      }
    }
  }

  void ready(ares_socket_t fd, std::uint64_t generation, bool read,
             const boost::system::error_code& ec) {
    if (closed) return;
    auto it = sockets.find(fd);
    if (it == sockets.end() || it->second->generation != generation) return;
    (read ? it->second->readPending : it->second->writePending) = false;
    if (ec == asio::error::operation_aborted) return;
    ares_process_fd(channel, read ? fd : ARES_SOCKET_BAD, read ? ARES_SOCKET_BAD : fd);
    // c-ares may have closed the socket (and opened another with its number).
    it = sockets.find(fd);
    if (!ec && it != sockets.end() && it->second->generation == generation) watch(fd, *it->second);
    rearmTimer();
  }

  void rearmTimer() {
    if (closed || channel == nullptr) return;
    timeval tv{};
    const timeval* next = ares_timeout(channel, nullptr, &tv);
    if (next == nullptr) {
      timer.cancel();
      return;
    }
    // Rounded up so that c-ares finds the timeout due when the timer fires.
    const auto delay = std::chrono::milliseconds(next->tv_sec * 1000 + next->tv_usec / 1000 + 1);
    timer.expires_after(delay);
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self || self->closed) return;
      ares_process_fd(self->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
      self->rearmTimer();
    });
  }

  asio::io_context& io;
  ResolverOptions options;
  asio::steady_timer timer;
  ares_channel channel = nullptr;
  std::string initError;
  bool libraryInitialised = false;
  bool closed = false;
  std::map<ares_socket_t, std::unique_ptr<Socket>> sockets;
  std::uint64_t nextGeneration = 1;
  std::set<std::shared_ptr<Job>> jobs;
  std::size_t pendingCallbacks = 0;
  std::unordered_map<std::string, CachedAnswer> cache;  // by cacheKey()
};

Resolver::Resolver(asio::io_context& io, ResolverOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {
  impl_->init();
}

Resolver::~Resolver() {
  impl_->close();
}

void Resolver::resolve(const sip::Uri& uri, std::function<void(Resolution)> done) {
  auto job = std::make_shared<Job>();
  job->done = std::move(done);
  ++impl_->pendingCallbacks;
  impl_->start(uri, std::move(job));
  impl_->rearmTimer();
}

std::size_t Resolver::pending() const {
  return impl_->pendingCallbacks;
}

std::size_t Resolver::cachedAnswers() const {
  return impl_->cache.size();
}

}  // namespace tandem::federation
