#pragma once
// The friend of Message that builds instances: the parser and makeResponse().
// Internal to src/sip/message.

#include "sip/message/message.hpp"

#include <string>
#include <string_view>

namespace tandem::sip {

struct MessageParser {
  static ParseResult parse(std::string data);
  // Splits the start line and the header lines of m.data_; "" on success.
  static std::string_view split(Message& m, std::size_t& bodyStart);
  // Checks the start line and the mandatory headers, sets the body; "" when valid.
  static std::string_view validate(Message& m, std::size_t bodyStart);
  static std::unique_ptr<Message> makeResponse(const Message& request, int status,
                                               std::string_view reason, std::string_view toTag);
};

}  // namespace tandem::sip
