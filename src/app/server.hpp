#pragma once
// `tandem serve`: builds the components from a validated Config, wires them in
// layer order, runs the event loop until SIGINT/SIGTERM, then shuts down in the
// reverse order (see docs/architecture.md, "Teardown").

#include "app/config.hpp"

namespace tandem::app {

// Runs the server; returns the process exit status. Throws ConfigError when
// the configuration cannot be put to use (store not openable, address in use).
int serve(const Config& config);

}  // namespace tandem::app
