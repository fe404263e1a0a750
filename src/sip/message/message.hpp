#pragma once
// A SIP message (RFC 3261 §7): request or response, parsed zero-copy.
//
//   SIP-message  = Request / Response
//   Request      = Request-Line *( message-header ) CRLF [ message-body ]
//   Request-Line = Method SP Request-URI SP SIP-Version CRLF
//   Status-Line  = SIP-Version SP Status-Code SP Reason-Phrase CRLF
//
// The message owns its bytes; start line, header names and values and the body
// are string_views into them. Views stay valid when the Message is moved.
// Edits store new text in the message's own arena and point views at it, so
// forwarding a request rewrites only what changes. Header values are parsed into
// typed form on demand (headers.hpp); the mandatory ones are validated eagerly by
// parse(), so a bad request gets its 400 before any layer looks at it.

#include "sip/message/headers.hpp"
#include "sip/message/uri.hpp"

#include <cstddef>
#include <cstdint>
#include <forward_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::sip {

enum class Method : std::uint8_t {
  Unknown,
  Invite,
  Ack,
  Bye,
  Cancel,
  Register,
  Options,
  Info,
  Update,
  Prack,
  Subscribe,
  Notify,
  Refer,
  Message,
  Publish,  // the last: kMethodCount follows it
};
inline constexpr std::size_t kMethodCount = static_cast<std::size_t>(Method::Publish) + 1;
Method methodFromName(std::string_view name);  // case-sensitive, as RFC 3261 §7.1
std::string_view methodName(Method m);

struct Header {
  HeaderId id = HeaderId::Other;
  std::string_view name;   // as written (may be compact form)
  std::string_view value;  // trimmed, folding (CRLF + WSP) left in place
};

class Message;

// Outcome of parsing one complete message (a UDP datagram, or one framed
// message from a stream).
struct ParseResult {
  // Set when the start line and header section could be split, even if the
  // message is then found invalid: a request with Via, From, To, Call-ID and
  // CSeq that parse can still be answered with a 400.
  std::unique_ptr<Message> message;
  // Empty when the message is valid; otherwise why not, short enough for a
  // Reason-Phrase, e.g. "Bad CSeq header", "Content-Length exceeds body".
  std::string error;

  bool ok() const { return message && error.empty(); }
};

class Message {
 public:
  // Parses `data`, which must hold exactly one message (trailing bytes beyond
  // Content-Length are an error for streams; for datagrams they are ignored as
  // RFC 3261 §18.3 says). parse() itself ignores them: stream framers hand it
  // exactly one framed message. Never throws, whatever the input.
  static ParseResult parse(std::string data);

  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  Message(Message&&) noexcept;
  Message& operator=(Message&&) noexcept;
  ~Message();

  // A deep copy (for forking one request to several branches).
  std::unique_ptr<Message> clone() const;

  // ---- Start line
  bool isRequest() const { return isRequest_; }
  bool isResponse() const { return !isRequest_; }
  Method method() const { return method_; }  // requests only
  std::string_view methodText() const { return methodText_; }
  std::string_view requestUriText() const { return requestUriText_; }
  const Uri& requestUri() const { return requestUri_; }  // valid when the message is valid
  int status() const { return status_; }                 // responses only
  std::string_view reason() const { return reason_; }
  std::string_view version() const { return version_; }

  // ---- Headers, in the order written
  const std::vector<Header>& headers() const { return headers_; }
  const Header* find(HeaderId id) const;
  const Header* find(std::string_view name) const;  // for HeaderId::Other names
  // First value of a header (the whole line's value), "" when absent.
  std::string_view first(HeaderId id) const;
  bool has(HeaderId id) const { return find(id) != nullptr; }
  // All comma-separated values across every line of this header, in order.
  std::vector<std::string_view> values(HeaderId id) const;

  // ---- Typed access (parsed on demand; nullopt when absent or malformed)
  // The top Via value (a copy of topViaParsed()).
  std::optional<Via> topVia() const;
  // The top Via without a copy: parse() keeps what validating it produced,
  // an edit of Via forgets it, and the first call after the edit parses again.
  // Valid until the next edit of Via; nullptr when absent or malformed.
  const Via* topViaParsed() const;
  // Hands over the top Via (the message forgets it): for a caller about to
  // edit Via, which would forget it anyway.
  std::optional<Via> takeTopVia();
  // The transport of the top Via ("UDP", "WS", ...) as written, without
  // parsing the rest of it; "" when absent or unreadable.
  std::string_view topViaTransport() const;
  std::optional<NameAddr> from() const;
  std::optional<NameAddr> to() const;
  // The tag parameter of To; "" when To has none (or is missing or
  // malformed). Parsed once: by parse(), by makeResponse(), or at the first
  // call after an edit of To.
  std::string_view toTag() const;
  std::string_view callId() const { return first(HeaderId::CallId); }
  std::optional<CSeq> cseq() const;
  // -1 when absent.
  int maxForwards() const;
  // Method of the CSeq (for responses, the method of the request answered).
  Method cseqMethod() const;

  std::string_view body() const { return body_; }

  // ---- Edits (views point into the message's arena afterwards)
  // Stores `s` in the message and returns a view of the stored copy.
  std::string_view store(std::string s);
  bool setRequestUri(std::string uri);  // re-parses requestUri(); false if invalid
  void setStatus(int code, std::string reason);
  // Adds a header line before all others of any kind (e.g. the proxy's Via).
  void prependHeader(HeaderId id, std::string value);
  // Adds a header line at the end of the header section.
  void appendHeader(HeaderId id, std::string value);
  void appendHeader(std::string name, std::string value);  // by name (unknown headers)
  // Removes the first comma-separated value of the first line of `id` (e.g. the
  // top Via or top Route); removes the line when it had one value.
  void removeFirstValue(HeaderId id);
  // Removes every line of `id`.
  void removeAll(HeaderId id);
  // Replaces all lines of `id` with one line holding `value`.
  void setHeader(HeaderId id, std::string value);
  // Replaces the body; Content-Type is set when not empty.
  void setBody(std::string body, std::string contentType = {});

  // Writes the message: start line, headers in order (long names for headers the
  // stack added, names as received otherwise), a Content-Length that matches the
  // body, the body.
  std::string serialize() const;

 private:
  Message();
  friend struct MessageParser;

  // The bytes parsed from. Always heap-allocated (never in the string's small
  // buffer; see ownHeap()), so moving the Message moves the pointer, not the
  // characters, and views into it stay valid.
  std::string data_;
  // Makes data_ hold its characters on the heap, whatever its length.
  void ownHeap() {
    if (data_.capacity() < kHeapCapacity) data_.reserve(kHeapCapacity);
  }
  // Larger than any small-string buffer (15 characters in libstdc++, 22 in libc++).
  static constexpr std::size_t kHeapCapacity = 32;
  // Text added by edits; list nodes never move, so views into them stay valid.
  std::forward_list<std::string> arena_;
  bool isRequest_ = true;
  Method method_ = Method::Unknown;
  std::string_view methodText_, requestUriText_, version_, reason_, body_;
  std::string_view statusText_;  // the status code as written, checked by the parser
  Uri requestUri_;
  int status_ = 0;
  std::vector<Header> headers_;
  // A header parse kept on the message: Unknown until computed, Absent when
  // the header is missing or malformed, Parsed when the cache holds it.
  enum class CacheState : std::uint8_t { Unknown, Absent, Parsed };
  // toTag()'s cache: the tag, a view of the To value.
  mutable CacheState toState_ = CacheState::Unknown;
  mutable std::string_view toTag_;
  // topViaParsed()'s cache (views into the message).
  mutable CacheState viaState_ = CacheState::Unknown;
  mutable Via topVia_;
  // Every edit of a header line calls this: an edited To or Via is parsed again.
  void touched(HeaderId id) {
    if (id == HeaderId::To) toState_ = CacheState::Unknown;
    if (id == HeaderId::Via) viaState_ = CacheState::Unknown;
  }
};

// Builds a response to `request` per RFC 3261 §8.2.6: copies Via (all),
// From, To, Call-ID, CSeq; adds `toTag` to To when given and To has none; for
// 100 Trying copies Timestamp. Reason defaults to the standard phrase.
std::unique_ptr<Message> makeResponse(const Message& request, int status,
                                      std::string_view reason = {}, std::string_view toTag = {});

// A hash of what tells one request from every other and its retransmissions
// alike: the top Via (branch, sent-by, received/rport), Call-ID and CSeq. For
// answering a request statelessly yet identically each time (§8.2.7).
std::uint64_t requestIdentityHash(const Message& request);

// The standard reason phrase for a status code ("Not Found"), or "Unknown".
std::string_view reasonPhrase(int status);

}  // namespace tandem::sip
