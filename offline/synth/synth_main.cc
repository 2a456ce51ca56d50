// recsys-synth: writes a deterministic synthetic catalogue (items.csv and
// interactions.csv in the generic layout) of any size; see offline/synth/synth.h
// for the model of the data.
//   recsys-synth --out /tmp/synth-1m --items 1000000 --users 1000000 --events 50000000
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "common/cli_flags.h"
#include "common/log.h"
#include "offline/synth/synth.h"

ABSL_FLAG(std::string, out, "", "Output directory (created; required)");
ABSL_FLAG(int64_t, items, 20000, "Items in the catalogue");
ABSL_FLAG(int64_t, users, 5000, "Users");
ABSL_FLAG(int64_t, events, 200000, "Interactions written in total (>= 3 * users)");
ABSL_FLAG(int64_t, topics, 0, "Topics (0 = max(8, items / 5000))");
ABSL_FLAG(uint64_t, seed, 1, "Random seed (the same flags give byte-identical files)");
ABSL_FLAG(int64_t, start, recsys::synth::SynthOptions{}.start_s,
          "Unix seconds of the first possible event (default 2019-01-01T00:00:00Z)");
ABSL_FLAG(double, years, 3, "Years the events span");
ABSL_FLAG(bool, force, false, "Overwrite items.csv / interactions.csv in --out");

int main(int argc, char** argv) {
  recsys::ParseFlags(argc, argv, "recsys-synth",
                     "Write a deterministic synthetic catalogue in the generic layout");
  recsys::synth::SynthOptions o;
  o.items = absl::GetFlag(FLAGS_items);
  o.users = absl::GetFlag(FLAGS_users);
  o.events = absl::GetFlag(FLAGS_events);
  o.topics = absl::GetFlag(FLAGS_topics);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.start_s = absl::GetFlag(FLAGS_start);
  o.years = absl::GetFlag(FLAGS_years);
  o.force = absl::GetFlag(FLAGS_force);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    LOG(ERROR) << "--out is required (the output directory)";
    return 2;
  }
  if (absl::Status valid = recsys::synth::ValidateSynthOptions(o); !valid.ok()) {
    LOG(ERROR) << valid.message();
    return 2;
  }
  auto report = recsys::synth::GenerateCatalogue(o, out);
  if (!report.ok()) {
    LOG(ERROR) << "generation failed: " << report.status();
    return 1;
  }
  std::cout << absl::StrFormat(
      "wrote %d items (%d topics), %d users, %d events to %s: items.csv %d bytes, "
      "interactions.csv %d bytes, %.1f s\n",
      report->items, report->topics, report->users, report->events, out, report->items_bytes,
      report->interactions_bytes, report->seconds);
  return 0;
}
