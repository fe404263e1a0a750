#include "signaling/jsonrpc.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <string>

namespace tandem::signaling {
namespace {

using Kind = Incoming::Kind;

// `depth` nested arrays: [[[...]]].
std::string nestedArrays(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

// A request whose params hold `inner` (params itself is one level, the
// message object another).
std::string requestWithParams(const std::string& params) {
  return R"({"jsonrpc":"2.0","id":1,"method":"m","params":)" + params + "}";
}

void expectInvalid(const Incoming& in, int code) {
  EXPECT_EQ(in.kind, Kind::Invalid);
  EXPECT_EQ(in.error.code, code);
  EXPECT_FALSE(in.error.message.empty());
}

// --- Requests and notifications ---------------------------------------------

TEST(JsonRpcDecode, RequestWithStringId) {
  const auto in =
      decode(R"({"jsonrpc":"2.0","id":"abc","method":"login","params":{"user":"alice"}})");
  ASSERT_EQ(in.kind, Kind::Request);
  EXPECT_EQ(in.id, Json("abc"));
  EXPECT_TRUE(in.id.is_string());
  EXPECT_EQ(in.method, "login");
  EXPECT_EQ(in.params, Json({{"user", "alice"}}));
}

TEST(JsonRpcDecode, RequestWithIntegerId) {
  const auto in = decode(R"({"jsonrpc":"2.0","id":42,"method":"call","params":{}})");
  ASSERT_EQ(in.kind, Kind::Request);
  EXPECT_TRUE(in.id.is_number_integer());
  EXPECT_EQ(in.id.get<long long>(), 42);
  EXPECT_EQ(in.method, "call");
  EXPECT_EQ(in.params, Json::object());
}

TEST(JsonRpcDecode, RequestWithNegativeAndLargeUnsignedIds) {
  const auto negative = decode(R"({"jsonrpc":"2.0","id":-7,"method":"m"})");
  ASSERT_EQ(negative.kind, Kind::Request);
  EXPECT_EQ(negative.id.get<long long>(), -7);

  const auto big = decode(R"({"jsonrpc":"2.0","id":18446744073709551615,"method":"m"})");
  ASSERT_EQ(big.kind, Kind::Request);
  ASSERT_TRUE(big.id.is_number_unsigned());
  EXPECT_EQ(big.id.get<std::uint64_t>(), UINT64_MAX);
}

TEST(JsonRpcDecode, MemberOrderDoesNotMatter) {
  const auto in = decode(R"({"params":[1],"method":"m","id":"x","jsonrpc":"2.0"})");
  ASSERT_EQ(in.kind, Kind::Request);
  EXPECT_EQ(in.id, Json("x"));
  EXPECT_EQ(in.method, "m");
  EXPECT_EQ(in.params, Json::array({1}));
}

TEST(JsonRpcDecode, Notification) {
  const auto in = decode(R"({"jsonrpc":"2.0","method":"hangup","params":{"call":"c1"}})");
  ASSERT_EQ(in.kind, Kind::Notification);
  EXPECT_TRUE(in.id.is_null());
  EXPECT_EQ(in.method, "hangup");
  EXPECT_EQ(in.params, Json({{"call", "c1"}}));
}

TEST(JsonRpcDecode, ParamsAbsentIsAnEmptyObject) {
  const auto request = decode(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
  ASSERT_EQ(request.kind, Kind::Request);
  EXPECT_TRUE(request.params.is_object());
  EXPECT_TRUE(request.params.empty());

  const auto notification = decode(R"({"jsonrpc":"2.0","method":"ping"})");
  ASSERT_EQ(notification.kind, Kind::Notification);
  EXPECT_TRUE(notification.params.is_object());
  EXPECT_TRUE(notification.params.empty());
}

TEST(JsonRpcDecode, ParamsArray) {
  const auto in = decode(R"({"jsonrpc":"2.0","id":2,"method":"sum","params":[1,"two",[3]]})");
  ASSERT_EQ(in.kind, Kind::Request);
  ASSERT_TRUE(in.params.is_array());
  EXPECT_EQ(in.params, Json::parse(R"([1,"two",[3]])"));
}

TEST(JsonRpcDecode, ScalarParamsAreInvalidKeepingTheId) {
  for (const char* params : {"5", R"("text")", "true", "null", "1.5"}) {
    SCOPED_TRACE(params);
    const auto in = decode(requestWithParams(params));
    expectInvalid(in, error_code::kInvalidRequest);
    EXPECT_EQ(in.id, Json(1));
  }
}

// --- Not JSON-RPC at all ----------------------------------------------------

TEST(JsonRpcDecode, InvalidJsonIsAParseErrorWithNullId) {
  for (const char* text : {R"({"jsonrpc":"2.0","id":5,"method":)", "{", "nonsense",
                           R"({"jsonrpc":"2.0","id":5,"method":"m"} trailing)", R"({"a":1}{"b":2})",
                           R"({'jsonrpc':'2.0'})"}) {
    SCOPED_TRACE(text);
    const auto in = decode(text);
    expectInvalid(in, error_code::kParseError);
    EXPECT_TRUE(in.id.is_null());
  }
}

TEST(JsonRpcDecode, EmptyAndBlankTextAreParseErrors) {
  for (const char* text : {"", "   ", "\n\t"}) {
    SCOPED_TRACE(testing::PrintToString(text));
    const auto in = decode(text);
    expectInvalid(in, error_code::kParseError);
    EXPECT_TRUE(in.id.is_null());
  }
}

TEST(JsonRpcDecode, InvalidUtf8IsAParseError) {
  const auto in = decode("{\"jsonrpc\":\"2.0\",\"method\":\"m\xff\"}");
  expectInvalid(in, error_code::kParseError);
}

TEST(JsonRpcDecode, BatchIsRefused) {
  for (const char* text : {R"([{"jsonrpc":"2.0","id":1,"method":"m"}])", "[]"}) {
    SCOPED_TRACE(text);
    const auto in = decode(text);
    expectInvalid(in, error_code::kInvalidRequest);
    EXPECT_TRUE(in.id.is_null());
    EXPECT_NE(in.error.message.find("batch"), std::string::npos) << in.error.message;
  }
}

TEST(JsonRpcDecode, NonObjectScalarIsAnInvalidRequest) {
  for (const char* text : {"5", R"("2.0")", "null", "true", "-1.5"}) {
    SCOPED_TRACE(text);
    const auto in = decode(text);
    expectInvalid(in, error_code::kInvalidRequest);
    EXPECT_TRUE(in.id.is_null());
  }
}

// --- The jsonrpc member, id and method ---------------------------------------

TEST(JsonRpcDecode, MissingJsonrpcKeepsTheId) {
  const auto in = decode(R"({"id":5,"method":"m"})");
  expectInvalid(in, error_code::kInvalidRequest);
  EXPECT_EQ(in.id, Json(5));
}

TEST(JsonRpcDecode, WrongJsonrpcKeepsTheId) {
  for (const char* version : {R"("1.0")", R"("2.00")", "2.0", "2", "null", R"(["2.0"])"}) {
    SCOPED_TRACE(version);
    const auto in =
        decode(std::string(R"({"jsonrpc":)") + version + R"(,"id":"req-9","method":"m"})");
    expectInvalid(in, error_code::kInvalidRequest);
    EXPECT_EQ(in.id, Json("req-9"));
  }
}

TEST(JsonRpcDecode, IdOfWrongTypeIsInvalid) {
  for (const char* id : {R"({"a":1})", "[1]", "1.5", "1.0", "true", "false"}) {
    SCOPED_TRACE(id);
    const auto in = decode(std::string(R"({"jsonrpc":"2.0","id":)") + id + R"(,"method":"m"})");
    expectInvalid(in, error_code::kInvalidRequest);
    EXPECT_TRUE(in.id.is_null()) << in.id.dump();
  }
}

TEST(JsonRpcDecode, EmptyMethodIsInvalid) {
  const auto in = decode(R"({"jsonrpc":"2.0","id":3,"method":""})");
  expectInvalid(in, error_code::kInvalidRequest);
  EXPECT_EQ(in.id, Json(3));
  EXPECT_TRUE(in.method.empty());
}

TEST(JsonRpcDecode, NonStringMethodIsInvalid) {
  for (const char* method : {"5", "null", "true", R"(["m"])", R"({"m":1})"}) {
    SCOPED_TRACE(method);
    const auto in = decode(std::string(R"({"jsonrpc":"2.0","id":"x","method":)") + method + "}");
    expectInvalid(in, error_code::kInvalidRequest);
    EXPECT_EQ(in.id, Json("x"));
  }
}

// --- Responses -------------------------------------------------------------

TEST(JsonRpcDecode, ResultResponse) {
  const auto in = decode(R"({"jsonrpc":"2.0","id":7,"result":{"call":"c1","n":[1,2]}})");
  ASSERT_EQ(in.kind, Kind::Result);
  EXPECT_EQ(in.id, Json(7));
  EXPECT_EQ(in.result, Json::parse(R"({"call":"c1","n":[1,2]})"));
  EXPECT_TRUE(in.method.empty());
}

TEST(JsonRpcDecode, NullResultIsStillAResult) {
  const auto in = decode(R"({"jsonrpc":"2.0","id":"r","result":null})");
  ASSERT_EQ(in.kind, Kind::Result);
  EXPECT_EQ(in.id, Json("r"));
  EXPECT_TRUE(in.result.is_null());
}

TEST(JsonRpcDecode, ErrorResponseWithCodeMessageAndData) {
  const auto in = decode(
      R"({"jsonrpc":"2.0","id":8,"error":{"code":-32006,"message":"SIP refused","data":{"status":486}}})");
  ASSERT_EQ(in.kind, Kind::ErrorReply);
  EXPECT_EQ(in.id, Json(8));
  EXPECT_EQ(in.error.code, error_code::kSipError);
  EXPECT_EQ(in.error.message, "SIP refused");
  EXPECT_EQ(in.error.data, Json({{"status", 486}}));
}

TEST(JsonRpcDecode, ErrorResponseWithoutMessageOrData) {
  const auto in = decode(R"({"jsonrpc":"2.0","id":8,"error":{"code":12,"message":5}})");
  ASSERT_EQ(in.kind, Kind::ErrorReply);
  EXPECT_EQ(in.error.code, 12);
  EXPECT_TRUE(in.error.message.empty());
  EXPECT_TRUE(in.error.data.is_null());
}

TEST(JsonRpcDecode, ErrorWithoutIntegerCodeIsInvalid) {
  for (const char* error :
       {R"({"message":"no code"})", R"({"code":"-32000"})", R"({"code":-32000.5})",
        R"({"code":null})", R"("oops")", "-32000", "[-32000]", "null"}) {
    SCOPED_TRACE(error);
    const auto in = decode(std::string(R"({"jsonrpc":"2.0","id":4,"error":)") + error + "}");
    expectInvalid(in, error_code::kInvalidRequest);
    EXPECT_EQ(in.id, Json(4));
  }
}

TEST(JsonRpcDecode, BothResultAndErrorIsInvalid) {
  const auto in =
      decode(R"({"jsonrpc":"2.0","id":4,"result":{},"error":{"code":-32000,"message":"x"}})");
  expectInvalid(in, error_code::kInvalidRequest);
  EXPECT_EQ(in.id, Json(4));
}

TEST(JsonRpcDecode, NeitherResultNorErrorIsInvalid) {
  const auto in = decode(R"({"jsonrpc":"2.0","id":4})");
  expectInvalid(in, error_code::kInvalidRequest);
  EXPECT_EQ(in.id, Json(4));
}

TEST(JsonRpcDecode, ResponseWithoutIdIsInvalid) {
  expectInvalid(decode(R"({"jsonrpc":"2.0","result":1})"), error_code::kInvalidRequest);
  expectInvalid(decode(R"({"jsonrpc":"2.0","error":{"code":1,"message":"m"}})"),
                error_code::kInvalidRequest);
}

TEST(JsonRpcDecode, ErrorResponseWithNullIdIsAccepted) {
  // A peer's answer to a message it could not parse carries id null.
  const auto in = decode(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}})");
  ASSERT_EQ(in.kind, Kind::ErrorReply);
  EXPECT_TRUE(in.id.is_null());
  EXPECT_EQ(in.error.code, error_code::kParseError);
}

TEST(JsonRpcDecode, ErrorCodeAtTheInt32LimitsIsKept) {
  const auto high = decode(R"({"jsonrpc":"2.0","id":1,"error":{"code":2147483647}})");
  ASSERT_EQ(high.kind, Kind::ErrorReply);
  EXPECT_EQ(high.error.code, INT32_MAX);
  const auto low = decode(R"({"jsonrpc":"2.0","id":1,"error":{"code":-2147483648}})");
  ASSERT_EQ(low.kind, Kind::ErrorReply);
  EXPECT_EQ(low.error.code, INT32_MIN);
}

TEST(JsonRpcDecode, ErrorCodeOutsideInt32MapsToInternalError) {
  for (const char* code :
       {"2147483648", "-2147483649", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "18446744073709551615", "18446744073709551574"}) {
    SCOPED_TRACE(code);
    const auto in = decode(std::string(R"({"jsonrpc":"2.0","id":1,"error":{"code":)") + code +
                           R"(,"message":"big"}})");
    ASSERT_EQ(in.kind, Kind::ErrorReply);
    EXPECT_EQ(in.error.code, error_code::kInternalError);
    EXPECT_EQ(in.error.message, "big");
  }
}

// --- Nesting -----------------------------------------------------------------

TEST(JsonRpcDecode, DeepNestingIsRefused) {
  const auto in = decode(requestWithParams(nestedArrays(100)));
  expectInvalid(in, error_code::kInvalidRequest);
  EXPECT_NE(in.error.message.find("nesting"), std::string::npos) << in.error.message;
}

TEST(JsonRpcDecode, VeryDeepNestingDoesNotCrash) {
  const int depth = 1'000'000;
  for (const auto& text :
       {nestedArrays(depth), std::string(depth, '['), requestWithParams(std::string(depth, '[')),
        std::string(depth / 2, '{') + std::string(depth / 2, '}')}) {
    const auto in = decode(text);
    expectInvalid(in, error_code::kInvalidRequest);
    EXPECT_NE(in.error.message.find("nesting"), std::string::npos) << in.error.message;
  }
}

TEST(JsonRpcDecode, ThirtyLevelsAreAccepted) {
  // The message object is level 1 and params level 2: 30 levels in all.
  const auto in = decode(requestWithParams(nestedArrays(29)));
  ASSERT_EQ(in.kind, Kind::Request) << in.error.message;
  Json level = in.params;
  int depth = 0;
  while (level.is_array() && !level.empty()) {
    level = Json(level[0]);
    ++depth;
  }
  EXPECT_EQ(depth, 28);  // 29 arrays, the innermost empty
  EXPECT_TRUE(level.is_array());
}

TEST(JsonRpcDecode, NestingLimitIs32Levels) {
  const auto at = decode(requestWithParams(nestedArrays(31)));  // 32 levels
  EXPECT_EQ(at.kind, Kind::Request) << at.error.message;
  const auto past = decode(requestWithParams(nestedArrays(32)));  // 33 levels
  expectInvalid(past, error_code::kInvalidRequest);
  EXPECT_NE(past.error.message.find("nesting"), std::string::npos) << past.error.message;
}

TEST(JsonRpcDecode, ObjectsCountTowardNesting) {
  std::string params;
  for (int i = 0; i < 40; ++i)
    params += R"({"a":)";
  params += "1" + std::string(40, '}');
  const auto in = decode(requestWithParams(params));
  expectInvalid(in, error_code::kInvalidRequest);
  EXPECT_NE(in.error.message.find("nesting"), std::string::npos) << in.error.message;
}

TEST(JsonRpcDecode, BracketsInStringsDoNotCountTowardNesting) {
  const std::string brackets = std::string(100, '[') + std::string(100, '{');
  const auto in = decode(R"({"jsonrpc":"2.0","id":1,"method":")" + brackets + R"(","params":{")" +
                         brackets + R"(":")" + brackets + R"("}})");
  ASSERT_EQ(in.kind, Kind::Request) << in.error.message;
  EXPECT_EQ(in.method, brackets);
  EXPECT_EQ(stringParam(in.params, brackets), brackets);
}

TEST(JsonRpcDecode, EscapedQuotesDoNotEndAString) {
  // "\"[[[...": the brackets are still inside the string.
  const std::string value = "\\\"" + std::string(100, '[') + "\\\"";
  const auto in = decode(requestWithParams(R"({"s":")" + value + R"("})"));
  ASSERT_EQ(in.kind, Kind::Request) << in.error.message;
  EXPECT_EQ(stringParam(in.params, "s"), "\"" + std::string(100, '[') + "\"");
}

TEST(JsonRpcDecode, EscapedBackslashEndsTheStringBeforeNesting) {
  // "\\" is a complete string; the arrays after it are real nesting.
  const auto in = decode(requestWithParams(R"({"s":"\\","t":)" + nestedArrays(40) + "}"));
  expectInvalid(in, error_code::kInvalidRequest);
  EXPECT_NE(in.error.message.find("nesting"), std::string::npos) << in.error.message;

  const auto shallow = decode(requestWithParams(R"({"s":"\\","t":)" + nestedArrays(3) + "}"));
  ASSERT_EQ(shallow.kind, Kind::Request) << shallow.error.message;
  EXPECT_EQ(stringParam(shallow.params, "s"), "\\");
}

// --- Encoders ----------------------------------------------------------------

TEST(JsonRpcEncode, Result) {
  const auto doc = Json::parse(encodeResult(Json(7), Json({{"call", "c1"}})));
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc.size(), 3u);
  EXPECT_EQ(doc.at("jsonrpc"), Json("2.0"));
  EXPECT_EQ(doc.at("id"), Json(7));
  EXPECT_EQ(doc.at("result"), Json({{"call", "c1"}}));
}

TEST(JsonRpcEncode, ResultWithStringIdAndNullResult) {
  const auto doc = Json::parse(encodeResult(Json("abc"), nullptr));
  EXPECT_EQ(doc.at("jsonrpc"), Json("2.0"));
  EXPECT_EQ(doc.at("id"), Json("abc"));
  ASSERT_TRUE(doc.contains("result"));
  EXPECT_TRUE(doc.at("result").is_null());
  EXPECT_FALSE(doc.contains("error"));
}

TEST(JsonRpcEncode, ErrorWithData) {
  const Error error{error_code::kSipError, "Busy Here", Json({{"status", 486}})};
  const auto doc = Json::parse(encodeError(Json("r1"), error));
  EXPECT_EQ(doc.size(), 3u);
  EXPECT_EQ(doc.at("jsonrpc"), Json("2.0"));
  EXPECT_EQ(doc.at("id"), Json("r1"));
  EXPECT_FALSE(doc.contains("result"));
  const auto& e = doc.at("error");
  EXPECT_EQ(e.at("code"), Json(-32006));
  EXPECT_EQ(e.at("message"), Json("Busy Here"));
  EXPECT_EQ(e.at("data"), Json({{"status", 486}}));
}

TEST(JsonRpcEncode, ErrorWithoutDataAndNullId) {
  const Error error{error_code::kParseError, "Parse error", nullptr};
  const auto doc = Json::parse(encodeError(nullptr, error));
  ASSERT_TRUE(doc.contains("id"));
  EXPECT_TRUE(doc.at("id").is_null());
  EXPECT_EQ(doc.at("error").at("code"), Json(-32700));
  EXPECT_EQ(doc.at("error").at("message"), Json("Parse error"));
  EXPECT_FALSE(doc.at("error").contains("data"));
  EXPECT_EQ(doc.at("error").size(), 2u);
}

TEST(JsonRpcEncode, Notification) {
  const auto doc = Json::parse(encodeNotification("incoming", Json({{"call", "c2"}})));
  EXPECT_EQ(doc.size(), 3u);
  EXPECT_EQ(doc.at("jsonrpc"), Json("2.0"));
  EXPECT_FALSE(doc.contains("id"));
  EXPECT_EQ(doc.at("method"), Json("incoming"));
  EXPECT_EQ(doc.at("params"), Json({{"call", "c2"}}));
}

TEST(JsonRpcEncode, Request) {
  const auto doc = Json::parse(encodeRequest(Json(9), "ring", Json::array({1, "x"})));
  EXPECT_EQ(doc.size(), 4u);
  EXPECT_EQ(doc.at("jsonrpc"), Json("2.0"));
  EXPECT_EQ(doc.at("id"), Json(9));
  EXPECT_EQ(doc.at("method"), Json("ring"));
  EXPECT_EQ(doc.at("params"), Json::array({1, "x"}));
}

TEST(JsonRpcEncode, EncodedMessagesDecode) {
  const Json params{{"sdp", "v=0\r\n"}, {"quote", "\"[{"}};
  const auto request = decode(encodeRequest(Json("id-1"), "offer", params));
  ASSERT_EQ(request.kind, Kind::Request);
  EXPECT_EQ(request.id, Json("id-1"));
  EXPECT_EQ(request.method, "offer");
  EXPECT_EQ(request.params, params);

  const auto notification = decode(encodeNotification("bye", params));
  ASSERT_EQ(notification.kind, Kind::Notification);
  EXPECT_EQ(notification.method, "bye");
  EXPECT_EQ(notification.params, params);

  const auto result = decode(encodeResult(Json(3), Json::array({true})));
  ASSERT_EQ(result.kind, Kind::Result);
  EXPECT_EQ(result.id, Json(3));
  EXPECT_EQ(result.result, Json::array({true}));

  const auto error = decode(encodeError(Json(4), Error{-32004, "no such call", Json("c9")}));
  ASSERT_EQ(error.kind, Kind::ErrorReply);
  EXPECT_EQ(error.id, Json(4));
  EXPECT_EQ(error.error.code, error_code::kNoSuchCall);
  EXPECT_EQ(error.error.message, "no such call");
  EXPECT_EQ(error.error.data, Json("c9"));
}

TEST(JsonRpcEncode, InvalidUtf8IsReplacedNotThrown) {
  const std::string bad = "Al\xff\xfeice";
  std::string text;
  ASSERT_NO_THROW(text = encodeNotification("pres\xc3", Json({{"display", bad}})));
  const auto doc = Json::parse(text);  // valid UTF-8 again
  const auto display = doc.at("params").at("display").get<std::string>();
  EXPECT_EQ(display.substr(0, 2), "Al");
  EXPECT_EQ(display.substr(display.size() - 3), "ice");
  EXPECT_NE(display.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD
  EXPECT_EQ(display.find('\xff'), std::string::npos);
  EXPECT_NE(doc.at("method").get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(decode(text).kind, Kind::Notification);
}

TEST(JsonRpcEncode, InvalidUtf8InErrorMessageIsReplaced) {
  std::string text;
  ASSERT_NO_THROW(text = encodeError(Json(1), Error{-32006, "Busy\x80", nullptr}));
  const auto in = decode(text);
  ASSERT_EQ(in.kind, Kind::ErrorReply);
  EXPECT_EQ(in.error.message, "Busy\xEF\xBF\xBD");
}

// --- Typed params --------------------------------------------------------------

TEST(JsonRpcParams, StringParam) {
  const auto params = Json::parse(R"({"user":"alice","n":5,"empty":"","nul":null})");
  EXPECT_EQ(stringParam(params, "user"), std::optional<std::string>("alice"));
  EXPECT_EQ(stringParam(params, "empty"), std::optional<std::string>(""));
  EXPECT_EQ(stringParam(params, "missing"), std::nullopt);
  EXPECT_EQ(stringParam(params, "n"), std::nullopt);
  EXPECT_EQ(stringParam(params, "nul"), std::nullopt);
  EXPECT_EQ(stringParam(Json::array({"user"}), "user"), std::nullopt);
  EXPECT_EQ(stringParam(Json("user"), "user"), std::nullopt);
}

TEST(JsonRpcParams, IntegerParam) {
  const auto params =
      Json::parse(R"({"n":5,"neg":-12,"zero":0,"s":"5","f":5.0,"b":true,"nul":null,"a":[5]})");
  EXPECT_EQ(integerParam(params, "n"), std::optional<long long>(5));
  EXPECT_EQ(integerParam(params, "neg"), std::optional<long long>(-12));
  EXPECT_EQ(integerParam(params, "zero"), std::optional<long long>(0));
  EXPECT_EQ(integerParam(params, "missing"), std::nullopt);
  EXPECT_EQ(integerParam(params, "s"), std::nullopt);
  EXPECT_EQ(integerParam(params, "f"), std::nullopt);
  EXPECT_EQ(integerParam(params, "b"), std::nullopt);
  EXPECT_EQ(integerParam(params, "nul"), std::nullopt);
  EXPECT_EQ(integerParam(params, "a"), std::nullopt);
  EXPECT_EQ(integerParam(Json::array({5}), "n"), std::nullopt);
}

TEST(JsonRpcParams, IntegerParamRange) {
  const auto params = Json::parse(
      R"({"max":9223372036854775807,"min":-9223372036854775808,"over":9223372036854775808,)"
      R"("umax":18446744073709551615,"huge":18446744073709551616})");
  ASSERT_TRUE(params.at("max").is_number_unsigned());
  EXPECT_EQ(integerParam(params, "max"), std::optional<long long>(LLONG_MAX));
  EXPECT_EQ(integerParam(params, "min"), std::optional<long long>(LLONG_MIN));
  ASSERT_TRUE(params.at("over").is_number_unsigned());
  EXPECT_EQ(integerParam(params, "over"), std::nullopt);
  EXPECT_EQ(integerParam(params, "umax"), std::nullopt);
  EXPECT_EQ(integerParam(params, "huge"), std::nullopt);  // parsed as a float
}

TEST(JsonRpcParams, FromADecodedRequest) {
  const auto in =
      decode(R"({"jsonrpc":"2.0","id":1,"method":"dial","params":{"to":"bob","timeout":30}})");
  ASSERT_EQ(in.kind, Kind::Request);
  EXPECT_EQ(stringParam(in.params, "to"), std::optional<std::string>("bob"));
  EXPECT_EQ(integerParam(in.params, "timeout"), std::optional<long long>(30));
  EXPECT_EQ(stringParam(in.params, "timeout"), std::nullopt);
  EXPECT_EQ(integerParam(in.params, "to"), std::nullopt);
}

}  // namespace
}  // namespace tandem::signaling
