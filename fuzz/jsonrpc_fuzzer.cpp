// libFuzzer target: the site protocol's JSON-RPC 2.0 decoder and encoders
// (signaling/jsonrpc). Every WebSocket text message from a browser goes
// through decode().
//
// Requests and notifications are re-encoded and decoded again: the round
// trip must keep the kind, id, method and params. Responses are re-encoded
// the same way. For an invalid message, the error the server would send
// back must be valid JSON that decodes as an error reply with the same code.
#include "signaling/jsonrpc.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using tandem::signaling::Incoming;
using tandem::signaling::Json;

// Equal as JSON values, and equal once serialised (== treats 1 and 1.0, or
// an unsigned and a signed integer, as equal; the text does not).
bool same(const Json& a, const Json& b) {
  return a == b && a.dump() == b.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tandem::signaling;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  try {
    const Incoming in = decode(input);
    switch (in.kind) {
      case Incoming::Kind::Request:
      case Incoming::Kind::Notification: {
        if (in.method.empty() || !(in.params.is_object() || in.params.is_array())) {
          __builtin_trap();
        }
        const bool request = in.kind == Incoming::Kind::Request;
        const std::string text = request ? encodeRequest(in.id, in.method, in.params)
                                         : encodeNotification(in.method, in.params);
        const Incoming again = decode(text);
        if (again.kind != in.kind || again.method != in.method || !same(again.params, in.params)) {
          __builtin_trap();
        }
        if (request && !same(again.id, in.id)) __builtin_trap();
        if (!request && !again.id.is_null()) __builtin_trap();
        break;
      }
      case Incoming::Kind::Result: {
        const Incoming again = decode(encodeResult(in.id, in.result));
        if (again.kind != Incoming::Kind::Result || !same(again.id, in.id) ||
            !same(again.result, in.result)) {
          __builtin_trap();
        }
        break;
      }
      case Incoming::Kind::ErrorReply: {
        const Incoming again = decode(encodeError(in.id, in.error));
        if (again.kind != Incoming::Kind::ErrorReply || !same(again.id, in.id) ||
            again.error.code != in.error.code || again.error.message != in.error.message ||
            !same(again.error.data, in.error.data)) {
          __builtin_trap();
        }
        break;
      }
      case Incoming::Kind::Invalid: {
        if (in.error.code >= 0 || in.error.message.empty()) __builtin_trap();
        const std::string text = encodeError(in.id, in.error);
        const Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (doc.is_discarded() || !doc.is_object() || doc.value("jsonrpc", "") != "2.0") {
          __builtin_trap();
        }
        const Incoming reply = decode(text);
        if (reply.kind != Incoming::Kind::ErrorReply || reply.error.code != in.error.code ||
            !same(reply.id, in.id)) {
          __builtin_trap();
        }
        break;
      }
    }
    (void)stringParam(in.params, "id");
    (void)integerParam(in.params, "id");
  } catch (...) {
    // decode() and the encoders promise never to throw.
    __builtin_trap();
  }
  return 0;
}
