// Content-Length framing of SIP over stream transports (RFC 3261 §18.3) and
// CRLF keep-alives (RFC 5626 §4.4.1). Scans raw bytes; it does not depend on
// the message parser, which validates the message itself afterwards.
#include "sip/transport/transport_layer.hpp"

#include <algorithm>

namespace tandem::sip {
namespace {

bool isWsp(char c) {
  return c == ' ' || c == '\t';
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equalsLower(std::string_view text, std::string_view lowerName) {
  if (text.size() != lowerName.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (lower(text[i]) != lowerName[i]) return false;
  }
  return true;
}

// LWS = [*WSP CRLF] 1*WSP (RFC 3261 §25.1): skips blanks and folded line breaks.
// `section` ends with the CRLF of its last header line, so a CRLF at its end is
// never a fold.
std::size_t skipLws(std::string_view section, std::size_t i) {
  for (;;) {
    while (i < section.size() && isWsp(section[i]))
      ++i;
    if (i + 2 < section.size() && section[i] == '\r' && section[i + 1] == '\n' &&
        isWsp(section[i + 2])) {
      i += 3;
      continue;
    }
    return i;
  }
}

FrameResult make(FrameResult::Kind kind, std::size_t consumed, bool pong = false) {
  FrameResult r;
  r.kind = kind;
  r.consumed = consumed;
  r.pong = pong;
  return r;
}

FrameResult error(std::string_view reason) {
  FrameResult r;
  r.kind = FrameResult::Kind::Error;
  r.error = reason;
  return r;
}

// Leading CRLFs (RFC 5626 §4.4.1): "CRLF CRLF" is a ping answered with one
// CRLF; a lone CRLF (a pong, or stray bytes between messages) is skipped.
// nullopt: not a keep-alive, frame a message.
std::optional<FrameResult> frameKeepAlive(std::string_view buffer) {
  if (buffer[0] != '\r') return std::nullopt;
  if (buffer.size() < 2) return make(FrameResult::Kind::NeedMore, 0);
  if (buffer[1] != '\n') return std::nullopt;
  if (buffer.size() == 2 || buffer[2] != '\r') return make(FrameResult::Kind::KeepAlive, 2);
  if (buffer.size() == 3) return make(FrameResult::Kind::NeedMore, 0);
  if (buffer[3] == '\n') return make(FrameResult::Kind::KeepAlive, 4, true);
  return make(FrameResult::Kind::KeepAlive, 2);
}

}  // namespace

// The rules this scanner reads (RFC 3261 §7, §20.14, §25.1):
//
//   generic-message = start-line *message-header CRLF [ message-body ]
//   Content-Length  = ( "Content-Length" / "l" ) HCOLON 1*DIGIT
//   HCOLON          = *( SP / HTAB ) ":" SWS
//   SWS             = [LWS]
//   LWS             = [*WSP CRLF] 1*WSP
//
// The header section ends at the first CRLF CRLF. Header names are
// case-insensitive and start a line; lines starting with WSP continue the
// previous header. On a stream Content-Length is mandatory (§18.3: "MUST"), and
// differing repeated values are refused, since a proxy and the next hop could
// then disagree on where the message ends.
FrameResult frameStream(std::string_view buffer, std::size_t maxSize) {
  if (buffer.empty()) return make(FrameResult::Kind::NeedMore, 0);
  if (auto keepAlive = frameKeepAlive(buffer)) return *keepAlive;

  const std::string_view window = buffer.substr(0, std::min(buffer.size(), maxSize));
  const std::size_t blankLine = window.find("\r\n\r\n");
  if (blankLine == std::string_view::npos) {
    if (buffer.size() >= maxSize) return error("header section larger than the maximum size");
    return make(FrameResult::Kind::NeedMore, 0);
  }
  const std::size_t headerSize = blankLine + 4;
  // Every header line with its CRLF; the start-line is skipped.
  const std::string_view section = buffer.substr(0, blankLine + 2);

  bool found = false;
  std::size_t length = 0;
  std::size_t pos = section.find("\r\n") + 2;
  while (pos < section.size()) {
    const std::size_t lineEnd = section.find("\r\n", pos);
    const char first = lower(section[pos]);
    if (first == 'c' || first == 'l') {
      const std::string_view line = section.substr(pos, lineEnd - pos);
      const std::size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && isWsp(name.back()))
          name.remove_suffix(1);
        if (equalsLower(name, "content-length") || equalsLower(name, "l")) {
          std::size_t i = skipLws(section, pos + colon + 1);
          const std::size_t digitsStart = i;
          std::size_t value = 0;
          bool tooLarge = false;
          for (; i < section.size() && section[i] >= '0' && section[i] <= '9'; ++i) {
            value = value * 10 + static_cast<std::size_t>(section[i] - '0');
            if (value > maxSize) {
              tooLarge = true;
              value = maxSize + 1;  // keeps the arithmetic from overflowing
            }
          }
          if (i == digitsStart) return error("bad Content-Length");
          i = skipLws(section, i);
          if (i + 1 >= section.size() || section[i] != '\r' || section[i + 1] != '\n') {
            return error("bad Content-Length");
          }
          if (tooLarge) return error("Content-Length larger than the maximum size");
          if (found && value != length) return error("conflicting Content-Length headers");
          found = true;
          length = value;
        }
      }
    }
    pos = lineEnd + 2;
  }
  if (!found) return error("missing Content-Length");

  const std::size_t total = headerSize + length;
  if (total > maxSize) return error("message larger than the maximum size");
  if (buffer.size() < total) {
    FrameResult r = make(FrameResult::Kind::NeedMore, 0);
    r.expected = total;
    return r;
  }
  return make(FrameResult::Kind::Message, total);
}

}  // namespace tandem::sip
