#include "app/commands.hpp"

int main(int argc, char** argv) {
  return tandem::app::runCommandLine(argc, argv);
}
