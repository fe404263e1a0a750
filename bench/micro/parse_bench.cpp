// Google Benchmark of Message::parse on representative messages.
//   build/<dir>/bench/micro/parse_bench --benchmark_filter=Register
#include "sip/message/message.hpp"

#include <benchmark/benchmark.h>

#include "samples.hpp"

namespace {

using tandem::sip::Message;

void parseLoop(benchmark::State& state, const std::string& text) {
  for (auto _ : state) {
    auto r = Message::parse(text);  // copies the text, as a datagram read would
    benchmark::DoNotOptimize(r);
    if (!r.ok()) state.SkipWithError("parse failed");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}

void BM_ParseRegister(benchmark::State& state) {
  parseLoop(state, tandem::bench::registerWithAuth());
}
void BM_ParseInvite(benchmark::State& state) {
  parseLoop(state, tandem::bench::inviteWithSdp());
}
void BM_ParseOk(benchmark::State& state) {
  parseLoop(state, tandem::bench::okResponse());
}

BENCHMARK(BM_ParseRegister);
BENCHMARK(BM_ParseInvite);
BENCHMARK(BM_ParseOk);

}  // namespace

BENCHMARK_MAIN();
