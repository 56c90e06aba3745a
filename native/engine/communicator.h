// How shards exchange partial results: one all-reduce after attention's output projection and
// one after the FFN (plus one after a vocabulary-split embedding). In-process shared memory
// between CPU shard threads now; a NCCL communicator over device buffers fills the same
// interface for GPU shards.
#pragma once
#include <cstddef>

class communicator {
   public:
    virtual ~communicator() = default;
    virtual int size() const = 0;
    // Called by every rank with its own buffer of n floats; each ends holding the element-wise
    // sum over ranks, added in rank order ((r0 + r1) + r2 …), so the result does not depend on
    // timing. false if the step was aborted (another rank failed): buf is then unspecified.
    virtual bool all_reduce_sum(int rank, float* buf, size_t n) = 0;
    // Before a step, on one thread: room for all-reduces of up to max_floats (no allocation
    // happens while ranks run).
    virtual void prepare(size_t max_floats) = 0;
    // A rank that cannot go on (out of memory) calls this so the others stop waiting for it.
    virtual void abort() = 0;
    virtual void reset() = 0;  // between steps: clears an abort
};

// Ranks are threads of this process sharing memory.
communicator* communicator_local_create(int n_ranks);
