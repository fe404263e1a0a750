#include "signaling/jsonrpc.hpp"

#include <climits>
#include <cstdint>

namespace tandem::signaling {
namespace {

constexpr int kMaxDepth = 32;

// The deepest nesting of arrays and objects in `text`, outside strings;
// stops counting past kMaxDepth.
int nestingDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool inString = false, escaped = false;
  for (const char c : text) {
    if (inString) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      if (++depth > deepest) deepest = depth;
      if (deepest > kMaxDepth) return deepest;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

Incoming invalid(int code, std::string message, Json id = nullptr) {
  Incoming in;
  in.kind = Incoming::Kind::Invalid;
  in.id = std::move(id);
  in.error.code = code;
  in.error.message = std::move(message);
  return in;
}

bool validId(const Json& id) {
  return id.is_string() || id.is_number_integer() || id.is_number_unsigned() || id.is_null();
}

}  // namespace

Incoming decode(std::string_view text) {
  if (nestingDepth(text) > kMaxDepth) {
    return invalid(error_code::kInvalidRequest, "nesting deeper than 32 levels");
  }
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid(error_code::kParseError, "Parse error: not valid JSON");
  if (!doc.is_object()) {
    return invalid(error_code::kInvalidRequest,
                   doc.is_array() ? "batches are not supported" : "not a JSON-RPC object");
  }
  Json id = nullptr;
  const bool hasId = doc.contains("id");
  if (hasId) {
    if (!validId(doc["id"]))
      return invalid(error_code::kInvalidRequest, "id must be a string or an integer");
    id = doc["id"];
  }
  const auto version = doc.find("jsonrpc");
  if (version == doc.end() || !version->is_string() || *version != "2.0") {
    return invalid(error_code::kInvalidRequest, "jsonrpc must be \"2.0\"", id);
  }

  Incoming in;
  in.id = id;
  const auto method = doc.find("method");
  if (method != doc.end()) {
    if (!method->is_string() || method->get_ref<const std::string&>().empty()) {
      return invalid(error_code::kInvalidRequest, "method must be a non-empty string", id);
    }
    in.method = method->get<std::string>();
    const auto params = doc.find("params");
    if (params == doc.end()) {
      in.params = Json::object();
    } else if (params->is_object() || params->is_array()) {
      in.params = std::move(*params);
    } else {
      return invalid(error_code::kInvalidRequest, "params must be an object or an array", id);
    }
    in.kind = hasId ? Incoming::Kind::Request : Incoming::Kind::Notification;
    return in;
  }

  // A response to one of our requests.
  const auto result = doc.find("result");
  const auto error = doc.find("error");
  if (!hasId || (result == doc.end()) == (error == doc.end())) {
    return invalid(error_code::kInvalidRequest, "neither a request nor a response", id);
  }
  if (result != doc.end()) {
    in.kind = Incoming::Kind::Result;
    in.result = std::move(*result);
    return in;
  }
  if (!error->is_object() || !error->contains("code") || !(*error)["code"].is_number_integer()) {
    return invalid(error_code::kInvalidRequest, "error must be an object with an integer code", id);
  }
  in.kind = Incoming::Kind::ErrorReply;
  const Json& codeJson = (*error)["code"];
  // An unsigned code above LLONG_MAX would wrap in get<long long>().
  const auto code = codeJson.is_number_unsigned() && codeJson.get<std::uint64_t>() > INT32_MAX
                        ? static_cast<long long>(INT32_MAX) + 1
                        : codeJson.get<long long>();
  in.error.code =
      code < INT32_MIN || code > INT32_MAX ? error_code::kInternalError : static_cast<int>(code);
  if (const auto m = error->find("message"); m != error->end() && m->is_string()) {
    in.error.message = m->get<std::string>();
  }
  if (const auto d = error->find("data"); d != error->end()) in.error.data = *d;
  return in;
}

namespace {
std::string dump(const Json& j) {
  // Replace invalid UTF-8 instead of throwing: text from SIP peers (display
  // names, reason phrases) is not guaranteed to be UTF-8.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}
}  // namespace

std::string encodeResult(const Json& id, Json result) {
  return dump(Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

std::string encodeError(const Json& id, const Error& error) {
  Json e{{"code", error.code}, {"message", error.message}};
  if (!error.data.is_null()) e["data"] = error.data;
  return dump(Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(e)}});
}

std::string encodeNotification(std::string_view method, Json params) {
  return dump(Json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
}

std::string encodeRequest(const Json& id, std::string_view method, Json params) {
  return dump(
      Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
}

std::optional<std::string> stringParam(const Json& params, std::string_view name) {
  if (!params.is_object()) return std::nullopt;
  const auto it = params.find(name);
  if (it == params.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::optional<long long> integerParam(const Json& params, std::string_view name) {
  if (!params.is_object()) return std::nullopt;
  const auto it = params.find(name);
  if (it == params.end() || !(it->is_number_integer() || it->is_number_unsigned())) {
    return std::nullopt;
  }
  if (it->is_number_unsigned() && it->get<unsigned long long>() > LLONG_MAX) return std::nullopt;
  return it->get<long long>();
}

}  // namespace tandem::signaling
