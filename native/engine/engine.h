// The engine: a model split into tp shards, each a backend holding its slice of the weights
// and its KV heads' storage, run together by the shard runner and joined by a communicator;
// one K/V cache manager for all. engine_api.h is its interface; this is its inside.
#pragma once
#include <string>
#include <vector>

#include "backend.h"
#include "communicator.h"
#include "engine_api.h"
#include "kv_cache.h"
#include "model.h"
#include "moe_plan.h"
#include "shard_runner.h"
#include "step_batch.h"
#include "timed_backend.h"

struct engine_shard {
    backend* be = nullptr;
    timed_backend* timed = nullptr;  // be timed, while engine_op_timing is on
    backend* ops() const { return timed ? timed : be; }  // what a step calls
    shard_slice slice;
    shard_weights w;
    std::vector<placement> placements;  // where each stored slice goes (model.h)
    moe_plan routing;  // this shard's routing plan of the current layer
    bool ok = true; // the last step's attention found every slot where expected
};

struct engine {
    engine_model_config cfg{};
    engine_options opts{};
    engine_weights* weights = nullptr;  // kept while shards use them in place
    std::vector<engine_shard> shards;
    communicator* comm = nullptr;
    shard_runner* runner = nullptr;
    kv_cache kv;
    step_batch batch;  // the current step, rebuilt each time
    std::string backend_name;
    bool loaded = false;  // every placement made (deferred loading: engine_load_finish)
};

// Runs the step's op sequence on one shard (engine.cpp). Returns false if the shard failed.
bool engine_shard_forward(engine* e, int rank, float* logits);
