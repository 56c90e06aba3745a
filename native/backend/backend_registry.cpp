// The backends this build has, by name: the one place a new backend is added (its folder,
// one line here, its sources in binding.gyp). engine_create calls backend_create per shard.
#include "backend.h"
#include "cpu/cpu_backend.h"

backend* backend_create(const std::string& kind, const backend_config& cfg, std::string* err) {
    if (kind == "cpu") return cpu_backend_create(cfg, err);
    *err = "unknown backend '" + kind + "': this build has: cpu";
    return nullptr;
}
