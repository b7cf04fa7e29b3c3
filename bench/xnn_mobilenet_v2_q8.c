/* xnn_mobilenet_v2_q8.c - the int8 peer of issue 12's race: MobileNetV2 1.0
 * 224 in XNNPACK's signed 8-bit operators (Debian 12 libxnnpack-dev, the
 * February 2022 snapshot): convolutions QC8 (per-channel int8 weights, as
 * crest quantizes), adds, global average pooling and the classifier QS8.
 * Random weights and input, NHWC, the layer shapes of Keras' MobileNetV2
 * (the same network as ../shared/peers/xnnpack_mobilenet_v2.c in fp32).
 * A benchmark peer only; never linked into crest.
 *
 *   cc -O2 -o xnn_q8 bench/xnn_mobilenet_v2_q8.c -lXNNPACK -lpthreadpool -lpthread -lm
 *   ./xnn_q8 THREADS BATCH ITERS      -> "median X ms/img" */
#define _POSIX_C_SOURCE 200809L
#include <pthreadpool.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xnnpack.h>

#define MAX_OPS 128

static xnn_operator_t ops[MAX_OPS];
static int n_ops;
static pthreadpool_t pool;
static unsigned seed = 12345;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static unsigned next(void) { return seed = seed * 1103515245u + 12345u; }

static void check(enum xnn_status s, const char *what)
{
    if (s != xnn_status_success) {
        fprintf(stderr, "xnn_q8: %s failed (status %d)\n", what, (int)s);
        exit(1);
    }
}

static void *zalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 127) / 64 * 64);
    if (!p) {
        fprintf(stderr, "xnn_q8: out of memory\n");
        exit(1);
    }
    memset(p, 0, (n + 127) / 64 * 64);
    return p;
}

static int8_t *random_i8(size_t n)
{
    int8_t *p = zalloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (int8_t)((int)(next() >> 16) % 255 - 127);
    return p;
}

static void add_op(xnn_operator_t op)
{
    if (n_ops == MAX_OPS) {
        fprintf(stderr, "xnn_q8: too many operators\n");
        exit(1);
    }
    ops[n_ops++] = op;
}

/* A KxK convolution (or depthwise) of x [B, H, H, cin] -> [B, Ho, Ho, cout];
 * clamp to [zero point, 127] for the ReLU6 layers (linear: the full range). */
static int8_t *conv(const int8_t *x, int B, int H, int cin, int cout, int k, int s, bool dw,
                    bool relu)
{
    int pad = k / 2, Ho = (H + 2 * pad - k) / s + 1;
    int first = k == 3 && s == 2 && cin == 3;   /* Keras' 'valid' after ZeroPadding ((0, 1), (0, 1)) */
    size_t groups = dw ? (size_t)cin : 1, gin = dw ? 1 : (size_t)cin, gout = dw ? 1 : (size_t)cout;
    size_t nw = (size_t)k * k * gin * gout * groups;
    float *scales = zalloc(sizeof(float) * (size_t)cout);
    int32_t *bias = zalloc(sizeof(int32_t) * (size_t)cout);
    for (int c = 0; c < cout; c++) {
        scales[c] = 0.002f + 0.001f * (float)(next() % 16);
        bias[c] = (int32_t)(next() % 2001) - 1000;
    }
    int8_t *y = zalloc((size_t)B * Ho * Ho * cout);
    xnn_operator_t op;
    check(xnn_create_convolution2d_nhwc_qc8(first ? 0 : pad, first ? 1 : pad, first ? 1 : pad,
                                            first ? 0 : pad, k, k, s, s, 1, 1, groups, gin,
                                            gout, groups * gin, groups * gout, -128, 0.02f,
                                            scales, random_i8(nw), bias, relu ? -128 : 0,
                                            relu ? 6.0f / 255 : 0.05f, relu ? -128 : -127, 127,
                                            dw ? XNN_FLAG_DEPTHWISE_CONVOLUTION : 0, &op),
          "convolution");
    check(xnn_setup_convolution2d_nhwc_qc8(op, B, H, H, x, y, pool), "convolution setup");
    add_op(op);
    return y;
}

static int8_t *add(const int8_t *a, const int8_t *b, int B, int H, int c)
{
    int8_t *y = zalloc((size_t)B * H * H * c);
    size_t shape[4] = { (size_t)B, (size_t)H, (size_t)H, (size_t)c };
    xnn_operator_t op;
    check(xnn_create_add_nd_qs8(0, 0.05f, 0, 0.05f, 0, 0.07f, -127, 127, 0, &op), "add");
    check(xnn_setup_add_nd_qs8(op, 4, shape, 4, shape, a, b, y, pool), "add setup");
    add_op(op);
    return y;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, B = argc > 2 ? atoi(argv[2]) : 1;
    int iters = argc > 3 ? atoi(argv[3]) : 50;
    if (threads < 1 || B < 1 || iters < 1) {
        fprintf(stderr, "usage: xnn_q8 THREADS BATCH ITERS\n");
        return 2;
    }
    check(xnn_initialize(NULL), "initialize");
    pool = pthreadpool_create((size_t)threads);
    /* expansion t, channels c, repeats n, first stride s: Keras' MobileNetV2 */
    static const int blocks[7][4] = { { 1, 16, 1, 1 }, { 6, 24, 2, 2 }, { 6, 32, 3, 2 },
                                      { 6, 64, 4, 2 }, { 6, 96, 3, 1 }, { 6, 160, 3, 2 },
                                      { 6, 320, 1, 1 } };
    int8_t *h = conv(random_i8((size_t)B * 224 * 224 * 3), B, 224, 3, 32, 3, 2, false, true);
    int H = 112, C = 32;
    for (int b = 0; b < 7; b++)
        for (int i = 0; i < blocks[b][2]; i++) {
            int t = blocks[b][0], c = blocks[b][1], s = i ? 1 : blocks[b][3];
            int8_t *e = t == 1 ? h : conv(h, B, H, C, C * t, 1, 1, false, true);
            int8_t *d = conv(e, B, H, C * t, C * t, 3, s, true, true);
            int8_t *p = conv(d, B, H / s, C * t, c, 1, 1, false, false);
            h = s == 1 && C == c ? add(h, p, B, H, c) : p;
            H /= s;
            C = c;
        }
    h = conv(h, B, H, C, 1280, 1, 1, false, true);
    int8_t *g = zalloc((size_t)B * 1280), *logits = zalloc((size_t)B * 1000);
    int32_t *fc_bias = zalloc(sizeof(int32_t) * 1000);
    xnn_operator_t op;
    check(xnn_create_global_average_pooling_nwc_qs8(1280, 1280, 1280, -128, 6.0f / 255, -128,
                                                    6.0f / 255, -128, 127, 0, &op),
          "global average pooling");
    check(xnn_setup_global_average_pooling_nwc_qs8(op, B, (size_t)H * H, h, g, pool),
          "global average pooling setup");
    add_op(op);
    check(xnn_create_fully_connected_nc_qs8(1280, 1000, 1280, 1000, -128, 6.0f / 255, 0.004f,
                                            random_i8(1280 * 1000), fc_bias, 0, 0.1f, -127, 127,
                                            0, &op),
          "fully connected");
    check(xnn_setup_fully_connected_nc_qs8(op, B, g, logits, pool), "fully connected setup");
    add_op(op);
    for (int w = 0; w < 3; w++)
        for (int i = 0; i < n_ops; i++)
            check(xnn_run_operator(ops[i], pool), "run");
    double *t = malloc(sizeof *t * (size_t)iters);
    if (!t)
        return 1;
    for (int it = 0; it < iters; it++) {
        double t0 = now();
        for (int i = 0; i < n_ops; i++)
            check(xnn_run_operator(ops[i], pool), "run");
        t[it] = now() - t0;
    }
    qsort(t, (size_t)iters, sizeof *t, cmp);
    printf("threads=%d batch=%d operators=%d\nmedian %.3f ms/img\n", threads, B, n_ops,
           t[iters / 2] * 1e3 / B);
    free(t);
    pthreadpool_destroy(pool);
    return 0;
}
