// The engine's status as the `code` of a thrown or rejected Error: 'BAD_INPUT', 'KV_EXHAUSTED' or
// 'INTERNAL', with engine_last_error() as its message.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "engine_api.h"

inline const char* status_code(engine_status s) {
    switch (s) {
        case ENGINE_OK: return "OK";
        case ENGINE_BAD_INPUT: return "BAD_INPUT";
        case ENGINE_KV_EXHAUSTED: return "KV_EXHAUSTED";
        case ENGINE_INTERNAL: return "INTERNAL";
    }
    return "INTERNAL";
}

inline Napi::Error engine_error(Napi::Env env, engine_status s, const std::string& prefix = "") {
    Napi::Error err = Napi::Error::New(env, prefix + engine_last_error());
    err.Set("code", status_code(s));
    return err;
}
