// The job's settings as saved with its state, so a restart with other flags
// cannot silently change the run.
//
// JobSettingsOf lists every EngineConfig field that shapes the trajectory:
// the strategy and all its parameters, the round triggers, the staleness
// bound, the training recipe, the encodings, the norm and size bounds and
// the known participation probabilities. Operational knobs that do not change
// what the model becomes are left out: queue and record bounds, the trainer
// cap, retry hints, and max_rounds (a stopping rule: a job may be extended).
// Values are text; doubles are written with 17 significant digits, so equal
// text means equal values.
//
// Pure functions, safe from any thread.
#pragma once

#include <map>
#include <string>

#include "common/status.h"
#include "server/engine_config.h"
#include "server/store/store_types.h"

namespace murmur::server {

using JobSettingsMap = store::JobSettings;

JobSettingsMap JobSettingsOf(const EngineConfig& config);

// OK when `current` equals `saved`. Otherwise FAILED_PRECONDITION naming every
// setting that differs with its saved and its current value (a setting only
// one side has counts as differing).
Status CompareJobSettings(const JobSettingsMap& saved, const JobSettingsMap& current);

}  // namespace murmur::server
