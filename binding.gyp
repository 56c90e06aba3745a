{
  "targets": [
    {
      "target_name": "sirocco",
      "sources": [
        "native/binding/addon.cpp",
        "native/engine/dtype.cpp",
        "native/engine/weight_source.cpp",
        "native/engine/weight_files.cpp",
        "native/engine/shard_plan.cpp",
        "native/engine/model_load.cpp",
        "native/engine/kv_cache.cpp",
        "native/engine/moe_plan.cpp",
        "native/engine/communicator_local.cpp",
        "native/engine/shard_runner.cpp",
        "native/engine/engine.cpp",
        "native/engine/engine_api.cpp",
        "native/backend/backend_registry.cpp",
        "native/backend/cpu/cpu_backend.cpp",
        "native/backend/cpu/cpu_matmul.cpp",
        "native/backend/cpu/cpu_attention.cpp",
        "native/backend/cpu/cpu_moe.cpp",
        "native/backend/cpu/weight_arena.cpp",
        "native/backend/cpu/thread_pool.cpp",
        "native/backend/cpu/kernels_select.cpp",
        "native/backend/cpu/kernels_scalar.cpp",
        "native/backend/cpu/kernels_avx2.cpp",
        "native/backend/cpu/quant_avx2.cpp",
        "native/backend/cpu/kernels_avx512.cpp",
        "native/backend/cpu/quant_avx512.cpp",
        "native/backend/cpu/bf16_amx_avx512.cpp",
        "native/backend/cpu/attention_avx2.cpp",
        "native/backend/cpu/attention_avx512.cpp",
        "native/backend/cpu/kernels_wasm_simd128.cpp",
        "native/backend/cpu/quant_wasm_simd128.cpp",
        "native/backend/cpu/quant_wasm_relaxed_simd.cpp",
        "native/backend/cpu/attention_wasm_simd128.cpp",
        "native/backend/cpu/panel_pack.cpp",
        "native/backend/cpu/bandwidth.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/engine", "native/backend", "native/backend/cpu"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2", "-O0"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-pthread"]
    }
  ]
}
