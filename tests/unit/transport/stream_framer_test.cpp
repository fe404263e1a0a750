#include "sip/transport/transport_layer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tandem::sip {
namespace {

using Kind = FrameResult::Kind;

const std::string kOptions =
    "OPTIONS sip:a@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "hello";

TEST(FrameStream, EmptyBufferNeedsMore) {
  EXPECT_EQ(frameStream("", 1000).kind, Kind::NeedMore);
}

TEST(FrameStream, CompleteMessage) {
  const auto r = frameStream(kOptions, 1000);
  EXPECT_EQ(r.kind, Kind::Message);
  EXPECT_EQ(r.consumed, kOptions.size());
}

TEST(FrameStream, EveryPrefixNeedsMore) {
  for (std::size_t n = 1; n < kOptions.size(); ++n) {
    const auto r = frameStream(std::string_view(kOptions).substr(0, n), 1000);
    EXPECT_EQ(r.kind, Kind::NeedMore) << n;
  }
}

TEST(FrameStream, PartialBodyReportsExpectedSize) {
  const auto r = frameStream(std::string_view(kOptions).substr(0, kOptions.size() - 2), 1000);
  EXPECT_EQ(r.kind, Kind::NeedMore);
  EXPECT_EQ(r.expected, kOptions.size());
  EXPECT_EQ(frameStream("INVITE sip:a SIP/2.0\r\nContent-Le", 1000).expected, 0u);
}

TEST(FrameStream, TwoMessagesInOneBuffer) {
  const std::string two = kOptions + kOptions;
  const auto first = frameStream(two, 1000);
  ASSERT_EQ(first.kind, Kind::Message);
  EXPECT_EQ(first.consumed, kOptions.size());
  const auto second = frameStream(std::string_view(two).substr(first.consumed), 1000);
  ASSERT_EQ(second.kind, Kind::Message);
  EXPECT_EQ(second.consumed, kOptions.size());
}

TEST(FrameStream, ZeroLengthBody) {
  const std::string m = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\nINVITE";
  const auto r = frameStream(m, 1000);
  ASSERT_EQ(r.kind, Kind::Message);
  EXPECT_EQ(r.consumed, m.size() - 6);
}

TEST(FrameStream, CompactFormAndCaseInsensitiveNames) {
  for (const char* header :
       {"l: 5", "L:5", "content-length : 5", "CONTENT-LENGTH:\t5  ", "Content-Length:\r\n 5"}) {
    const std::string m = std::string("MESSAGE sip:a SIP/2.0\r\n") + header + "\r\n\r\nhello";
    const auto r = frameStream(m, 1000);
    EXPECT_EQ(r.kind, Kind::Message) << header;
    EXPECT_EQ(r.consumed, m.size()) << header;
  }
}

TEST(FrameStream, OnlyHeaderNamesAtLineStartCount) {
  // "l:" inside another header's value, and in the start-line, is not a header.
  const std::string m =
      "l: 99 sip:a SIP/2.0\r\nSubject: x\r\n Content-Length: 99\r\nX-l: 7\r\nl: 2\r\n\r\nhi";
  const auto r = frameStream(m, 1000);
  ASSERT_EQ(r.kind, Kind::Message);
  EXPECT_EQ(r.consumed, m.size());
}

TEST(FrameStream, MissingContentLengthIsAnError) {
  const auto r = frameStream("OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n", 1000);
  EXPECT_EQ(r.kind, Kind::Error);
  EXPECT_FALSE(r.error.empty());
}

TEST(FrameStream, GarbageContentLengthIsAnError) {
  for (const char* value : {"", "abc", "-1", "5x", "5 5", "0x10", "+3"}) {
    const std::string m =
        std::string("OPTIONS sip:a SIP/2.0\r\nContent-Length: ") + value + "\r\n\r\n";
    EXPECT_EQ(frameStream(m, 1000).kind, Kind::Error) << value;
  }
}

TEST(FrameStream, ConflictingContentLengthsAreAnError) {
  EXPECT_EQ(frameStream("A sip:a SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab", 1000).kind,
            Kind::Error);
  EXPECT_EQ(frameStream("A sip:a SIP/2.0\r\nl: 2\r\nContent-Length: 2\r\n\r\nab", 1000).kind,
            Kind::Message);
}

TEST(FrameStream, HugeContentLengthIsAnErrorWithoutOverflow) {
  const std::string m = "A sip:a SIP/2.0\r\nContent-Length: 99999999999999999999999999\r\n\r\n";
  EXPECT_EQ(frameStream(m, 1000).kind, Kind::Error);
}

TEST(FrameStream, MessageLargerThanMaximumIsAnError) {
  const std::string m = "A sip:a SIP/2.0\r\nContent-Length: 100\r\n\r\n";
  EXPECT_EQ(frameStream(m, m.size() + 99).kind, Kind::Error);
  EXPECT_EQ(frameStream(m, m.size() + 100).kind, Kind::NeedMore);
}

TEST(FrameStream, EndlessHeaderSectionIsAnError) {
  std::string m = "A sip:a SIP/2.0\r\n";
  while (m.size() < 200)
    m += "X-Pad: aaaaaaaa\r\n";
  EXPECT_EQ(frameStream(m.substr(0, 99), 100).kind, Kind::NeedMore);
  EXPECT_EQ(frameStream(m, 100).kind, Kind::Error);
}

TEST(FrameStream, DoubleCrlfIsAPing) {
  const auto r = frameStream("\r\n\r\nOPTIONS", 1000);
  EXPECT_EQ(r.kind, Kind::KeepAlive);
  EXPECT_EQ(r.consumed, 4u);
  EXPECT_TRUE(r.pong);
}

TEST(FrameStream, SingleCrlfIsSkippedWithoutPong) {
  for (const char* input : {"\r\n", "\r\nOPTIONS", "\r\n\rX"}) {
    const auto r = frameStream(input, 1000);
    EXPECT_EQ(r.kind, Kind::KeepAlive) << input;
    EXPECT_EQ(r.consumed, 2u) << input;
    EXPECT_FALSE(r.pong) << input;
  }
}

TEST(FrameStream, PartialKeepAliveNeedsMore) {
  EXPECT_EQ(frameStream("\r", 1000).kind, Kind::NeedMore);
  EXPECT_EQ(frameStream("\r\n\r", 1000).kind, Kind::NeedMore);
}

}  // namespace
}  // namespace tandem::sip
