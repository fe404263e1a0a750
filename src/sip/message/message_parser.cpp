// Splitting and eager validation of one SIP message (RFC 3261 §7, §25.1).
//
//   generic-message = start-line *message-header CRLF [ message-body ]
//   message-header  = field-name HCOLON field-value CRLF
//   HCOLON          = *( SP / HTAB ) ":" SWS
//   LWS             = [*WSP CRLF] 1*WSP   ; a CRLF followed by WSP folds the line
#include "sip/message/message_parser.hpp"

#include "sip/message/chars.hpp"
#include "sip/message/headers_internal.hpp"
#include "sip/message/uri_internal.hpp"

#include <array>
#include <cstring>

namespace tandem::sip {

using namespace detail;

namespace {

// Limits that keep a hostile datagram from costing more than a linear scan.
// Real requests carry 10-30 header lines; 256 leaves room for long Via and
// Record-Route stacks.
constexpr std::size_t kMaxHeaders = 256;
// Request-URIs of a few hundred octets are common (GRUUs, encoded routes);
// 8 KiB is far beyond any legitimate start line.
constexpr std::size_t kMaxStartLine = 8 * 1024;
// One logical header line, folding included: Identity and authorization
// headers reach a few KiB.
constexpr std::size_t kMaxHeaderLine = 32 * 1024;

std::string_view stripCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

// Splits start line and header lines; returns an error when the message
// cannot be split (the caller then returns no message).
std::string_view MessageParser::split(Message& m, SplitInfo& info) {
  const std::string_view d = m.data_;
  const char* const base = d.data();
  const std::size_t size = d.size();
  std::size_t pos = 0;
  // RFC 3261 §7.5: CRLFs before the start line are ignored (keep-alives).
  while (pos < size && (d[pos] == '\r' || d[pos] == '\n'))
    ++pos;
  if (pos == size) return "Empty message";

  std::size_t eol = d.find('\n', pos);
  if (eol == std::string_view::npos) return "Missing CRLF after start line";
  std::string_view line = stripCr(d.substr(pos, eol - pos));
  if (line.size() > kMaxStartLine) return "Start line too long";
  pos = eol + 1;

  if (line.size() > 4 && iequalsLower(line.substr(0, 4), "sip/")) {
    //   Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
    m.isRequest_ = false;
    std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return "Invalid Status-Line";
    m.version_ = line.substr(0, sp);
    std::string_view rest = line.substr(sp + 1);
    std::size_t sp2 = rest.find(' ');
    m.statusText_ = rest.substr(0, sp2);
    m.reason_ = sp2 == std::string_view::npos ? std::string_view{} : rest.substr(sp2 + 1);
  } else {
    //   Request-Line = Method SP Request-URI SP SIP-Version CRLF
    m.isRequest_ = true;
    std::size_t sp1 = line.find(' ');
    std::size_t sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp1 == sp2) return "Invalid Request-Line";
    m.methodText_ = line.substr(0, sp1);
    m.requestUriText_ = line.substr(sp1 + 1, sp2 - sp1 - 1);
    m.version_ = line.substr(sp2 + 1);
  }

  // Header lines are collected on the stack first, so that the vector is
  // allocated once at its final size. Header is an implicit-lifetime aggregate:
  // the storage needs no construction.
  alignas(Header) unsigned char storage[sizeof(Header) * kMaxHeaders];
  Header* const hs = reinterpret_cast<Header*>(storage);
  std::size_t count = 0;
  auto finish = [&](std::size_t bodyStart) {
    m.headers_.assign(hs, hs + count);
    info.bodyStart = bodyStart;
    return std::string_view{};
  };

  while (true) {
    if (pos >= size) {
      // The header section ended without its empty line. Accepted with an
      // empty body: the last header line itself was complete.
      return finish(size);
    }
    const char c = d[pos];
    if (c == '\n') return finish(pos + 1);
    if (c == '\r' && pos + 1 < size && d[pos + 1] == '\n') return finish(pos + 2);
    if (isWsp(c)) return "Malformed header line";
    const std::size_t start = pos;

    // The line ends at the first LF not followed by WSP (folding).
    const void* firstNl = std::memchr(base + pos, '\n', size - pos);
    if (firstNl == nullptr) return "Truncated header line";
    std::size_t n = static_cast<std::size_t>(static_cast<const char*>(firstNl) - base);

    // The common form, field-name *WSP ":", is recognised in one pass over the
    // name; anything else takes the general path below. d[n] is an LF, which
    // ends both loops without a bounds check.
    std::size_t i = pos;
    while (is(d[i], kToken))
      ++i;
    const std::size_t nameEnd = i;
    while (isWsp(d[i]))
      ++i;
    const bool simple = nameEnd > start && d[i] == ':';
    const std::size_t colonAt = i;

    std::size_t end = 0;
    while (true) {
      if (n + 1 < size && isWsp(d[n + 1])) {
        // folded: the value continues on the next line
        if (n + 1 - start > kMaxHeaderLine) return "Header line too long";
        const void* nl = std::memchr(base + n + 1, '\n', size - n - 1);
        if (nl == nullptr) return "Truncated header line";
        n = static_cast<std::size_t>(static_cast<const char*>(nl) - base);
        continue;
      }
      end = n;
      pos = n + 1;
      break;
    }
    std::string_view hline = stripCr(d.substr(start, end - start));
    if (hline.size() > kMaxHeaderLine) return "Header line too long";
    std::string_view name;
    std::string_view value;
    HeaderId id = HeaderId::Other;
    if (simple) {
      name = d.substr(start, nameEnd - start);
      value = trimLws(hline.substr(colonAt - start + 1));
      id = headerIdFromToken(name);
    } else {
      std::size_t colon = hline.find(':');
      if (colon == std::string_view::npos) return "Malformed header line";
      name = hline.substr(0, colon);
      while (!name.empty() && isWsp(name.back()))
        name.remove_suffix(1);
      if (!isToken(name)) return "Malformed header name";
      value = trimLws(hline.substr(colon + 1));
      id = headerIdFromToken(name);
    }
    if (count >= kMaxHeaders) return "Too many headers";
    hs[count] = Header{id, name, value};
    info.add(id, count);
    ++count;
  }
}

namespace {

bool isSipVersion(std::string_view v) {
  return iequalsLower(v, "sip/2.0");
}

bool validContact(std::string_view value) {
  NameAddr scratch;
  return forEachCommaElement(value, [&scratch](std::string_view e) {
    if (e == "*") return true;
    return parseNameAddr(e, scratch, false);
  });
}

// With `top`, the first value is parsed into it whole (parameters too): the
// message keeps it for topViaParsed().
bool validVia(std::string_view value, Via* top = nullptr) {
  Via scratch;
  bool any = false;
  bool ok = forEachCommaElement(value, [&](std::string_view e) {
    const bool first = !any;
    any = true;
    if (first && top != nullptr) return parseVia(e, *top, true);
    return parseVia(e, scratch, false);
  });
  return ok && any;
}

//   rfc1123-date = wkday "," SP date1 SP time SP "GMT"   (RFC 3261 §20.17)
// Only the zone is checked: SIP dates are always GMT (RFC 4475 §3.1.2.12).
bool validDate(std::string_view value) {
  return value.size() > 4 && value.substr(value.size() - 4) == " GMT";
}

}  // namespace

std::string_view MessageParser::validate(Message& m, const SplitInfo& idx) {
  const std::string_view d = m.data_;
  const std::size_t bodyStart = idx.bodyStart;

  // ---- Start line
  if (m.isRequest_) {
    if (m.methodText_.empty() || m.requestUriText_.empty() || m.version_.empty() ||
        m.requestUriText_.front() == ' ' || m.requestUriText_.back() == ' ') {
      return "Invalid Request-Line";
    }
    if (!isToken(m.methodText_)) return "Invalid method";
    if (!isSipVersion(m.version_)) return "Unknown SIP version";
    m.method_ = methodFromName(m.methodText_);
    if (!parseUri(m.requestUriText_, m.requestUri_, true)) {
      m.requestUri_ = Uri{};
      return "Invalid Request-URI";
    }
    // RFC 3261 §19.1.1: headers are not allowed in a Request-URI.
    if (m.requestUri_.isSipOrSips() && !m.requestUri_.headers.empty()) {
      return "Invalid Request-URI";
    }
  } else {
    if (!isSipVersion(m.version_)) return "Unknown SIP version";
    //   Status-Code = 3DIGIT (RFC 3261 §7.2: 100 to 699)
    int code = 0;
    if (m.statusText_.size() != 3 || !parseNumber<int>(m.statusText_, 699, code) || code < 100) {
      return "Bad status code";
    }
    m.status_ = code;
    for (char c : m.reason_) {
      if (c == '\r' || c == '\n') return "Invalid Status-Line";
    }
  }

  // ---- Header fields every request and response carries (RFC 3261 §8.1.1)
  auto value = [&](HeaderId id) {
    return m.headers_[idx.first[static_cast<std::size_t>(id)]].value;
  };

  if (idx.n(HeaderId::CallId) == 0) return "Missing Call-ID";
  if (idx.n(HeaderId::CSeq) == 0) return "Missing CSeq";
  if (idx.n(HeaderId::From) == 0) return "Missing From";
  if (idx.n(HeaderId::To) == 0) return "Missing To";
  if (idx.n(HeaderId::Via) == 0) return "Missing Via";
  if (idx.n(HeaderId::CallId) > 1) return "Multiple Call-ID headers";
  if (idx.n(HeaderId::CSeq) > 1) return "Multiple CSeq headers";
  if (idx.n(HeaderId::From) > 1) return "Multiple From headers";
  if (idx.n(HeaderId::To) > 1) return "Multiple To headers";
  if (idx.n(HeaderId::MaxForwards) > 1) return "Multiple Max-Forwards headers";
  if (idx.n(HeaderId::ContentLength) > 1) return "Multiple Content-Length headers";

  //   Call-ID = ( "Call-ID" / "i" ) HCOLON callid ; callid = word [ "@" word ]
  std::string_view callId = value(HeaderId::CallId);
  if (callId.empty()) return "Bad Call-ID";
  for (char c : callId) {
    if (isLws(c)) return "Bad Call-ID";
  }

  auto cseq = CSeq::parse(value(HeaderId::CSeq));
  if (!cseq) return "Bad CSeq header";
  // RFC 4475 §3.1.2.17-18: the CSeq method must match the Request-Line.
  if (m.isRequest_ && cseq->method != m.methodText_) return "CSeq method mismatch";

  NameAddr scratch;
  if (!parseNameAddr(value(HeaderId::From), scratch, false)) return "Bad From header";
  std::string_view toTag;
  if (!parseNameAddr(value(HeaderId::To), scratch, false, &toTag)) return "Bad To header";
  m.toState_ = Message::CacheState::Parsed;  // toTag() needs no second parse
  m.toTag_ = toTag;

  if (idx.n(HeaderId::Via) == 1) {
    if (!validVia(value(HeaderId::Via), &m.topVia_)) return "Bad Via header";
  } else {
    Via* top = &m.topVia_;
    for (const Header& h : m.headers_) {
      if (h.id != HeaderId::Via) continue;
      if (!validVia(h.value, top)) return "Bad Via header";
      top = nullptr;
    }
  }
  m.viaState_ = Message::CacheState::Parsed;  // topViaParsed() needs no second parse

  if (idx.n(HeaderId::MaxForwards) == 1) {
    //   Max-Forwards = "Max-Forwards" HCOLON 1*DIGIT  (0-255, RFC 3261 §20.22)
    std::string_view mf = value(HeaderId::MaxForwards);
    if (mf.empty()) return "Max-Forwards not a number";
    for (char c : mf) {
      if (!isDigit(c)) return "Max-Forwards not a number";
    }
    int v = 0;
    if (!parseNumber<int>(mf, 255, v)) return "Max-Forwards too large";
  }

  // In header order: the first bad Contact or Date line names the error.
  const std::uint16_t contacts = idx.n(HeaderId::Contact);
  const std::uint16_t dates = idx.n(HeaderId::Date);
  if (contacts + dates == 1) {
    if (contacts == 1 && !validContact(value(HeaderId::Contact))) return "Bad Contact header";
    if (dates == 1 && !validDate(value(HeaderId::Date))) return "Bad Date header";
  } else if (contacts + dates > 1) {
    for (const Header& h : m.headers_) {
      if (h.id == HeaderId::Contact && !validContact(h.value)) return "Bad Contact header";
      if (h.id == HeaderId::Date && !validDate(h.value)) return "Bad Date header";
    }
  }

  // ---- Body (RFC 3261 §18.3: octets after Content-Length are ignored for
  // datagrams; without Content-Length the body runs to the end of the data).
  const std::size_t available = d.size() - bodyStart;
  if (idx.n(HeaderId::ContentLength) == 1) {
    std::uint32_t length = 0;
    if (!parseNumber<std::uint32_t>(value(HeaderId::ContentLength), 0xFFFFFFFFu, length)) {
      return "Bad Content-Length";
    }
    if (length > available) return "Content-Length exceeds body";
    m.body_ = d.substr(bodyStart, length);
  } else {
    m.body_ = d.substr(bodyStart);
  }
  return {};
}

ParseResult MessageParser::parse(std::string data) {
  ParseResult result;
  std::unique_ptr<Message> m(new Message());
  m->data_ = std::move(data);
  m->ownHeap();
  SplitInfo info;
  if (std::string_view err = split(*m, info); !err.empty()) {
    result.error = err;
    return result;
  }
  result.error = validate(*m, info);
  result.message = std::move(m);
  return result;
}

ParseResult Message::parse(std::string data) {
  try {
    return MessageParser::parse(std::move(data));
  } catch (const std::exception&) {
    // Only allocation can throw here; a datagram must never take the loop down.
    ParseResult r;
    r.error = "Out of memory";
    return r;
  }
}

}  // namespace tandem::sip
