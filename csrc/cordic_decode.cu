// Kernels: decode n_blocks seeds into n_blocks blocks of rows x cols weights in one launch (grid-stride loop).
// Compiles on its own: `nvcc -ptx csrc/cordic_decode.cu`, or NVRTC with --include-path=csrc
// (mathphys_nb.codec.kernels.compile_nvrtc).
#include "cordic_decode.cuh"

__device__ inline long long mp_thread_index() { return (long long)blockIdx.x * blockDim.x + threadIdx.x; }
__device__ inline long long mp_grid_threads() { return (long long)gridDim.x * blockDim.x; }

// The seed's 20-step loop per element: seeds[n_blocks] -> out[n_blocks, rows, cols].
extern "C" __global__ void cordic_decode_blocks(const mp_u64* __restrict__ seeds, float* __restrict__ out,
                                                int n_blocks, int rows, int cols) {
    mp_decode_strided(out, n_blocks, rows, cols, mp_thread_index(), mp_grid_threads(),
                      [=](long long b, int i, int j) { return mp_cordic_weight(seeds[b], i, j, rows, cols); });
}

// Closed form per element: amp_psi[2*b], amp_psi[2*b+1] = (A, psi) of block b -> out[n_blocks, rows, cols].
extern "C" __global__ void cordic_decode_blocks_closed(const float* __restrict__ amp_psi, float* __restrict__ out,
                                                       int n_blocks, int rows, int cols) {
    mp_decode_strided(out, n_blocks, rows, cols, mp_thread_index(), mp_grid_threads(),
                      [=](long long b, int i, int j) { return mp_closed_weight(amp_psi[2 * b], amp_psi[2 * b + 1], i, j, rows, cols); });
}
