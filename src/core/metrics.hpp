#pragma once
// A small metrics registry rendered in the Prometheus text exposition format
// (https://prometheus.io/docs/instrumenting/exposition_formats/), served on
// /metrics by the web component.
//
// Use the process-wide registry, core::metrics(), from any component:
//
//   static auto& received = core::metrics().counter(
//       "tandem_sip_messages_total", "SIP messages received", {{"method", "INVITE"}});
//   received.inc();
//
// counter() and gauge() return a reference that stays valid as long as the
// registry (for core::metrics(): the whole process), so components look a
// series up once and keep the reference. Updates are atomic (relaxed), so
// several event loops may share a series; registration and rendering take a
// lock. Tests may create their own Metrics instance.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tandem::core {

// Label name/value pairs of one series, e.g. {{"method", "INVITE"}}.
using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void set(std::int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  void sub(std::int64_t n = 1) { value_.fetch_sub(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

class Metrics {
 public:
  // Unregisters a callback gauge when destroyed (or reset()).
  class CallbackHandle {
   public:
    CallbackHandle() = default;
    CallbackHandle(Metrics* owner, std::uint64_t id) : owner_(owner), id_(id) {}
    CallbackHandle(CallbackHandle&& other) noexcept { *this = std::move(other); }
    CallbackHandle& operator=(CallbackHandle&& other) noexcept;
    ~CallbackHandle() { reset(); }
    void reset();

   private:
    Metrics* owner_ = nullptr;
    std::uint64_t id_ = 0;
  };

  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The series `name{labels}`, created on first use. `help` is kept from the
  // first registration of a name. A name must keep one type; a name already
  // used as another type is a programming error (aborts). Names follow
  // Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*); counters end in "_total".
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  // A gauge whose value is read from `read` at each render (e.g. the size of a
  // table). `read` runs on the rendering thread; it must be safe there.
  [[nodiscard]] CallbackHandle callbackGauge(std::string_view name, std::string_view help,
                                             const Labels& labels, std::function<double()> read);
  // The same for a counter kept elsewhere (a total a component counts anyway).
  [[nodiscard]] CallbackHandle callbackCounter(std::string_view name, std::string_view help,
                                               const Labels& labels, std::function<double()> read);

  // The text exposition format (version 0.0.4), families sorted by name.
  std::string render() const;

 private:
  enum class Type { Counter, Gauge };
  struct Family {
    Type type;
    std::string help;
    // Keyed by the rendered label set ("" or "{a=\"b\"}").
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::pair<std::uint64_t, std::function<double()>>> callbacks;
  };

  Family& family(std::string_view name, std::string_view help, Type type);
  void removeCallback(std::uint64_t id);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
  std::uint64_t nextCallbackId_ = 1;
};

// The process-wide registry.
Metrics& metrics();

}  // namespace tandem::core
