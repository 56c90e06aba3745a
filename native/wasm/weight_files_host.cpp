// weight_source.h's files in WASM: there is no file system to map, so every tensor arrives from
// the host slice by slice (engine_load_slice) and engine_weights_map is refused.
#include "weight_source.h"

bool weights_map_file(engine_weights*, const std::string& path, bool, std::string* err) {
    return *err = path + ": the WASM engine cannot open files: hand the tensors in with engine_load_slice", false;
}

void weights_release(engine_weights* w) { w->files.clear(); }

void weights_drop_pages(const void*, uint64_t) {}
