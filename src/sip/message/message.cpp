#include "sip/message/message.hpp"

#include "sip/message/chars.hpp"
#include "sip/message/headers_internal.hpp"
#include "sip/message/message_parser.hpp"

#include <array>
#include <cassert>
#include <charconv>
#include <cstring>

namespace tandem::sip {

using namespace detail;

// ---- Methods (RFC 3261 §7.1: case-sensitive)

Method methodFromName(std::string_view name) {
  switch (name.size()) {
    case 3:
      if (name == "ACK") return Method::Ack;
      if (name == "BYE") return Method::Bye;
      break;
    case 4:
      if (name == "INFO") return Method::Info;
      break;
    case 5:
      if (name == "PRACK") return Method::Prack;
      if (name == "REFER") return Method::Refer;
      break;
    case 6:
      if (name == "INVITE") return Method::Invite;
      if (name == "CANCEL") return Method::Cancel;
      if (name == "UPDATE") return Method::Update;
      if (name == "NOTIFY") return Method::Notify;
      break;
    case 7:
      if (name == "OPTIONS") return Method::Options;
      if (name == "MESSAGE") return Method::Message;
      if (name == "PUBLISH") return Method::Publish;
      break;
    case 8:
      if (name == "REGISTER") return Method::Register;
      break;
    case 9:
      if (name == "SUBSCRIBE") return Method::Subscribe;
      break;
    default:
      break;
  }
  return Method::Unknown;
}

std::string_view methodName(Method m) {
  switch (m) {
    case Method::Unknown:
      return {};
    case Method::Invite:
      return "INVITE";
    case Method::Ack:
      return "ACK";
    case Method::Bye:
      return "BYE";
    case Method::Cancel:
      return "CANCEL";
    case Method::Register:
      return "REGISTER";
    case Method::Options:
      return "OPTIONS";
    case Method::Info:
      return "INFO";
    case Method::Update:
      return "UPDATE";
    case Method::Prack:
      return "PRACK";
    case Method::Subscribe:
      return "SUBSCRIBE";
    case Method::Notify:
      return "NOTIFY";
    case Method::Refer:
      return "REFER";
    case Method::Message:
      return "MESSAGE";
    case Method::Publish:
      return "PUBLISH";
  }
  return {};
}

// ---- Lifetime

Message::Message() = default;
Message::Message(Message&&) noexcept = default;
Message& Message::operator=(Message&&) noexcept = default;
Message::~Message() = default;

namespace {

// Maps views from the buffers of one message to the equal buffers of its copy.
// Views into neither (static text such as canonical header names) stay as they are.
class Rebaser {
 public:
  void add(std::string_view from, std::string_view to) { map_.push_back({from, to}); }

  std::string_view operator()(std::string_view v) const {
    if (v.data() == nullptr) return v;
    for (const auto& [from, to] : map_) {
      const char* b = from.data();
      if (v.data() >= b && v.data() + v.size() <= b + from.size()) {
        return std::string_view(to.data() + (v.data() - b), v.size());
      }
    }
    return v;
  }

  void uri(Uri& u) const {
    for (std::string_view* v :
         {&u.schemeText, &u.user, &u.password, &u.host, &u.headers, &u.text}) {
      *v = (*this)(*v);
    }
    params(u.params);
  }

  void params(std::vector<Param>& ps) const {
    for (Param& p : ps) {
      p.name = (*this)(p.name);
      p.value = (*this)(p.value);
    }
  }

 private:
  std::vector<std::pair<std::string_view, std::string_view>> map_;
};

}  // namespace

std::unique_ptr<Message> Message::clone() const {
  std::unique_ptr<Message> c(new Message());
  Rebaser rebase;
  if (!data_.empty()) {
    c->data_.reserve(data_.size() < kHeapCapacity ? kHeapCapacity : data_.size());
    c->data_.assign(data_);
    rebase.add(data_, c->data_);
  }
  // Copy the arena keeping its order; forward_list has no push_back.
  auto tail = c->arena_.before_begin();
  for (const std::string& s : arena_) {
    tail = c->arena_.insert_after(tail, s);
    rebase.add(s, *tail);
  }
  c->isRequest_ = isRequest_;
  c->method_ = method_;
  c->methodText_ = rebase(methodText_);
  c->requestUriText_ = rebase(requestUriText_);
  c->version_ = rebase(version_);
  c->reason_ = rebase(reason_);
  c->body_ = rebase(body_);
  c->statusText_ = rebase(statusText_);
  c->requestUri_ = requestUri_;
  rebase.uri(c->requestUri_);
  c->status_ = status_;
  c->headers_ = headers_;
  for (Header& h : c->headers_) {
    h.name = rebase(h.name);
    h.value = rebase(h.value);
  }
  c->toState_ = toState_;
  c->toTag_ = rebase(toTag_);
  return c;
}

// ---- Header access

const Header* Message::find(HeaderId id) const {
  for (const Header& h : headers_) {
    if (h.id == id) return &h;
  }
  return nullptr;
}

const Header* Message::find(std::string_view name) const {
  HeaderId id = headerIdFromName(name);
  if (id != HeaderId::Other) return find(id);
  for (const Header& h : headers_) {
    if (h.id == HeaderId::Other && iequals(h.name, name)) return &h;
  }
  return nullptr;
}

std::string_view Message::first(HeaderId id) const {
  const Header* h = find(id);
  return h ? h->value : std::string_view{};
}

std::vector<std::string_view> Message::values(HeaderId id) const {
  std::vector<std::string_view> out;
  for (const Header& h : headers_) {
    if (h.id != id) continue;
    forEachCommaElement(h.value, [&out](std::string_view e) {
      out.push_back(e);
      return true;
    });
  }
  return out;
}

const Via* Message::topViaParsed() const {
  if (viaState_ == CacheState::Unknown) {
    viaState_ = CacheState::Absent;
    if (const Header* h = find(HeaderId::Via)) {
      std::string_view top;
      forEachCommaElement(h->value, [&top](std::string_view e) {
        top = e;
        return false;
      });
      if (parseVia(top, topVia_, true)) viaState_ = CacheState::Parsed;
    }
  }
  return viaState_ == CacheState::Parsed ? &topVia_ : nullptr;
}

std::optional<Via> Message::topVia() const {
  const Via* via = topViaParsed();
  return via != nullptr ? std::optional<Via>(*via) : std::nullopt;
}

std::optional<Via> Message::takeTopVia() {
  if (topViaParsed() == nullptr) return std::nullopt;
  viaState_ = CacheState::Unknown;
  return std::optional<Via>(std::move(topVia_));
}

std::string_view Message::topViaTransport() const {
  //   sent-protocol = protocol-name SLASH protocol-version SLASH transport
  //   SLASH = SWS "/" SWS
  const Header* h = find(HeaderId::Via);
  if (!h) return {};
  const std::string_view v = h->value;
  const auto first = v.find('/');
  if (first == std::string_view::npos) return {};
  const auto second = v.find('/', first + 1);
  if (second == std::string_view::npos) return {};
  std::size_t i = second + 1;
  while (i < v.size() && isLws(v[i]))
    ++i;
  std::size_t end = i;
  while (end < v.size() && is(v[end], kToken))
    ++end;
  return v.substr(i, end - i);
}

std::optional<NameAddr> Message::from() const {
  const Header* h = find(HeaderId::From);
  return h ? NameAddr::parse(h->value) : std::nullopt;
}

std::optional<NameAddr> Message::to() const {
  const Header* h = find(HeaderId::To);
  return h ? NameAddr::parse(h->value) : std::nullopt;
}

std::string_view Message::toTag() const {
  if (toState_ == CacheState::Unknown) {
    const auto to = this->to();
    toState_ = to ? CacheState::Parsed : CacheState::Absent;
    toTag_ = to ? to->tag() : std::string_view{};
  }
  return toTag_;
}

std::optional<CSeq> Message::cseq() const {
  const Header* h = find(HeaderId::CSeq);
  return h ? CSeq::parse(h->value) : std::nullopt;
}

int Message::maxForwards() const {
  const Header* h = find(HeaderId::MaxForwards);
  if (!h) return -1;
  int v = 0;
  return parseNumber<int>(h->value, 255, v) ? v : -1;
}

Method Message::cseqMethod() const {
  auto c = cseq();
  return c ? methodFromName(c->method) : Method::Unknown;
}

// ---- Edits

std::string_view Message::store(std::string s) {
  arena_.push_front(std::move(s));
  return arena_.front();
}

bool Message::setRequestUri(std::string uri) {
  requestUriText_ = store(std::move(uri));
  auto parsed = Uri::parse(requestUriText_);
  requestUri_ = parsed ? std::move(*parsed) : Uri{};
  return parsed.has_value();
}

void Message::setStatus(int code, std::string reason) {
  status_ = code;
  statusText_ = {};
  reason_ = reason.empty() ? reasonPhrase(code) : store(std::move(reason));
}

void Message::prependHeader(HeaderId id, std::string value) {
  assert(id != HeaderId::Other && "use appendHeader(name, value) for unknown headers");
  touched(id);
  headers_.insert(headers_.begin(), Header{id, headerName(id), store(std::move(value))});
}

void Message::appendHeader(HeaderId id, std::string value) {
  assert(id != HeaderId::Other && "use appendHeader(name, value) for unknown headers");
  touched(id);
  headers_.push_back(Header{id, headerName(id), store(std::move(value))});
}

void Message::appendHeader(std::string name, std::string value) {
  std::string_view n = store(std::move(name));
  const HeaderId id = headerIdFromName(n);
  touched(id);
  headers_.push_back(Header{id, n, store(std::move(value))});
}

void Message::removeFirstValue(HeaderId id) {
  touched(id);
  for (auto it = headers_.begin(); it != headers_.end(); ++it) {
    if (it->id != id) continue;
    // The rest of the line starts at the second element; it is a view into the
    // same text, so nothing is copied.
    int index = 0;
    std::string_view second;
    forEachCommaElement(it->value, [&](std::string_view e) {
      if (index++ == 1) {
        second = e;
        return false;
      }
      return true;
    });
    const char* end = it->value.data() + it->value.size();
    std::string_view rest =
        index < 2 ? std::string_view{}
                  : std::string_view(second.data(), static_cast<std::size_t>(end - second.data()));
    if (trimLws(rest).empty()) {
      headers_.erase(it);
    } else {
      it->value = rest;
    }
    return;
  }
}

void Message::removeAll(HeaderId id) {
  touched(id);
  std::erase_if(headers_, [id](const Header& h) { return h.id == id; });
}

void Message::setHeader(HeaderId id, std::string value) {
  assert(id != HeaderId::Other && "use appendHeader(name, value) for unknown headers");
  touched(id);
  std::string_view v = store(std::move(value));
  auto it = headers_.begin();
  for (; it != headers_.end(); ++it) {
    if (it->id == id) break;
  }
  if (it == headers_.end()) {
    headers_.push_back(Header{id, headerName(id), v});
    return;
  }
  it->name = headerName(id);
  it->value = v;
  auto index = static_cast<std::size_t>(it - headers_.begin());
  std::size_t w = index + 1;
  for (std::size_t r = index + 1; r < headers_.size(); ++r) {
    if (headers_[r].id != id) headers_[w++] = headers_[r];
  }
  headers_.resize(w);
}

void Message::setBody(std::string body, std::string contentType) {
  body_ = body.empty() ? std::string_view{} : store(std::move(body));
  if (!contentType.empty()) {
    setHeader(HeaderId::ContentType, std::move(contentType));
  } else if (body_.empty()) {
    removeAll(HeaderId::ContentType);
  }
}

// ---- Serialisation

std::string Message::serialize() const {
  // Sized first, then written through a pointer: a std::string::append per
  // piece (four per header line) cost more than the copying itself.
  const std::string_view version = version_.empty() ? std::string_view("SIP/2.0") : version_;
  const std::string_view method = methodText_.empty() ? methodName(method_) : methodText_;
  constexpr std::size_t kNumber = 20;  // digits of any std::uint64_t
  constexpr std::string_view kLength = "Content-Length: ";
  std::size_t size = version.size() + 2 * kNumber + kLength.size() + 16 + body_.size() +
                     (isRequest_ ? method.size() + requestUriText_.size() : reason_.size());
  for (const Header& h : headers_)
    size += h.name.size() + h.value.size() + 4;
  std::string out(size, '\0');
  char* p = out.data();
  const auto put = [&p](std::string_view s) {
    if (s.empty()) return;  // an empty view's data() may be null: not for memcpy
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  const auto putNumber = [&p, &out](std::uint64_t n) {
    p = std::to_chars(p, out.data() + out.size(), n).ptr;
  };
  if (isRequest_) {
    put(method);
    *p++ = ' ';
    put(requestUriText_);
    *p++ = ' ';
    put(version);
  } else {
    put(version);
    *p++ = ' ';
    putNumber(static_cast<std::uint64_t>(status_ < 0 ? 0 : status_));
    *p++ = ' ';
    put(reason_);
  }
  put("\r\n");
  const auto putContentLength = [&] {
    put(kLength);
    putNumber(body_.size());
    put("\r\n");
  };
  bool wroteLength = false;
  for (const Header& h : headers_) {
    if (h.id == HeaderId::ContentLength) {
      if (!wroteLength) putContentLength();
      wroteLength = true;
      continue;
    }
    put(h.name);
    *p++ = ':';
    *p++ = ' ';
    put(h.value);
    *p++ = '\r';
    *p++ = '\n';
  }
  if (!wroteLength) putContentLength();
  put("\r\n");
  put(body_);
  // The sizing above must cover every piece written.
  assert(p <= out.data() + out.size());
  out.resize(static_cast<std::size_t>(p - out.data()));
  return out;
}

// ---- Responses (RFC 3261 §8.2.6)

std::unique_ptr<Message> MessageParser::makeResponse(const Message& request, int status,
                                                     std::string_view reason,
                                                     std::string_view toTag) {
  std::unique_ptr<Message> r(new Message());
  r->isRequest_ = false;
  r->version_ = "SIP/2.0";
  r->status_ = status;

  auto copied = [status](HeaderId id) {
    return id == HeaderId::Via || id == HeaderId::From || id == HeaderId::To ||
           id == HeaderId::CallId || id == HeaderId::CSeq ||
           (status == 100 && id == HeaderId::Timestamp);
  };
  // RFC 3261 §8.2.6.2: the UAS adds a tag to To unless the request had one.
  const std::string_view requestTag = request.toTag();
  const bool toParsed = request.toState_ == Message::CacheState::Parsed;
  const bool addTag = !toTag.empty() && toParsed && requestTag.empty();
  // All copied text goes into one buffer, reserved up front so the views taken
  // below stay valid.
  std::size_t size = reason.size() + (addTag ? toTag.size() + 5 : 0);
  std::size_t count = 0;
  for (const Header& h : request.headers_) {
    if (copied(h.id)) {
      size += h.value.size();
      ++count;
    }
  }
  std::string& buf = r->data_;
  buf.reserve(size < Message::kHeapCapacity ? Message::kHeapCapacity : size);
  r->headers_.reserve(count + 4);
  bool tagged = false;
  for (const Header& h : request.headers_) {
    if (!copied(h.id)) continue;
    std::size_t start = buf.size();
    buf.append(h.value);
    if (h.id == HeaderId::To && !tagged) {
      // The response's toTag() comes along: the tag added, or the request's,
      // which views this very To value (the first; toTag() above resolved
      // the request's state), now at the same place in ours.
      tagged = true;
      r->toState_ = request.toState_;
      if (addTag) {
        buf.append(";tag=");
        buf.append(toTag);
        r->toTag_ = std::string_view(buf).substr(buf.size() - toTag.size());
      } else if (!requestTag.empty()) {
        assert(requestTag.data() >= h.value.data() &&
               requestTag.data() + requestTag.size() <= h.value.data() + h.value.size());
        r->toTag_ = std::string_view(buf).substr(
            start + static_cast<std::size_t>(requestTag.data() - h.value.data()),
            requestTag.size());
      }
    }
    r->headers_.push_back(
        Header{h.id, headerName(h.id), std::string_view(buf).substr(start, buf.size() - start)});
  }
  if (reason.empty()) {
    r->reason_ = reasonPhrase(status);
  } else {
    std::size_t start = buf.size();
    buf.append(reason);
    r->reason_ = std::string_view(buf).substr(start);
  }
  return r;
}

std::unique_ptr<Message> makeResponse(const Message& request, int status, std::string_view reason,
                                      std::string_view toTag) {
  return MessageParser::makeResponse(request, status, reason, toTag);
}

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Trying";
    case 180:
      return "Ringing";
    case 181:
      return "Call Is Being Forwarded";
    case 182:
      return "Queued";
    case 183:
      return "Session Progress";
    case 199:
      return "Early Dialog Terminated";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 204:
      return "No Notification";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Moved Temporarily";
    case 305:
      return "Use Proxy";
    case 380:
      return "Alternative Service";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 402:
      return "Payment Required";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 412:
      return "Conditional Request Failed";
    case 413:
      return "Request Entity Too Large";
    case 414:
      return "Request-URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Unsupported URI Scheme";
    case 417:
      return "Unknown Resource-Priority";
    case 420:
      return "Bad Extension";
    case 421:
      return "Extension Required";
    case 422:
      return "Session Interval Too Small";
    case 423:
      return "Interval Too Brief";
    case 428:
      return "Use Identity Header";
    case 429:
      return "Provide Referrer Identity";
    case 430:
      return "Flow Failed";
    case 433:
      return "Anonymity Disallowed";
    case 436:
      return "Bad Identity-Info";
    case 437:
      return "Unsupported Certificate";
    case 438:
      return "Invalid Identity Header";
    case 439:
      return "First Hop Lacks Outbound Support";
    case 440:
      return "Max-Breadth Exceeded";
    case 469:
      return "Bad Info Package";
    case 470:
      return "Consent Needed";
    case 480:
      return "Temporarily Unavailable";
    case 481:
      return "Call/Transaction Does Not Exist";
    case 482:
      return "Loop Detected";
    case 483:
      return "Too Many Hops";
    case 484:
      return "Address Incomplete";
    case 485:
      return "Ambiguous";
    case 486:
      return "Busy Here";
    case 487:
      return "Request Terminated";
    case 488:
      return "Not Acceptable Here";
    case 489:
      return "Bad Event";
    case 491:
      return "Request Pending";
    case 493:
      return "Undecipherable";
    case 494:
      return "Security Agreement Required";
    case 500:
      return "Server Internal Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Server Time-out";
    case 505:
      return "Version Not Supported";
    case 513:
      return "Message Too Large";
    case 555:
      return "Push Notification Service Not Supported";
    case 580:
      return "Precondition Failure";
    case 600:
      return "Busy Everywhere";
    case 603:
      return "Decline";
    case 604:
      return "Does Not Exist Anywhere";
    case 606:
      return "Not Acceptable";
    case 607:
      return "Unwanted";
    case 608:
      return "Rejected";
    default:
      return "Unknown";
  }
}

std::uint64_t requestIdentityHash(const Message& request) {
  const std::hash<std::string_view> h;
  std::uint64_t f = h(request.first(HeaderId::Via));
  f = f * 0x9E3779B97F4A7C15ULL ^ h(request.callId());
  f = f * 0x9E3779B97F4A7C15ULL ^ h(request.first(HeaderId::CSeq));
  return f;
}

}  // namespace tandem::sip
