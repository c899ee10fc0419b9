/* The BLAS numpy's core calls, as plain loops: what the bundle ships instead of numpy's
 * OpenBLAS (25 MB; with libgfortran and libquadmath 28 MB). numpy's wheel links its
 * _multiarray_umath against scipy-openblas's ILP64 CBLAS (64-bit sizes, names
 * scipy_cblas_<routine>64_) for dot, vdot, matmul, inner and axpy-style updates; the app's
 * arrays are small (audio levels, frame planes), so loops do. Same semantics as CBLAS:
 * row- or column-major, (conjugate) transposes, negative increments, beta == 0 overwrites.
 * packaging/stubs.py compiles this into the stand-in library; tests/app/test_app_packaging.py
 * checks every routine against the real OpenBLAS. */
#include <complex.h>
#include <stdint.h>

typedef int64_t blasint;
enum { ROW_MAJOR = 101, NO_TRANS = 111, CONJ_TRANS = 113, UPPER = 121 };

#define NAME(routine) scipy_cblas_##routine##64_
/* Element i of a vector of n with stride inc (BLAS: a negative stride walks it backwards). */
#define AT(x, i, n, inc) ((x)[(inc) >= 0 ? (i) * (inc) : ((n) - 1 - (i)) * -(inc)])
/* Element (i, j) of a matrix stored with leading dimension ld in the given order. */
#define EL(a, order, i, j, ld) ((a)[(order) == ROW_MAJOR ? (i) * (ld) + (j) : (j) * (ld) + (i)])
/* Element (i, k) of op(A), where op is no transpose, transpose or conjugate transpose. */
#define OP(a, order, trans, i, k, ld, CONJ) \
    ((trans) == NO_TRANS ? EL(a, order, i, k, ld) \
     : (trans) == CONJ_TRANS ? CONJ(EL(a, order, k, i, ld)) : EL(a, order, k, i, ld))

#define REAL(x) (x)

#define LEVEL1(T, p, CONJ)                                                                      \
    static T p##dot_(blasint n, const T *x, blasint incx, const T *y, blasint incy, int conjugate) { \
        T sum = 0;                                                                              \
        for (blasint i = 0; i < n; i++)                                                         \
            sum += (conjugate ? CONJ(AT(x, i, n, incx)) : AT(x, i, n, incx)) * AT(y, i, n, incy);    \
        return sum;                                                                             \
    }                                                                                           \
    static void p##axpy_(blasint n, T alpha, const T *x, blasint incx, T *y, blasint incy) {    \
        for (blasint i = 0; i < n; i++) AT(y, i, n, incy) += alpha * AT(x, i, n, incx);         \
    }

#define LEVEL23(T, p, CONJ)                                                                     \
    static void p##gemv_(int order, int trans, blasint m, blasint n, T alpha, const T *a,       \
                         blasint lda, const T *x, blasint incx, T beta, T *y, blasint incy) {   \
        blasint rows = trans == NO_TRANS ? m : n, cols = trans == NO_TRANS ? n : m;             \
        for (blasint i = 0; i < rows; i++) {                                                    \
            T sum = 0;                                                                          \
            for (blasint j = 0; j < cols; j++)                                                  \
                sum += OP(a, order, trans, i, j, lda, CONJ) * AT(x, j, cols, incx);             \
            T *out = &AT(y, i, rows, incy);                                                     \
            *out = alpha * sum + (beta == 0 ? 0 : beta * *out);                                 \
        }                                                                                       \
    }                                                                                           \
    static void p##gemm_(int order, int ta, int tb, blasint m, blasint n, blasint k, T alpha,   \
                         const T *a, blasint lda, const T *b, blasint ldb, T beta, T *c,        \
                         blasint ldc) {                                                         \
        for (blasint i = 0; i < m; i++)                                                         \
            for (blasint j = 0; j < n; j++) {                                                   \
                T sum = 0;                                                                      \
                for (blasint l = 0; l < k; l++)                                                 \
                    sum += OP(a, order, ta, i, l, lda, CONJ) * OP(b, order, tb, l, j, ldb, CONJ); \
                T *out = &EL(c, order, i, j, ldc);                                              \
                *out = alpha * sum + (beta == 0 ? 0 : beta * *out);                             \
            }                                                                                   \
    }                                                                                           \
    /* C = alpha op(A) op(A)^T + beta C on the uplo triangle only (no conjugation: syrk). */   \
    static void p##syrk_(int order, int uplo, int trans, blasint n, blasint k, T alpha,         \
                         const T *a, blasint lda, T beta, T *c, blasint ldc) {                  \
        for (blasint i = 0; i < n; i++)                                                         \
            for (blasint j = uplo == UPPER ? i : 0; j < (uplo == UPPER ? n : i + 1); j++) {     \
                T sum = 0;                                                                      \
                for (blasint l = 0; l < k; l++)                                                 \
                    sum += OP(a, order, trans, i, l, lda, REAL) * OP(a, order, trans, j, l, lda, REAL); \
                T *out = &EL(c, order, i, j, ldc);                                              \
                *out = alpha * sum + (beta == 0 ? 0 : beta * *out);                             \
            }                                                                                   \
    }

LEVEL1(float, s, REAL)
LEVEL1(double, d, REAL)
LEVEL1(float complex, c, conjf)
LEVEL1(double complex, z, conj)
LEVEL23(float, s, REAL)
LEVEL23(double, d, REAL)
LEVEL23(float complex, c, conjf)
LEVEL23(double complex, z, conj)

/* The exported CBLAS signatures: reals by value, complex scalars through pointers. */
#define REAL_API(T, p)                                                                          \
    T NAME(p##dot)(blasint n, const T *x, blasint incx, const T *y, blasint incy) {             \
        return p##dot_(n, x, incx, y, incy, 0);                                                 \
    }                                                                                           \
    void NAME(p##axpy)(blasint n, T alpha, const T *x, blasint incx, T *y, blasint incy) {      \
        p##axpy_(n, alpha, x, incx, y, incy);                                                   \
    }                                                                                           \
    void NAME(p##gemv)(int order, int trans, blasint m, blasint n, T alpha, const T *a,         \
                       blasint lda, const T *x, blasint incx, T beta, T *y, blasint incy) {     \
        p##gemv_(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);                    \
    }                                                                                           \
    void NAME(p##gemm)(int order, int ta, int tb, blasint m, blasint n, blasint k, T alpha,     \
                       const T *a, blasint lda, const T *b, blasint ldb, T beta, T *c,          \
                       blasint ldc) {                                                           \
        p##gemm_(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);                  \
    }                                                                                           \
    void NAME(p##syrk)(int order, int uplo, int trans, blasint n, blasint k, T alpha,           \
                       const T *a, blasint lda, T beta, T *c, blasint ldc) {                    \
        p##syrk_(order, uplo, trans, n, k, alpha, a, lda, beta, c, ldc);                        \
    }

#define COMPLEX_API(T, p)                                                                       \
    void NAME(p##dotu_sub)(blasint n, const void *x, blasint incx, const void *y, blasint incy, \
                           void *out) {                                                         \
        *(T *)out = p##dot_(n, x, incx, y, incy, 0);                                            \
    }                                                                                           \
    void NAME(p##dotc_sub)(blasint n, const void *x, blasint incx, const void *y, blasint incy, \
                           void *out) {                                                         \
        *(T *)out = p##dot_(n, x, incx, y, incy, 1);                                            \
    }                                                                                           \
    void NAME(p##axpy)(blasint n, const void *alpha, const void *x, blasint incx, void *y,      \
                       blasint incy) {                                                          \
        p##axpy_(n, *(const T *)alpha, x, incx, y, incy);                                       \
    }                                                                                           \
    void NAME(p##gemv)(int order, int trans, blasint m, blasint n, const void *alpha,           \
                       const void *a, blasint lda, const void *x, blasint incx,                 \
                       const void *beta, void *y, blasint incy) {                               \
        p##gemv_(order, trans, m, n, *(const T *)alpha, a, lda, x, incx, *(const T *)beta, y,   \
                 incy);                                                                         \
    }                                                                                           \
    void NAME(p##gemm)(int order, int ta, int tb, blasint m, blasint n, blasint k,              \
                       const void *alpha, const void *a, blasint lda, const void *b,            \
                       blasint ldb, const void *beta, void *c, blasint ldc) {                   \
        p##gemm_(order, ta, tb, m, n, k, *(const T *)alpha, a, lda, b, ldb, *(const T *)beta,   \
                 c, ldc);                                                                       \
    }                                                                                           \
    void NAME(p##syrk)(int order, int uplo, int trans, blasint n, blasint k, const void *alpha, \
                       const void *a, blasint lda, const void *beta, void *c, blasint ldc) {    \
        p##syrk_(order, uplo, trans, n, k, *(const T *)alpha, a, lda, *(const T *)beta, c,      \
                 ldc);                                                                          \
    }

REAL_API(float, s)
REAL_API(double, d)
COMPLEX_API(float complex, c)
COMPLEX_API(double complex, z)
