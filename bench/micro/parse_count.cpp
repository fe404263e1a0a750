// Deterministic driver for `valgrind --tool=callgrind` and allocation counts:
// parses one sample message N times and prints allocations per parse.
//   parse_count register|invite|ok [iterations]
//   valgrind --tool=callgrind --toggle-collect='tandem::sip::Message::parse*'
//     build/<dir>/bench/micro/parse_count register 1000
// Instructions per parse = Ir of Message::parse (inclusive) / iterations.
#include "sip/message/message.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "count_allocations.hpp"
#include "samples.hpp"

int main(int argc, char** argv) {
  std::string_view which = argc > 1 ? argv[1] : "register";
  long n = argc > 2 ? std::atol(argv[2]) : 1000;
  std::string text = which == "invite" ? tandem::bench::inviteWithSdp()
                     : which == "ok"   ? tandem::bench::okResponse()
                                       : tandem::bench::registerWithAuth();
  // Copies are made before counting: the caller owns the datagram's buffer.
  std::vector<std::string> inputs(static_cast<std::size_t>(n), text);
  long before = tandem::bench::allocations.load();
  long ok = 0;
  for (std::string& s : inputs) {
    auto r = tandem::sip::Message::parse(std::move(s));
    ok += r.ok() ? 1 : 0;
  }
  long allocs = tandem::bench::allocations.load() - before;
  std::printf("%s: %zu bytes, %ld/%ld ok, %.2f allocations per parse\n", std::string(which).c_str(),
              text.size(), ok, n, static_cast<double>(allocs) / static_cast<double>(n));
  return ok == n ? 0 : 1;
}
