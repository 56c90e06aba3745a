// shard_runner.h where there are no threads: one shard, run by the caller.
#include "shard_runner.h"

struct shard_runner {};

int shard_runner_max_shards() { return 1; }
shard_runner* shard_runner_init(int) { return new shard_runner(); }
void shard_runner_free(shard_runner* r) { delete r; }
void shard_runner_run(shard_runner*, const std::function<void(int rank)>& fn) { fn(0); }
