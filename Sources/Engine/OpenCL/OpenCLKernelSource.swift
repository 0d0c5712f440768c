/// The OpenCL C program of the backend's own kernels (everything but the matrix products,
/// which CLBlast does). Compiled once per device per process (`OpenCLDeviceContext`).
/// Every kernel takes its element counts as ints and guards its global id, so any global
/// size works; offsets are in elements.
enum OpenCLKernelSource {
    static let program = #"""
#if defined(cl_khr_fp64)
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double acc_t;
#else
typedef float acc_t;
#endif

// kind: 0 relu, 1 leaky relu, 2 sigmoid, 3 tanh, 4 gelu (erf), 5 gelu (tanh), 6 silu
inline float activate(int kind, float slope, float v) {
    switch (kind) {
    case 0: return v > 0.0f ? v : (isnan(v) ? v : 0.0f);
    case 1: return v > 0.0f ? v : v * slope;
    case 2: return 1.0f / (1.0f + exp(-v));
    case 3: return tanh(v);
    case 4: return 0.5f * v * (1.0f + erf(v * 0.70710678118654752440f));
    case 5: return 0.5f * v * (1.0f + tanh(0.79788456080286535588f * (v + 0.044715f * v * v * v)));
    case 6: return v / (1.0f + exp(-v));
    }
    return v;
}

__kernel void activation(__global const float* x, __global float* y, int count, int kind, float slope) {
    int i = get_global_id(0);
    if (i >= count) return;
    y[i] = activate(kind, slope, x[i]);
}

// y[r, o] = bias[o] for r < rows
__kernel void fill_rows(__global float* y, __global const float* bias, int rows, int columns) {
    int i = get_global_id(0);
    if (i >= rows * columns) return;
    y[i] = bias[i % columns];
}

// y[i] = act(y[i] + bias[(i / inner) % channels]); kind < 0: no activation; bias optional (has_bias)
__kernel void bias_activation(__global float* y, __global const float* bias, int has_bias, int count, int channels, int inner,
                              int kind, float slope) {
    int i = get_global_id(0);
    if (i >= count) return;
    float v = y[i];
    if (has_bias) v += bias[(i / inner) % channels];
    if (kind >= 0) v = activate(kind, slope, v);
    y[i] = v;
}

// col[n - first][g][c·kh·kw + ki·kw + kj][oy·OW + ox] for samples first ..< first + batch and every group g
__kernel void im2col(__global const float* x, __global float* col, int first, int batch, int in_channels, int in_h, int in_w,
                     int out_h, int out_w, int k_h, int k_w, int s_h, int s_w, int p_h, int p_w, int d_h, int d_w, int groups) {
    int i = get_global_id(0);
    int group_channels = in_channels / groups;
    int depth = group_channels * k_h * k_w;
    int out_plane = out_h * out_w;
    int total = batch * groups * depth * out_plane;
    if (i >= total) return;
    int pos = i % out_plane;
    int row = (i / out_plane) % depth;
    int ng = i / (out_plane * depth); // n * groups + g
    int g = ng % groups;
    int n = first + ng / groups;
    int c = row / (k_h * k_w);
    int ki = (row / k_w) % k_h;
    int kj = row % k_w;
    int oy = pos / out_w, ox = pos % out_w;
    int iy = oy * s_h - p_h + ki * d_h;
    int ix = ox * s_w - p_w + kj * d_w;
    float v = 0.0f;
    if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w)
        v = x[((n * in_channels + g * group_channels + c) * in_h + iy) * in_w + ix];
    col[i] = v;
}

__kernel void max_pool(__global const float* x, __global float* y, int planes, int in_h, int in_w, int out_h, int out_w,
                       int k_h, int k_w, int s_h, int s_w, int p_h, int p_w, int d_h, int d_w) {
    int i = get_global_id(0);
    if (i >= planes * out_h * out_w) return;
    int ox = i % out_w, oy = (i / out_w) % out_h, plane = i / (out_w * out_h);
    __global const float* input = x + plane * in_h * in_w;
    float best = -INFINITY;
    for (int ki = 0; ki < k_h; ki++) {
        int iy = oy * s_h - p_h + ki * d_h;
        if (iy < 0 || iy >= in_h) continue;
        for (int kj = 0; kj < k_w; kj++) {
            int ix = ox * s_w - p_w + kj * d_w;
            if (ix < 0 || ix >= in_w) continue;
            float v = input[iy * in_w + ix];
            if (v > best || isnan(v)) best = v;
        }
    }
    y[i] = best;
}

__kernel void avg_pool(__global const float* x, __global float* y, int planes, int in_h, int in_w, int out_h, int out_w,
                       int k_h, int k_w, int s_h, int s_w, int p_h, int p_w, int count_include_pad) {
    int i = get_global_id(0);
    if (i >= planes * out_h * out_w) return;
    int ox = i % out_w, oy = (i / out_w) % out_h, plane = i / (out_w * out_h);
    __global const float* input = x + plane * in_h * in_w;
    int top = oy * s_h - p_h;
    int bottom = min(top + k_h, in_h + p_h);
    int left = ox * s_w - p_w;
    int right = min(left + k_w, in_w + p_w);
    int pool_size = (bottom - top) * (right - left);
    top = max(top, 0); bottom = min(bottom, in_h);
    left = max(left, 0); right = min(right, in_w);
    float sum = 0.0f;
    for (int iy = top; iy < bottom; iy++)
        for (int ix = left; ix < right; ix++) sum += input[iy * in_w + ix];
    int divisor = count_include_pad ? pool_size : (bottom - top) * (right - left);
    y[i] = divisor > 0 ? sum / (float)divisor : 0.0f;
}

__kernel void adaptive_avg_pool(__global const float* x, __global float* y, int planes, int in_h, int in_w, int out_h, int out_w) {
    int i = get_global_id(0);
    if (i >= planes * out_h * out_w) return;
    int ox = i % out_w, oy = (i / out_w) % out_h, plane = i / (out_w * out_h);
    __global const float* input = x + plane * in_h * in_w;
    int top = oy * in_h / out_h, bottom = ((oy + 1) * in_h + out_h - 1) / out_h;
    int left = ox * in_w / out_w, right = ((ox + 1) * in_w + out_w - 1) / out_w;
    float sum = 0.0f;
    for (int iy = top; iy < bottom; iy++)
        for (int ix = left; ix < right; ix++) sum += input[iy * in_w + ix];
    y[i] = sum / (float)((bottom - top) * (right - left));
}

__kernel void channel_affine(__global const float* x, __global const float* scale, __global const float* shift, __global float* y,
                             int count, int channels, int inner) {
    int i = get_global_id(0);
    if (i >= count) return;
    int c = (i / inner) % channels;
    y[i] = x[i] * scale[c] + shift[c];
}

// One work item per row; mean and biased variance accumulated in double where the device has it.
__kernel void layer_norm(__global const float* x, __global const float* weight, __global const float* bias, __global float* y,
                         int rows, int columns, float eps, int has_weight, int has_bias) {
    int r = get_global_id(0);
    if (r >= rows) return;
    __global const float* row = x + r * columns;
    __global float* out = y + r * columns;
    acc_t sum = 0;
    for (int c = 0; c < columns; c++) sum += (acc_t)row[c];
    acc_t mean = sum / (acc_t)columns;
    acc_t squares = 0;
    for (int c = 0; c < columns; c++) { acc_t d = (acc_t)row[c] - mean; squares += d * d; }
    float inverse = (float)(1 / sqrt(squares / (acc_t)columns + (acc_t)eps));
    float m = (float)mean;
    for (int c = 0; c < columns; c++) {
        float v = (row[c] - m) * inverse;
        if (has_weight) v *= weight[c];
        if (has_bias) v += bias[c];
        out[c] = v;
    }
}

__kernel void softmax(__global const float* x, __global float* y, int outer, int axis, int inner) {
    int i = get_global_id(0);
    if (i >= outer * inner) return;
    int o = i / inner, j = i % inner;
    int base = o * axis * inner + j;
    float largest = -INFINITY;
    for (int a = 0; a < axis; a++) largest = fmax(largest, x[base + a * inner]);
    float total = 0.0f;
    for (int a = 0; a < axis; a++) { float e = exp(x[base + a * inner] - largest); y[base + a * inner] = e; total += e; }
    float scale = 1.0f / total;
    for (int a = 0; a < axis; a++) y[base + a * inner] *= scale;
}

// One part of a concatenation: y[o·block + offset + i] = x[o·inner + i]
__kernel void concat_part(__global const float* x, __global float* y, int outer, int inner, int block, int offset) {
    int i = get_global_id(0);
    if (i >= outer * inner) return;
    int o = i / inner, j = i % inner;
    y[o * block + offset + j] = x[i];
}

// z[n, i·I + j] = x[n, i] x[n, j]
__kernel void outer_products(__global const float* x, __global float* z, int rows, int features) {
    int k = get_global_id(0);
    int square = features * features;
    if (k >= rows * square) return;
    int n = k / square, ij = k % square;
    z[k] = x[n * features + ij / features] * x[n * features + ij % features];
}

// The leading length/2 DFT coefficients of each row as [real | imaginary], summed directly
// with exact twiddle indices (k·t mod L), in double where the device has it.
__kernel void fourier_half(__global const float* x, __global float* y, int rows, int length) {
    int count_half = length / 2;
    int i = get_global_id(0);
    if (i >= rows * count_half) return;
    int r = i / count_half, k = i % count_half;
    __global const float* row = x + r * length;
    acc_t re = 0, im = 0;
    int index = 0;
    for (int t = 0; t < length; t++) {
        acc_t angle = (acc_t)(2 * index) / (acc_t)length;
        acc_t v = (acc_t)row[t];
        re += v * cospi(angle);
        im -= v * sinpi(angle);
        index += k;
        if (index >= length) index -= length;
    }
    y[r * 2 * count_half + k] = (float)re;
    y[r * 2 * count_half + count_half + k] = (float)im;
}

// Squared Frobenius norm of one matrix, one work item (the bench keeps norms on the device).
__kernel void frobenius(__global const float* x, __global float* out, int count, int slot) {
    if (get_global_id(0) != 0) return;
    acc_t s = 0;
    for (int i = 0; i < count; i++) { acc_t v = (acc_t)x[i]; s += v * v; }
    out[slot] = (float)sqrt(s);
}
"""#
}
