#pragma once
// The command line: `tandem serve`, `tandem user add|del|list`, `tandem token mint`,
// `tandem --version`.

namespace tandem::app {

// Parses argv and runs the chosen command; returns the exit status (2 for bad
// usage or configuration).
int runCommandLine(int argc, char** argv);

}  // namespace tandem::app
