// CPU twin of the CUDA kernels: the same element functions and the same loop over elements, compiled by g++
// (-O2, no fast-math, no FMA contraction). Compiles on its own: `g++ -shared -fPIC csrc/cordic_cpu.cpp`.
#include "cordic_decode.cuh"

extern "C" void cordic_decode_blocks_cpu(const mp_u64* seeds, float* out, int n_blocks, int rows, int cols) {
    mp_decode_strided(out, n_blocks, rows, cols, 0, 1,
                      [=](long long b, int i, int j) { return mp_cordic_weight(seeds[b], i, j, rows, cols); });
}

extern "C" void cordic_decode_blocks_closed_cpu(const float* amp_psi, float* out, int n_blocks, int rows, int cols) {
    mp_decode_strided(out, n_blocks, rows, cols, 0, 1,
                      [=](long long b, int i, int j) { return mp_closed_weight(amp_psi[2 * b], amp_psi[2 * b + 1], i, j, rows, cols); });
}

// Fast path: w[b, e] = a_b * C[e] + b_b * S[e] with per-block coefficients ab[2*b], ab[2*b+1] and the tables
// C = cos(pixel angle), S = sin(pixel angle) shared by every block (per = rows * cols). One thread; the inner
// loop is vectorized through `omp simd` (built with -fopenmp-simd; -O2 alone leaves it scalar, 4x slower).
extern "C" void cordic_decode_blocks_ab_cpu(const float* __restrict__ ab, const float* __restrict__ C,
                                            const float* __restrict__ S, float* __restrict__ out, int n_blocks, int per) {
    for (int b = 0; b < n_blocks; ++b) {
        const float a = ab[2 * b], c = ab[2 * b + 1];
        float* __restrict__ o = out + (long long)b * per;
#pragma omp simd
        for (int e = 0; e < per; ++e) o[e] = a * C[e] + c * S[e];
    }
}
