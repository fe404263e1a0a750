#include "core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>
#include <string>

namespace tandem::core {
namespace {

std::mutex mutex;
spdlog::level::level_enum defaultLevel = spdlog::level::info;

bool parseLevel(std::string_view name, spdlog::level::level_enum& out) {
  const auto level = spdlog::level::from_str(std::string(name));
  // from_str answers "off" for anything it does not know.
  if (level == spdlog::level::off && name != "off") return false;
  out = level;
  return true;
}

}  // namespace

std::shared_ptr<spdlog::logger> logger(std::string_view tag) {
  std::lock_guard lock(mutex);
  const std::string name(tag);
  if (auto existing = spdlog::get(name)) return existing;
  auto created = spdlog::stderr_color_mt(name);
  created->set_level(defaultLevel);
  created->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
  return created;
}

bool setLogLevel(std::string_view level) {
  spdlog::level::level_enum parsed;
  if (!parseLevel(level, parsed)) return false;
  std::lock_guard lock(mutex);
  defaultLevel = parsed;
  spdlog::set_level(parsed);
  return true;
}

bool setLogLevel(std::string_view tag, std::string_view level) {
  spdlog::level::level_enum parsed;
  if (!parseLevel(level, parsed)) return false;
  logger(tag)->set_level(parsed);
  return true;
}

}  // namespace tandem::core
