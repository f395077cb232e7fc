// Kernel: decode n_blocks seeds into n_blocks blocks of rows x cols weights in one launch.
// Compiled by NVRTC after cordic_decode.cuh (mathphys_nb.kernels.cuda_source joins them).
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
