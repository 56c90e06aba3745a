// The portable half of weight_source.h: locating a tensor in the files (weight_files.cpp maps
// them where the platform can).
#include "weight_source.h"

bool weights_resolve(const engine_weights* w, const engine_tensor_ref& ref, const std::string& name, host_tensor* out,
                     std::string* err) {
    if (ref.file < 0 || ref.file >= (int)w->files.size()) return *err = name + ": file index out of range", false;
    if (ref.dtype < ENGINE_DT_F32 || ref.dtype > ENGINE_DT_Q4_0) return *err = name + ": unknown dtype", false;
    if (ref.rows <= 0 || ref.cols <= 0 || ref.rows > (int64_t(1) << 40) / ref.cols) return *err = name + ": bad shape", false;
    const dtype_t dt = (dtype_t)ref.dtype;
    if (dtype_is_quant(dt) && ref.cols % QK != 0)
        return *err = name + ": quantized rows must hold whole blocks of " + std::to_string(QK) + " (cols " +
                      std::to_string(ref.cols) + ")",
               false;
    const engine_weights::file& f = w->files[ref.file];
    const uint64_t bytes = tensor_bytes(dt, ref.rows, ref.cols);
    if (ref.offset > f.size || bytes > f.size - ref.offset) return *err = name + ": byte range lies outside its file", false;
    *out = host_tensor{(const char*)f.addr + ref.offset, dt, ref.rows, ref.cols, row_bytes(dt, ref.cols)};
    return true;
}
