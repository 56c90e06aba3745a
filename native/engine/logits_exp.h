// The exp of the engine's logits numerics (logits_sample.cpp, where it is defined and why):
// the same bits on every CPU and in WASM, so the draw and the logprobs the node reports do not
// depend on where the engine runs.
#pragma once
#include <cstdint>

// exp(x[i]) in place for x[i] ≤ 0 (−∞ included), i < n; within 1.2 ulp of exp.
void logits_exp_in_place(double* x, int32_t n);
