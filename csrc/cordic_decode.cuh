// The seed's CORDIC weight generator (seed 002, Packed64::compute_weight), one element, and its closed form.
// Written once as host-and-device functions: NVRTC/nvcc compile them for the GPU, g++ compiles the same text for
// the CPU twin (MP_HD is empty outside CUDA), so both run the same float32 arithmetic (no fused multiply-add:
// NVRTC gets --fmad=false, g++ -ffp-contract=off).
#pragma once

#ifdef __CUDACC__
#define MP_HD __host__ __device__
#else
#define MP_HD
#include <math.h>   // atan2f, cosf, sinf, tanhf, sqrtf, ldexpf (CUDA has them built in)
#endif

typedef unsigned long long mp_u64;

// atan2 of pixel (i, j) on the seed's grid: x = j/(cols-1)*2-1, y = i/(rows-1)*2-1.
MP_HD inline float mp_pixel_angle(int i, int j, int rows, int cols) {
    const float xn = (float)j / (float)(cols - 1) * 2.0f - 1.0f;
    const float yn = (float)i / (float)(rows - 1) * 2.0f - 1.0f;
    return atan2f(yn, xn);
}

// The seed's loop, literally: r, theta from hi[63:44], hi[43:20]; 20 micro-rotations chosen by bits 0..19;
// a tanh squash of the radius every 4th step; x divided by the CORDIC gain.
MP_HD inline float mp_cordic_weight(mp_u64 hi, int i, int j, int rows, int cols) {
    const float r = (float)((hi >> 44) & 0xFFFFFULL) / (float)((1ULL << 20) - 1);
    const float theta = (float)((hi >> 20) & 0xFFFFFFULL) / (float)((1ULL << 24) - 1) * 2.0f * 3.14159265358979323846f;
    const float a = mp_pixel_angle(i, j, rows, cols) + theta;
    float x = r * cosf(a);
    float y = r * sinf(a);
    for (int k = 0; k < 20; ++k) {
        const float s = ((hi >> k) & 1ULL) ? 1.0f : -1.0f;
        const float p2 = ldexpf(1.0f, -k);
        const float xn2 = x - s * y * p2;
        const float yn2 = y + s * x * p2;
        x = xn2; y = yn2;
        if (k % 4 == 0) {
            const float rr = sqrtf(x * x + y * y);
            if (rr > 1e-9f) { const float t = tanhf(rr); x *= t; y *= t; }
        }
    }
    return x / 1.64676f;
}

// The same weight from its closed form A(r) * cos(pixel angle + psi), psi = theta + sum_k sigma_k atan(2^-k);
// amp and psi are per-seed scalars computed once on the host (mathphys_nb.codec.kernels.seed_amp_phase).
MP_HD inline float mp_closed_weight(float amp, float psi, int i, int j, int rows, int cols) {
    return amp * cosf(mp_pixel_angle(i, j, rows, cols) + psi);
}

// The one loop over out[n_blocks, rows, cols]: elements start, start + stride, ... get weight(block, i, j).
// The kernels call it grid-stride (start = global thread index, stride = threads in the grid); the CPU twin
// with start 0, stride 1. (block, i, j) advance by carries, so the loop itself divides nothing.
template <class Weight>
MP_HD inline void mp_decode_strided(float* out, int n_blocks, int rows, int cols, long long start, long long stride,
                                    Weight weight) {
    const long long per = (long long)rows * cols;
    const long long total = per * n_blocks;
    if (start >= total) return;
    long long b = start / per;
    const int e = (int)(start - b * per);
    int i = e / cols, j = e - i * cols;
    const long long db = stride / per;
    const int de = (int)(stride - db * per);
    const int di = de / cols, dj = de - di * cols;
    for (long long idx = start; idx < total; idx += stride) {
        out[idx] = weight(b, i, j);
        j += dj; i += di; b += db;
        if (j >= cols) { j -= cols; ++i; }
        if (i >= rows) { i -= rows; ++b; }
    }
}
