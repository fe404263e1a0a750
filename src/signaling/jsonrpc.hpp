#pragma once
// JSON-RPC 2.0 (https://www.jsonrpc.org/specification) framing for the site
// protocol `tandem.v1`: each WebSocket text message is one JSON-RPC object.
// decode() classifies a message and reports what is wrong with it as a
// JSON-RPC error; the encode helpers write the server's messages. Batches
// (arrays) are not part of tandem.v1 and are refused as invalid requests.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace tandem::signaling {

using Json = nlohmann::json;

// Error codes: JSON-RPC 2.0 §5.1, then tandem.v1's own (docs/protocol.md).
namespace error_code {
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kNotLoggedIn = -32001;  // a method that needs login, before it
inline constexpr int kLoginFailed = -32002;  // wrong user, password or token
inline constexpr int kAlreadyLoggedIn = -32003;
inline constexpr int kNoSuchCall = -32004;   // unknown or ended call id
inline constexpr int kWrongState = -32005;   // e.g. answer on an outgoing call
inline constexpr int kSipError = -32006;     // the SIP side refused (data.status)
inline constexpr int kUnavailable = -32007;  // the server is shutting down
}  // namespace error_code

struct Error {
  int code = 0;
  std::string message;
  Json data;  // null when absent
};

// One decoded message.
struct Incoming {
  enum class Kind {
    Request,       // method + id: the peer wants a response
    Notification,  // method, no id
    Result,        // a response with "result" to one of our requests
    ErrorReply,    // a response with "error" to one of our requests
    Invalid,       // `error` says why; reply with it when `id` is not null
  } kind = Kind::Invalid;
  Json id;  // string or number (null for notifications and unknown ids)
  std::string method;
  Json params;  // object or array; an empty object when absent
  Json result;  // Result
  Error error;  // ErrorReply (the peer's) or Invalid (ours to send)
};

// Never throws. Size limits are the transport's (the WebSocket's maximum
// message size); nesting depth is limited here, so a deeply nested document
// cannot exhaust the stack.
Incoming decode(std::string_view text);

std::string encodeResult(const Json& id, Json result);
std::string encodeError(const Json& id, const Error& error);
std::string encodeNotification(std::string_view method, Json params);
std::string encodeRequest(const Json& id, std::string_view method, Json params);

// Typed access to params, for handlers: each returns nullopt when the member
// is missing or has another type, so a handler can answer -32602 naming it.
std::optional<std::string> stringParam(const Json& params, std::string_view name);
std::optional<long long> integerParam(const Json& params, std::string_view name);

}  // namespace tandem::signaling
