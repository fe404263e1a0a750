#include "sip/transaction/via_source.hpp"

#include "core/endpoint.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tandem::sip {

namespace {

using boost::asio::ip::address;

bool hostIsAddress(std::string_view host, const address& source) {
  const auto parsed = core::parseIpLiteral(host);
  return parsed && core::unmapped(*parsed) == source;
}

// Where `part` starts inside `whole`, or npos when it does not view into it.
std::size_t offsetIn(std::string_view whole, std::string_view part) {
  const auto b = reinterpret_cast<std::uintptr_t>(whole.data());
  const auto p = reinterpret_cast<std::uintptr_t>(part.data());
  if (p < b || p + part.size() > b + whole.size()) return std::string_view::npos;
  return static_cast<std::size_t>(p - b);
}

struct Edit {
  std::size_t at;
  std::size_t erase;
  std::string text;
};

const Param* findParamEntry(const Via& via, std::string_view name) {
  for (const Param& p : via.params) {
    if (iequals(p.name, name)) return &p;
  }
  return nullptr;
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// RFC 3581: rport = "rport" [EQUAL 1*DIGIT]. The value goes right after the
// name, or after an "=" already written (EQUAL allows whitespace around "=").
Edit fillRport(std::string_view top, const Param& rport, std::uint16_t port) {
  std::size_t at = offsetIn(top, rport.name) + rport.name.size();
  std::size_t i = at;
  while (i < top.size() && isSpace(top[i]))
    ++i;
  if (i < top.size() && top[i] == '=') {
    ++i;
    while (i < top.size() && isSpace(top[i]))
      ++i;
    return Edit{i, 0, std::to_string(port)};
  }
  return Edit{at, 0, "=" + std::to_string(port)};
}

Edit setReceived(std::string_view top, const Param* received, const std::string& ip) {
  if (received != nullptr && !received->value.empty()) {
    const std::size_t at = offsetIn(top, received->value);
    if (at != std::string_view::npos) return Edit{at, received->value.size(), ip};
  }
  if (received != nullptr) {
    const std::size_t at = offsetIn(top, received->name);
    if (at != std::string_view::npos) return Edit{at + received->name.size(), 0, "=" + ip};
  }
  return Edit{top.size(), 0, ";received=" + ip};
}

}  // namespace

std::optional<Via> recordSource(Message& request, const Flow& from) {
  const std::string_view line = request.first(HeaderId::Via);
  // Most Via lines hold one value; split (and allocate) only when there is a comma.
  std::string_view top = line;
  bool onlyValueOfLine = true;
  if (line.find(',') != std::string_view::npos) {
    const std::vector<std::string_view> values = splitCommaList(line);
    if (values.empty()) return std::nullopt;
    top = values.front();
    onlyValueOfLine = values.size() == 1;
  }
  // The parse the message kept (its views are into `top`); the edits below
  // would make the message forget it anyway.
  std::optional<Via> via = request.takeTopVia();
  if (!via) return std::nullopt;

  // Via and received use the plain IPv4 form of a dual-stack socket's peers.
  const address source = core::unmapped(from.remote.address);
  const Param* rport = findParamEntry(*via, "rport");
  const bool fill = rport != nullptr && rport->value.empty() &&
                    offsetIn(top, rport->name) != std::string_view::npos;
  if (!fill && hostIsAddress(via->host, source)) return via;

  Edit edits[2];
  std::size_t count = 0;
  // The rport value goes first when both edits land at the end of the value.
  if (fill) edits[count++] = fillRport(top, *rport, from.remote.port);
  edits[count++] = setReceived(top, findParamEntry(*via, "received"), source.to_string());
  std::stable_sort(edits, edits + count, [](const Edit& a, const Edit& b) { return a.at < b.at; });

  std::string value;
  value.reserve(top.size() + 48);
  std::size_t pos = 0;
  for (std::size_t i = 0; i < count; ++i) {
    value.append(top.substr(pos, edits[i].at - pos)).append(edits[i].text);
    pos = edits[i].at + edits[i].erase;
  }
  value.append(top.substr(pos));

  // One Via value in the whole message (the common case for a request from a
  // UA): replace it in place. Otherwise replace only the top value and put it
  // back in front of the others.
  const auto viaLines = std::count_if(request.headers().begin(), request.headers().end(),
                                      [](const Header& h) { return h.id == HeaderId::Via; });
  if (viaLines == 1 && onlyValueOfLine) {
    request.setHeader(HeaderId::Via, std::move(value));
  } else {
    request.removeFirstValue(HeaderId::Via);
    request.prependHeader(HeaderId::Via, std::move(value));
  }
  return via;
}

Flow responseFlow(const Via& via, const Flow& from) {
  if (isReliable(from.transport)) return from;
  Flow to = from;
  to.connection = 0;
  if (!via.param("rport")) to.remote.port = via.port != 0 ? via.port : 5060;
  return to;
}

}  // namespace tandem::sip
