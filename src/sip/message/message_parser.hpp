#pragma once
// The friend of Message that builds instances: the parser and makeResponse().
// Internal to src/sip/message.

#include "sip/message/message.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::sip {

namespace detail {

constexpr std::size_t kHeaderIdCount = static_cast<std::size_t>(HeaderId::Warning) + 1;

// What the splitter learns on its way for the validator: where the body starts
// and, per header id, how many lines carry it and the index of the first.
struct SplitInfo {
  std::size_t bodyStart = 0;
  std::array<std::uint16_t, kHeaderIdCount> count{};
  std::array<std::uint16_t, kHeaderIdCount> first{};

  void add(HeaderId id, std::size_t index) {
    auto i = static_cast<std::size_t>(id);
    if (count[i]++ == 0) first[i] = static_cast<std::uint16_t>(index);
  }
  std::uint16_t n(HeaderId id) const { return count[static_cast<std::size_t>(id)]; }
};

}  // namespace detail

struct MessageParser {
  static ParseResult parse(std::string data);
  // Splits the start line and the header lines of m.data_; "" on success.
  static std::string_view split(Message& m, detail::SplitInfo& info);
  // Checks the start line and the mandatory headers, sets the body; "" when valid.
  static std::string_view validate(Message& m, const detail::SplitInfo& info);
  static std::unique_ptr<Message> makeResponse(const Message& request, int status,
                                               std::string_view reason, std::string_view toTag);
};

}  // namespace tandem::sip
