#pragma once
// Logging: one spdlog logger per component tag ("sip", "tx", "transport",
// "registrar", "proxy", "store", "app"); levels can be set per tag at run time.

#include <spdlog/logger.h>

#include <memory>
#include <string_view>

namespace tandem::core {

// The logger for a component tag; created on first use, writing to stderr.
std::shared_ptr<spdlog::logger> logger(std::string_view tag);

// Sets the level of every logger ("trace", "debug", "info", "warn", "error",
// "critical", "off"). Returns false for an unknown level name.
bool setLogLevel(std::string_view level);
// Sets the level of one tag's logger.
bool setLogLevel(std::string_view tag, std::string_view level);

}  // namespace tandem::core
