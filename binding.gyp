{
  "targets": [
    {
      "target_name": "sirocco",
      "sources": [
        "native/binding/addon.cpp",
        "native/engine/thread_pool.cpp",
        "native/engine/kernels.cpp",
        "native/engine/quant.cpp",
        "native/engine/kv_cache.cpp",
        "native/engine/attention.cpp",
        "native/engine/ffn.cpp",
        "native/engine/model.cpp",
        "native/engine/engine.cpp",
        "native/engine/bandwidth.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/engine"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2", "-O0"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-ffp-contract=off", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-pthread"]
    }
  ]
}
