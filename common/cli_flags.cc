#include "common/cli_flags.h"

#include <cstdlib>
#include <iostream>

#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/build_info.h"

namespace recsys {

bool IsProjectFlagFile(absl::string_view filename) {
  if (absl::StartsWith(filename, "/usr/")) return false;
  if (absl::StartsWith(filename, "absl/") || absl::StartsWith(filename, "./absl/") ||
      absl::StrContains(filename, "/absl/")) {
    return false;
  }
  return !filename.empty();
}

void ConfigureFlagsUsage(const std::string& program, const std::string& description) {
  absl::FlagsUsageConfig config;
  config.contains_helpshort_flags = IsProjectFlagFile;
  config.contains_help_flags = IsProjectFlagFile;
  config.contains_helppackage_flags = IsProjectFlagFile;
  config.version_string = [program] { return VersionString(program) + "\n"; };
  absl::SetFlagsUsageConfig(std::move(config));
  // Abseil prints it after "<program>: ".
  absl::SetProgramUsageMessage(
      absl::StrCat(description,
                   "\n\n--help lists this program's flags, --helpfull every flag, "
                   "--version the build."));
}

std::vector<char*> ParseFlags(int argc, char** argv, const std::string& program,
                              const std::string& description) {
  ConfigureFlagsUsage(program, description);
  // Abseil's own handling of --help exits 1; usage requests are handled here.
  std::vector<char*> positional = absl::flags_internal::ParseCommandLineImpl(
      argc, argv, absl::flags_internal::ArgvListAction::kRemoveParsedArgs,
      absl::flags_internal::UsageFlagsAction::kIgnoreUsage,
      absl::flags_internal::OnUndefinedFlag::kAbortIfUndefined);
  const int usage_rc =
      absl::flags_internal::HandleUsageFlags(std::cout, absl::ProgramUsageMessage());
  if (usage_rc != -1) {
    std::cout.flush();
    std::exit(0);
  }
  return positional;
}

}  // namespace recsys
