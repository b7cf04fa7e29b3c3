/* ukr_generic.c - the inner loops in portable C: a "vector" is a struct of 8
 * floats handled by plain loops (which compilers may turn into SSE), gemm
 * tiles of 4 x 16. Multiply and add stay separate (no FMA assumed). */
#include "ukr.h"

#include <math.h>
#include <stdint.h>

#define TARGET
#define VW 8
#define UKR_MR 4
#define UKR_ISA CR_ISA_GENERIC
#define UKR_TABLE cr_ukr_generic

typedef struct { float f[VW]; } V;
typedef struct { bool b[VW]; } VM;

#define LANES for (int l_ = 0; l_ < VW; l_++)

static inline V v_set1(float f) { V r; LANES r.f[l_] = f; return r; }
static inline V v_zero(void) { return v_set1(0.0f); }
static inline V v_load(const float *p) { V r; LANES r.f[l_] = p[l_]; return r; }
static inline void v_store(float *p, V v) { LANES p[l_] = v.f[l_]; }
static inline V v_loadn(const float *p, int n) { V r; LANES r.f[l_] = l_ < n ? p[l_] : 0.0f; return r; }
static inline void v_storen(float *p, V v, int n) { for (int l_ = 0; l_ < n; l_++) p[l_] = v.f[l_]; }
static inline V v_fma(V a, V b, V c)
{
    V r;
    LANES {
        float t = a.f[l_] * b.f[l_];
        r.f[l_] = t + c.f[l_];
    }
    return r;
}
static inline V v_add(V a, V b) { V r; LANES r.f[l_] = a.f[l_] + b.f[l_]; return r; }
static inline V v_div(V a, V b) { V r; LANES r.f[l_] = a.f[l_] / b.f[l_]; return r; }
static inline V v_max(V a, V b) { V r; LANES r.f[l_] = a.f[l_] > b.f[l_] ? a.f[l_] : b.f[l_]; return r; }
static inline V v_min(V a, V b) { V r; LANES r.f[l_] = a.f[l_] < b.f[l_] ? a.f[l_] : b.f[l_]; return r; }
static inline VM m_none(void) { VM r; LANES r.b[l_] = false; return r; }
static inline VM m_eq(V a, V b) { VM r; LANES r.b[l_] = a.f[l_] == b.f[l_]; return r; }
static inline VM m_andnot(VM a, VM b) { VM r; LANES r.b[l_] = a.b[l_] && !b.b[l_]; return r; }
static inline VM m_or(VM a, VM b) { VM r; LANES r.b[l_] = a.b[l_] || b.b[l_]; return r; }
static inline V v_add_mask(V a, V b, VM m)
{
    V r;
    LANES r.f[l_] = m.b[l_] ? a.f[l_] + b.f[l_] : a.f[l_];
    return r;
}

#include "ukr_tmpl.h"
