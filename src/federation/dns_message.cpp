#include "federation/dns_message.hpp"

#include <ares.h>

#include <algorithm>
#include <climits>

namespace tandem::federation {

namespace {

constexpr int kTypeSoa = 6;

// A cursor over a DNS message that never reads outside it.
class Reader {
 public:
  Reader(const unsigned char* message, std::size_t size)
      : message_(message), p_(message + 12), end_(message + size), size_(static_cast<int>(size)) {}

  // Moves past a (possibly compressed) name; false when it does not parse.
  bool skipName() {
    if (p_ >= end_) return false;
    char* name = nullptr;
    long length = 0;
    if (ares_expand_name(p_, message_, size_, &name, &length) != ARES_SUCCESS) return false;
    ares_free_string(name);
    if (length <= 0 || length > end_ - p_) return false;
    p_ += length;
    return true;
  }
  bool skip(std::ptrdiff_t n) {
    if (end_ - p_ < n) return false;
    p_ += n;
    return true;
  }
  // A 32-bit TTL; RFC 2181 §8: the top bit set means 0.
  static std::int64_t ttl(const unsigned char* at) {
    const std::int64_t v = (std::int64_t{at[0]} << 24) | (std::int64_t{at[1]} << 16) |
                           (std::int64_t{at[2]} << 8) | std::int64_t{at[3]};
    return v > 0x7fffffff ? 0 : v;
  }
  const unsigned char* at() const { return p_; }
  std::ptrdiff_t left() const { return end_ - p_; }

  // Past the question section; false when it does not parse.
  bool skipQuestions(int count) {
    for (int i = 0; i < count; ++i) {
      if (!skipName() || !skip(4)) return false;  // QTYPE, QCLASS
    }
    return true;
  }

  // One resource record: `f(type, ttl, rdata, rdlength)`; false when it does
  // not parse.
  template <class F>
  bool record(F&& f) {
    if (!skipName() || left() < 10) return false;
    const int type = (p_[0] << 8) | p_[1];
    const std::int64_t recordTtl = ttl(p_ + 4);
    const int length = (p_[8] << 8) | p_[9];
    p_ += 10;
    if (left() < length) return false;
    f(type, recordTtl, p_, length);
    p_ += length;
    return true;
  }

 private:
  const unsigned char* message_;
  const unsigned char* p_;
  const unsigned char* end_;
  int size_;
};

bool plausible(const unsigned char* message, std::size_t size) {
  return message != nullptr && size >= 12 && size <= INT_MAX;
}

int count(const unsigned char* message, int offset) {
  return (message[offset] << 8) | message[offset + 1];
}

}  // namespace

std::int64_t dnsAnswerTtl(const unsigned char* message, std::size_t size) {
  if (!plausible(message, size)) return 0;
  const int answers = count(message, 6);
  if (answers == 0) return 0;
  Reader r(message, size);
  if (!r.skipQuestions(count(message, 4))) return 0;
  std::int64_t ttl = -1;
  for (int i = 0; i < answers; ++i) {
    const bool ok = r.record([&](int, std::int64_t recordTtl, const unsigned char*, int) {
      ttl = ttl < 0 ? recordTtl : std::min(ttl, recordTtl);
    });
    if (!ok) return 0;
  }
  return ttl < 0 ? 0 : ttl;
}

std::int64_t dnsNegativeTtl(const unsigned char* message, std::size_t size) {
  if (!plausible(message, size)) return 0;
  if (count(message, 6) != 0) return 0;  // answers: not a negative one
  const int authority = count(message, 8);
  Reader r(message, size);
  if (!r.skipQuestions(count(message, 4))) return 0;
  std::int64_t ttl = -1;
  for (int i = 0; i < authority && ttl < 0; ++i) {
    bool soaOk = true;
    const bool ok =
        r.record([&](int type, std::int64_t recordTtl, const unsigned char* rdata, int length) {
          if (type != kTypeSoa) return;
          // MNAME, RNAME, then SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM (RFC 1035
          // §3.3.13); RFC 2308 §5: the smaller of the SOA's TTL and MINIMUM.
          Reader names(message, size);
          names.skip(rdata - (message + 12));
          if (!names.skipName() || !names.skipName() || (rdata + length) - names.at() < 20) {
            soaOk = false;
            return;
          }
          ttl = std::min(recordTtl, Reader::ttl(names.at() + 16));
        });
    if (!ok || !soaOk) return 0;
  }
  return ttl < 0 ? 0 : ttl;
}

}  // namespace tandem::federation
