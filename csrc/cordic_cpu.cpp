// CPU twin of the CUDA kernel: the same element function, compiled by g++ (no fast-math).
#include <cmath>
#define MP_HD
#include "cordic_decode.cuh"

extern "C" void cordic_decode_blocks_cpu(const mp_u64* seeds, float* out, int n_blocks, int rows, int cols) {
    const long long per = (long long)rows * cols;
    for (int b = 0; b < n_blocks; ++b)
        for (int i = 0; i < rows; ++i)
            for (int j = 0; j < cols; ++j)
                out[b * per + (long long)i * cols + j] = mp_cordic_weight(seeds[b], i, j, rows, cols);
}
