// Where the model's bytes come from: weight files mapped read-only or read into memory (bytes
// a host fetched itself arrive slice by slice instead: engine_load_slice). The TypeScript
// loader has validated every header, offset, dtype and shape; this side checks again that
// each tensor lies inside its file, because a bad pointer here would crash the process.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "backend.h"
#include "engine_api.h"

struct engine_weights {
    struct file {
        const void* addr;
        size_t size;
        bool mapped;  // munmap on free (else a host buffer or copy the engine does not own)
    };
    std::vector<file> files;
    bool outlives_engine = false;           // mappings live as long as the engine: usable in place
};

// Maps a file read-only (copy = false), or reads it into anonymous huge-page memory.
bool weights_map_file(engine_weights* w, const std::string& path, bool copy, std::string* err);
// ref → its bytes as a host tensor, checking the file index, shape and byte range.
bool weights_resolve(const engine_weights* w, const engine_tensor_ref& ref, const std::string& name, host_tensor* out,
                     std::string* err);
void weights_release(engine_weights* w);
// Gives back the whole pages inside [p, p + n) of a mapping the engine owns, once nothing will
// read them again (a tensor the backend copied): reading them later would see zeros.
void weights_drop_pages(const void* p, uint64_t n);
