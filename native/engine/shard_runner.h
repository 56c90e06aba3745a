// One host thread per shard, for the life of the engine: a step runs the same op sequence on
// every shard at once (each shard's backend has its own compute threads under it).
#pragma once
#include <functional>

struct shard_runner;

// The most shards this build runs: 1 where the platform has no threads (WASM).
int shard_runner_max_shards();
shard_runner* shard_runner_init(int n_shards);  // the caller runs shard 0; n − 1 threads are started
void shard_runner_free(shard_runner* r);
// Runs fn(rank) for every rank concurrently and returns when all have returned.
void shard_runner_run(shard_runner* r, const std::function<void(int rank)>& fn);
