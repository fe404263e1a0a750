// libFuzzer target for Uri::parse: any bytes must parse or be rejected without
// crashing; a URI that parses must re-serialise to an equivalent URI.
#include "sip/message/uri.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

using namespace tandem::sip;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  (void)unescape(text);
  auto uri = Uri::parse(text);
  if (!uri) return 0;
  (void)uri->param("transport");
  if (!uriEquivalent(*uri, *uri)) __builtin_trap();
  std::string again = uri->toString();
  auto reparsed = Uri::parse(again);
  if (!reparsed) __builtin_trap();
  if (!uriEquivalent(*uri, *reparsed) || !uriEquivalent(*reparsed, *uri)) __builtin_trap();
  if (reparsed->toString() != again) __builtin_trap();
  return 0;
}
