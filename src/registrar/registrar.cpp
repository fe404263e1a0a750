#include "registrar/registrar.hpp"

#include "core/endpoint.hpp"
#include "core/log.hpp"
#include "core/random.hpp"
#include "registrar/authenticator.hpp"

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace tandem::registrar {
namespace {

std::int64_t wallClockSeconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// delta-seconds = 1*DIGIT (RFC 3261 §25.1); values above 2^32-1 saturate.
std::optional<std::int64_t> parseDeltaSeconds(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

// q-value = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), as thousandths.
std::optional<int> parseQ(std::string_view text) {
  if (text.empty() || (text[0] != '0' && text[0] != '1')) return std::nullopt;
  int value = (text[0] - '0') * 1000;
  if (text.size() == 1) return value;
  if (text[1] != '.' || text.size() > 5) return std::nullopt;
  int scale = 100;
  for (std::size_t i = 2; i < text.size(); ++i, scale /= 10) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    value += (text[i] - '0') * scale;
  }
  if (value > 1000) return std::nullopt;
  return value;
}

std::string describeFlow(const sip::Flow& flow) {
  return fmt::format("{}:{}", lower(sip::transportName(flow.transport)), flow.remote.toString());
}

std::string formatQ(int q) {
  if (q >= 1000) return "1";
  return fmt::format("0.{:03}", q);
}

}  // namespace

sip::Flow parseReceived(std::string_view received) {
  // "transport:ip:port" or "transport:[v6]:port", as describeFlow() writes it.
  sip::Flow flow;
  const auto colon = received.find(':');
  if (colon == std::string_view::npos) return flow;
  const auto transport = sip::transportFromName(received.substr(0, colon));
  auto rest = received.substr(colon + 1);
  const auto portColon = rest.rfind(':');
  if (!transport || portColon == std::string_view::npos) return flow;
  const auto address = core::parseIpLiteral(rest.substr(0, portColon));
  unsigned port = 0;
  const auto portText = rest.substr(portColon + 1);
  const auto [end, err] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (!address || err != std::errc() || end != portText.data() + portText.size() || port == 0 ||
      port > 65535)
    return flow;
  flow.transport = *transport;
  flow.remote = {*address, static_cast<std::uint16_t>(port)};
  return flow;
}

std::string makeAor(std::string_view user, std::string_view domain) {
  std::string aor = sip::unescape(user);
  aor.reserve(aor.size() + 1 + domain.size());
  aor.append("@").append(lower(domain));
  return aor;
}

namespace {

// The unescaped user part of an AOR made by makeAor() (the domain has no '@').
std::string_view aorUser(std::string_view aor) {
  return aor.substr(0, aor.rfind('@'));
}

}  // namespace

Registrar::Registrar(RegistrarConfig config, sip::TransactionLayer& transactions,
                     Authenticator& auth, BindingStore& store, std::function<std::int64_t()> now)
    : config_(std::move(config)),
      log_(core::logger("registrar")),
      transactions_(transactions),
      auth_(auth),
      store_(store),
      now_(now ? std::move(now) : wallClockSeconds) {}

void Registrar::load() {
  bindings_.clear();
  byContact_.clear();
  const auto now = now_();
  std::size_t loaded = 0;
  for (auto& b : store_.loadBindings()) {
    if (b.expires <= now) {
      store_.deleteBinding(b.aor, b.contact);
      continue;
    }
    b.source = parseReceived(b.received);
    // Flows that only their connection could reach did not survive the
    // restart: their UAs register again. (Rows of older versions.)
    if (reachableOnlyByItsConnection(b)) {
      store_.deleteBinding(b.aor, b.contact);
      continue;
    }
    b.storedExpires = b.expires;
    byContact_[b.contact] = b.aor;
    bindings_[b.aor].push_back(std::move(b));
    ++loaded;
  }
  core::logger("registrar")->info("loaded {} bindings for {} AORs", loaded, bindings_.size());
}

// A WebSocket contact (RFC 7118: a *.invalid host) and an RFC 5626 flow over
// a stream (+sip.instance and reg-id) are reachable only through the
// connection they registered on.
bool Registrar::reachableOnlyByItsConnection(const Binding& b) {
  const auto t = b.source.transport;
  return t == sip::Transport::Ws || t == sip::Transport::Wss ||
         (t != sip::Transport::Udp && !b.instance.empty() && !b.regId.empty());
}

void Registrar::removeBinding(std::vector<Binding>& list, std::size_t index) {
  if (list[index].storedExpires != 0) store_.deleteBinding(list[index].aor, list[index].contact);
  byContact_.erase(list[index].contact);
  list.erase(list.begin() + static_cast<std::ptrdiff_t>(index));
}

std::unique_ptr<sip::Message> Registrar::challengeWithoutCredentials(const sip::Message& request,
                                                                     const sip::Flow& from) {
  return auth_.challengeIfNoCredentials(request, /*proxy=*/false, from.connection);
}

void Registrar::handleRegister(sip::TransactionId tx, const sip::Message& request,
                               const sip::Flow& from) {
  transactions_.respond(tx, process(request, from, core::randomToken(10), false));
}

std::unique_ptr<sip::Message> Registrar::handleRegisterStateless(const sip::Message& request,
                                                                 const sip::Flow& from) {
  return process(request, from, statelessTag(request), true);
}

std::string Registrar::statelessTag(const sip::Message& request) {
  // The same request must get the same response (RFC 3261 §8.2.7), To tag
  // included: derive it from what names the request.
  static constexpr char kDigits[] = "0123456789abcdef";
  std::uint64_t hash = sip::requestIdentityHash(request);
  std::string tag(16, '0');
  for (std::size_t i = tag.size(); i-- > 0; hash >>= 4)
    tag[i] = kDigits[hash & 0xf];
  return tag;
}

void Registrar::prefetchBindings(std::string_view aor) const {
  const auto it = bindings_.find(aor);
  if (it == bindings_.end()) return;
  for (const Binding& b : it->second) {
    for (const std::string* s : {&b.contact, &b.callId, &b.received, &b.userAgent, &b.aor})
      __builtin_prefetch(s->data());
  }
}

std::unique_ptr<sip::Message> Registrar::process(const sip::Message& request, const sip::Flow& from,
                                                 std::string_view toTag, bool stateless) {
  const auto reply = [&](int status, std::string_view reason) {
    return sip::makeResponse(request, status, reason, std::string(toTag));
  };

  // The AOR first, only to start loading its bindings into the cache while
  // the digest is checked (their strings are scattered over the heap: a
  // refresh otherwise waits on each in turn). Nothing is decided from them
  // before authentication.
  const auto to = request.to();
  const bool toOk = to && to->uri.isSipOrSips();
  const auto aor = toOk ? makeAor(to->uri.user, config_.domain) : std::string();
  if (toOk) prefetchBindings(aor);

  // §10.3 step 3: authenticate before looking at the bindings.
  auto auth = auth_.check(request, /*proxy=*/false, /*recogniseRetransmissions=*/stateless,
                          from.connection);
  if (auth.status != AuthStatus::Ok) return std::move(auth.challenge);

  // Steps 4-5: the To header names the AOR; it must be in our domain and belong
  // to the authenticated user.
  if (!toOk) return reply(400, "Bad To header");
  if (!sip::iequals(to->uri.host, config_.domain))
    return reply(404, "Not Found (domain not served here)");
  if (aorUser(aor) != auth.user)
    return reply(403, "Forbidden (To does not match the authenticated user)");
  // The connection is now this user's (see Authenticator).
  if (from.connection != 0) auth_.rememberConnection(from.connection, auth.user);

  const auto cseq = request.cseq();
  const std::string_view callId = request.callId();
  std::optional<std::int64_t> headerExpires;
  if (const auto* h = request.find(sip::HeaderId::Expires)) {
    headerExpires = parseDeltaSeconds(h->value);
    if (!headerExpires) return reply(400, "Bad Expires header");
  }

  const auto contactValues = request.values(sip::HeaderId::Contact);
  const auto now = now_();
  auto& list = bindings_[aor];

  // Step 6: "Contact: *" removes every binding, only with Expires: 0 and alone.
  const bool star = std::any_of(contactValues.begin(), contactValues.end(),
                                [](std::string_view v) { return v == "*"; });
  if (star) {
    if (contactValues.size() != 1 || headerExpires != std::int64_t{0})
      return reply(400, "Invalid Contact: * (needs Expires: 0 and no other contact)");
    for (std::size_t i = list.size(); i-- > 0;) {
      if (list[i].callId == callId && list[i].cseq >= cseq->number) continue;  // stale request
      removeBinding(list, i);
    }
  } else {
    // Parse every contact first: a bad one rejects the whole request.
    struct Update {
      sip::NameAddr contact;
      std::int64_t expires;
      int q;
    };
    std::vector<Update> updates;
    updates.reserve(contactValues.size());
    for (auto value : contactValues) {
      auto contact = sip::NameAddr::parse(value);
      if (!contact || !contact->uri.isSipOrSips()) return reply(400, "Bad Contact header");
      std::int64_t expires = config_.defaultExpires;
      if (auto e = contact->param("expires")) {
        auto parsed = parseDeltaSeconds(*e);
        if (!parsed) return reply(400, "Bad expires parameter in Contact");
        expires = *parsed;
      } else if (headerExpires) {
        expires = *headerExpires;
      }
      int q = 1000;
      if (auto qText = contact->param("q")) {
        auto parsed = parseQ(*qText);
        if (!parsed) return reply(400, "Bad q parameter in Contact");
        q = *parsed;
      }
      if (expires != 0 && expires < config_.minExpires) {
        auto response = reply(423, {});
        response->appendHeader(sip::HeaderId::MinExpires, std::to_string(config_.minExpires));
        return response;
      }
      expires = std::min<std::int64_t>(expires, config_.maxExpires);
      updates.push_back({std::move(*contact), expires, q});
    }

    // Steps 7-8: apply. A binding is the same contact URI, or (RFC 5626 §6) the
    // same +sip.instance and reg-id.
    std::string path;
    for (auto p : request.values(sip::HeaderId::Path)) {
      if (!path.empty()) path += ", ";
      path += p;
    }
    for (const auto& u : updates) {
      const std::string_view contactText = u.contact.uri.text;
      const std::string_view instance = u.contact.param("+sip.instance").value_or("");
      const std::string_view regId = u.contact.param("reg-id").value_or("");
      auto existing = std::find_if(list.begin(), list.end(), [&](const Binding& b) {
        if (!instance.empty() && !regId.empty()) return b.instance == instance && b.regId == regId;
        return b.contact == contactText;
      });
      // §10.3 step 7: the same Call-ID needs a higher CSeq. The same CSeq is
      // allowed only for the retransmission of the request that set it (the
      // stateless path sees retransmissions; the Authenticator recognises them).
      if (existing != list.end() && existing->callId == callId &&
          (existing->cseq > cseq->number || (existing->cseq == cseq->number && !auth.repeated)))
        return reply(500, "Out of order REGISTER (CSeq not increasing)");
      if (u.expires == 0) {
        if (existing != list.end())
          removeBinding(list, static_cast<std::size_t>(existing - list.begin()));
        continue;
      }
      if (existing != list.end() && existing->contact != contactText) {
        removeBinding(list, static_cast<std::size_t>(existing - list.begin()));
        existing = list.end();
      }
      if (existing == list.end()) {
        list.emplace_back();
        existing = std::prev(list.end());
      }
      Binding& b = *existing;
      // Most refreshes come from where the binding was made: reuse its text.
      const bool sameSource =
          b.source.transport == from.transport && b.source.remote == from.remote;
      const bool created = b.contact.empty();
      const auto userAgent = request.first(sip::HeaderId::UserAgent);
      // A refresh that changes only Call-ID, CSeq and expiry (most of them)
      // skips the store while the stored row outlives half the new interval:
      // after a restart the binding then still has that long, and its UA
      // refreshes well before. Anything else that changed is written at once.
      const bool write = b.contact != contactText || b.qTimes1000 != u.q ||
                         b.instance != instance || b.regId != regId || b.path != path ||
                         !sameSource || b.userAgent != userAgent ||
                         b.storedExpires < now + u.expires / 2 + 1;
      // assign() reuses each string's buffer: a refresh allocates nothing here.
      b.aor.assign(aor);
      b.contact.assign(contactText);
      b.callId.assign(callId);
      b.cseq = cseq->number;
      b.expires = now + u.expires;
      b.qTimes1000 = u.q;
      b.instance.assign(instance);
      b.regId.assign(regId);
      b.path.assign(path);
      if (!sameSource) b.received = describeFlow(from);
      b.source = from;
      if (from.connection != 0) {
        auto& aors = aorsByConnection_[from.connection];
        if (std::find(aors.begin(), aors.end(), aor) == aors.end()) aors.push_back(aor);
      }
      b.userAgent.assign(userAgent);
      if (created) {  // a refreshed binding keeps its entry
        if (auto [it, inserted] = byContact_.try_emplace(b.contact, aor); !inserted) {
          if (it->second != aor) it->second = aor;
        }
      }
      if (reachableOnlyByItsConnection(b)) {
        // Not worth a row: it cannot outlive its connection, let alone a
        // restart (at 10,000 WebSocket registrations/s the writes were 6 %
        // of the CPU). storedExpires == 0 says "no row".
        if (b.storedExpires != 0) store_.deleteBinding(b.aor, b.contact);
        b.storedExpires = 0;
      } else if (write) {
        store_.putBinding(b);
        b.storedExpires = b.expires;
      }
      log_->debug("{} bound {} for {}s via {} (Call-ID {})", aor, b.contact, u.expires, b.received,
                  callId);
    }
  }

  // Step 8: 200 OK listing every current binding with its remaining time.
  auto response = reply(200, {});
  for (const auto& b : list) {
    char expires[24];
    const auto end =
        std::to_chars(expires, expires + sizeof expires, std::max<std::int64_t>(0, b.expires - now))
            .ptr;
    std::string value;
    value.reserve(b.contact.size() + 12 + static_cast<std::size_t>(end - expires));
    value.append("<").append(b.contact).append(">;expires=").append(expires, end);
    if (b.qTimes1000 != 1000) value += ";q=" + formatQ(b.qTimes1000);
    if (!b.instance.empty()) value += ";+sip.instance=" + b.instance;
    if (!b.regId.empty()) value += ";reg-id=" + b.regId;
    response->appendHeader(sip::HeaderId::Contact, std::move(value));
  }
  if (request.has(sip::HeaderId::Path)) {
    for (auto p : request.values(sip::HeaderId::Path))
      response->appendHeader(sip::HeaderId::Path, std::string(p));
  }
  if (list.empty()) bindings_.erase(aor);
  return response;
}

std::vector<const Binding*> Registrar::lookup(std::string_view aor) {
  std::vector<const Binding*> out;
  auto it = bindings_.find(aor);
  if (it == bindings_.end()) return out;
  const auto now = now_();
  for (const auto& b : it->second) {
    if (b.expires > now) out.push_back(&b);
  }
  std::stable_sort(out.begin(), out.end(), [](const Binding* a, const Binding* b) {
    return a->qTimes1000 > b->qTimes1000;
  });
  return out;
}

const Binding* Registrar::findByContact(std::string_view contact) const {
  auto it = byContact_.find(contact);
  if (it == byContact_.end()) return nullptr;
  auto list = bindings_.find(it->second);
  if (list == bindings_.end()) return nullptr;
  for (const auto& b : list->second) {
    if (b.contact == contact) return &b;
  }
  return nullptr;
}

void Registrar::onConnectionClosed(sip::ConnectionId id) {
  auth_.forgetConnection(id);
  // A WebSocket contact (RFC 7118: a *.invalid host) and an RFC 5626 flow
  // (instance + reg-id) are reachable only through the connection they
  // registered on: with it, the binding goes. Plain TCP/TLS contacts stay
  // bound; requests then open a new connection to the contact address.
  const auto byConnection = aorsByConnection_.find(id);
  if (byConnection == aorsByConnection_.end()) return;
  const auto aors = std::move(byConnection->second);
  aorsByConnection_.erase(byConnection);
  for (const auto& aor : aors) {
    const auto it = bindings_.find(aor);
    if (it == bindings_.end()) continue;
    auto& list = it->second;
    for (std::size_t i = list.size(); i-- > 0;) {
      auto& b = list[i];
      if (b.source.connection != id) continue;
      if (reachableOnlyByItsConnection(b)) {
        core::logger("registrar")->debug("{}: {} unbound, its connection closed", b.aor, b.contact);
        removeBinding(list, i);
      } else {
        b.source.connection = 0;
      }
    }
    if (list.empty()) bindings_.erase(it);
  }
}

void Registrar::purgeExpired() {
  const auto now = now_();
  for (auto it = bindings_.begin(); it != bindings_.end();) {
    auto& list = it->second;
    for (std::size_t i = list.size(); i-- > 0;) {
      if (list[i].expires <= now) removeBinding(list, i);
    }
    if (list.empty()) {
      bindings_.erase(it++);  // erasing moves no other element
    } else {
      ++it;
    }
  }
}

}  // namespace tandem::registrar
