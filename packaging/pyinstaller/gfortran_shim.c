/* The four libgfortran functions numpy's OpenBLAS (its LAPACK part) imports, in place of the 2.8 MB gfortran
 * runtime and 0.3 MB libquadmath, for the edge-asr bundles. Same names, same symbol version (GFORTRAN_8), same
 * results as libgfortran: tests/test_packaging_tools.py compares them with the real runtime bit for bit.
 * Built by packaging/pyinstaller/stubs.py with the original's soname. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

/* x**n for an integer n, by repeated squaring, as libgfortran's pow_r?_i8. */
float _gfortran_pow_r4_i8(float x, int64_t n) {
    float pow = 1, base = x;
    uint64_t u;
    if (n == 0) return 1;
    if (n < 0) {
        u = -(uint64_t)n;
        base = 1 / base;
    } else {
        u = (uint64_t)n;
    }
    for (;;) {
        if (u & 1) pow *= base;
        u >>= 1;
        if (!u) break;
        base *= base;
    }
    return pow;
}

double _gfortran_pow_r8_i8(double x, int64_t n) {
    double pow = 1, base = x;
    uint64_t u;
    if (n == 0) return 1;
    if (n < 0) {
        u = -(uint64_t)n;
        base = 1 / base;
    } else {
        u = (uint64_t)n;
    }
    for (;;) {
        if (u & 1) pow *= base;
        u >>= 1;
        if (!u) break;
        base *= base;
    }
    return pow;
}

/* dest = s1 // s2, truncated to destlen and padded with blanks (Fortran strings). */
void _gfortran_concat_string(size_t destlen, char *dest, size_t len1, const char *s1, size_t len2,
                             const char *s2) {
    if (len1 >= destlen) {
        memcpy(dest, s1, destlen);
        return;
    }
    memcpy(dest, s1, len1);
    dest += len1;
    destlen -= len1;
    if (len2 >= destlen) {
        memcpy(dest, s2, destlen);
        return;
    }
    memcpy(dest, s2, len2);
    memset(dest + len2, ' ', destlen - len2);
}

/* ETIME(TARRAY): user and system CPU seconds into TARRAY(1:2), their sum returned. TARRAY arrives as a gfortran
 * array descriptor, whose first member is the data pointer and whose first dimension's stride (in elements)
 * follows the offset, span and dtype fields; LAPACK's SECOND() passes a contiguous REAL TARRAY(2). */
typedef struct {
    float *base_addr;
    size_t offset;
    struct { size_t elem_len; int version; signed char rank, type; short attribute; } dtype;
    ptrdiff_t span;
    struct { ptrdiff_t stride, lbound, ubound; } dim[1];
} gfc_array_r4;

float _gfortran_etime(gfc_array_r4 *t) {
    struct rusage r;
    float user = -1, sys = -1;
    if (getrusage(RUSAGE_SELF, &r) == 0) {
        user = (float)r.ru_utime.tv_sec + (float)r.ru_utime.tv_usec / 1e6f;
        sys = (float)r.ru_stime.tv_sec + (float)r.ru_stime.tv_usec / 1e6f;
    }
    if (t && t->base_addr) {
        ptrdiff_t stride = t->dim[0].stride ? t->dim[0].stride : 1;
        t->base_addr[0] = user;
        t->base_addr[stride] = sys;
    }
    return user < 0 ? -1 : user + sys;
}
