// Command-line parsing every recsys binary shares (offline tools and services):
// Abseil's usage configuration for this project plus ParseCommandLine.
//
//   int main(int argc, char** argv) {
//     std::vector<char*> args = recsys::ParseFlags(
//         argc, argv, "recsys-train", "Train every model, evaluate, publish a bundle");
//     ...
//
// What a user gets:
//   --help, --helpshort   the flags defined in this project's source files: the
//                         binary's own main.cc and the shared files it links
//                         (e.g. --metrics_address), with their help text; exit 0.
//   --helpfull            every flag, Abseil's own included; exit 0.
//   --help=SUBSTR         flags whose file name contains SUBSTR; exit 0.
//   --version             VersionString(program) (version, git commit, build
//                         type, see common/build_info.h); exit 0.
// A parse error (unknown flag, bad value) prints the reason and exits 1.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace recsys {

// True if a flag defined in `filename` (the __FILE__ recorded by ABSL_FLAG) is
// one of this project's: anything not installed under /usr/ and not Abseil's
// own (compiled as "./absl/flags/...").
bool IsProjectFlagFile(absl::string_view filename);

// Installs the usage configuration above and the usage message (`description`,
// printed after "<program>: " by --help; `program` names the binary in --version). Once per process, before any flag is parsed; used by
// ParseFlags, exposed for tests.
void ConfigureFlagsUsage(const std::string& program, const std::string& description);

// ConfigureFlagsUsage, then parses argv like absl::ParseCommandLine and returns
// the positional arguments (argv[0] first). Handles the usage flags itself so
// that a help or version request exits 0 (Abseil 20220623 exits 1 after help).
// Call first in main(), after only BlockTerminationSignals /
// ConfigureServingProcess in a service.
std::vector<char*> ParseFlags(int argc, char** argv, const std::string& program,
                              const std::string& description);

}  // namespace recsys
