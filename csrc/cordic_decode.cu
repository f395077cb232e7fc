// Kernels: decode n_blocks seeds into n_blocks blocks of rows x cols weights in one launch (grid-stride loop).
// Compiled by NVRTC after cordic_decode.cuh (mathphys_nb.kernels.cuda_source joins them).

// The seed's 20-step loop per element: seeds[n_blocks] -> out[n_blocks, rows, cols].
extern "C" __global__ void cordic_decode_blocks(const mp_u64* __restrict__ seeds, float* __restrict__ out,
                                                int n_blocks, int rows, int cols) {
    const long long per = (long long)rows * cols;
    const long long total = per * n_blocks;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        const long long b = idx / per;
        const int e = (int)(idx - b * per);
        out[idx] = mp_cordic_weight(seeds[b], e / cols, e % cols, rows, cols);
    }
}

// Closed form per element: amp_psi[2*b], amp_psi[2*b+1] = (A, psi) of block b -> out[n_blocks, rows, cols].
extern "C" __global__ void cordic_decode_blocks_closed(const float* __restrict__ amp_psi, float* __restrict__ out,
                                                       int n_blocks, int rows, int cols) {
    const long long per = (long long)rows * cols;
    const long long total = per * n_blocks;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        const long long b = idx / per;
        const int e = (int)(idx - b * per);
        out[idx] = mp_closed_weight(amp_psi[2 * b], amp_psi[2 * b + 1], e / cols, e % cols, rows, cols);
    }
}
