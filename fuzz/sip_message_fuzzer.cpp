// libFuzzer target for Message::parse: any bytes must parse or be rejected
// without crashing, and a message that parses must serialise to text that
// parses again to the same wire form.
#include "sip/message/message.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace tandem::sip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ParseResult r = Message::parse(std::string(reinterpret_cast<const char*>(data), size));
  if (!r.message) return 0;
  Message& m = *r.message;
  (void)m.topVia();
  (void)m.from();
  (void)m.to();
  (void)m.cseq();
  (void)m.maxForwards();
  (void)m.cseqMethod();
  for (std::string_view v : m.values(HeaderId::Contact))
    (void)NameAddr::parse(v);
  for (std::string_view v : m.values(HeaderId::Route))
    (void)NameAddr::parse(v);
  for (std::string_view v : m.values(HeaderId::Via))
    (void)Via::parse(v);
  (void)AuthParams::parse(m.first(HeaderId::Authorization));
  (void)AuthParams::parse(m.first(HeaderId::WwwAuthenticate));

  auto resp = makeResponse(m, 400, r.error, "fuzz");
  (void)resp->serialize();

  if (!r.ok()) return 0;
  std::string wire = m.serialize();
  ParseResult again = Message::parse(wire);
  if (!again.ok()) __builtin_trap();
  if (again.message->serialize() != wire) __builtin_trap();

  auto copy = m.clone();
  copy->removeFirstValue(HeaderId::Via);
  copy->prependHeader(HeaderId::Via, "SIP/2.0/UDP fuzz.invalid;branch=z9hG4bKfuzz");
  copy->setBody("x", "text/plain");
  if (!Message::parse(copy->serialize()).message) __builtin_trap();
  return 0;
}
