#include "core/metrics.hpp"

#include <fmt/format.h>

#include <cassert>
#include <cmath>
#include <cstdlib>

namespace tandem::core {
namespace {

// Label values escape backslash, double quote and newline; HELP text escapes
// backslash and newline (exposition format 0.0.4).
std::string escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quotes) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string labelText(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first;
    out += "=\"";
    out += escape(labels[i].second, true);
    out += '"';
  }
  out += '}';
  return out;
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

}  // namespace

Metrics::CallbackHandle& Metrics::CallbackHandle::operator=(CallbackHandle&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = std::exchange(other.owner_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void Metrics::CallbackHandle::reset() {
  if (owner_) owner_->removeCallback(id_);
  owner_ = nullptr;
  id_ = 0;
}

Metrics::Family& Metrics::family(std::string_view name, std::string_view help, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}, {}, {}}).first;
  }
  // One name, one type: mixing them would render an invalid exposition.
  if (it->second.type != type) {
    fmt::print(stderr, "metric '{}' registered with two types\n", name);
    std::abort();
  }
  return it->second;
}

Counter& Metrics::counter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Type::Counter).counters[labelText(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Metrics::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Type::Gauge).gauges[labelText(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Metrics::CallbackHandle Metrics::callbackGauge(std::string_view name, std::string_view help,
                                               const Labels& labels, std::function<double()> read) {
  std::lock_guard lock(mutex_);
  const auto id = nextCallbackId_++;
  family(name, help, Type::Gauge).callbacks[labelText(labels)] = {id, std::move(read)};
  return CallbackHandle(this, id);
}

Metrics::CallbackHandle Metrics::callbackCounter(std::string_view name, std::string_view help,
                                                 const Labels& labels,
                                                 std::function<double()> read) {
  std::lock_guard lock(mutex_);
  const auto id = nextCallbackId_++;
  family(name, help, Type::Counter).callbacks[labelText(labels)] = {id, std::move(read)};
  return CallbackHandle(this, id);
}

void Metrics::removeCallback(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  for (auto& [name, f] : families_) {
    for (auto it = f.callbacks.begin(); it != f.callbacks.end(); ++it) {
      if (it->second.first == id) {
        f.callbacks.erase(it);
        return;
      }
    }
  }
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    if (f.counters.empty() && f.gauges.empty() && f.callbacks.empty()) continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape(f.help, false), name,
                       f.type == Type::Counter ? "counter" : "gauge");
    for (const auto& [labels, c] : f.counters)
      out += fmt::format("{}{} {}\n", name, labels, c->value());
    for (const auto& [labels, g] : f.gauges)
      out += fmt::format("{}{} {}\n", name, labels, g->value());
    for (const auto& [labels, cb] : f.callbacks)
      out += fmt::format("{}{} {}\n", name, labels, number(cb.second()));
  }
  return out;
}

Metrics& metrics() {
  static Metrics instance;
  return instance;
}

}  // namespace tandem::core
