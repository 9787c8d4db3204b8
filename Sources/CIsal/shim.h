#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

/// Whether ISA-L's deflate takes one of its crc32-hashing paths on this CPU (x86-64 with SSE4.2). Without
/// SSE4.2 it falls back to C code that hashes differently, so its output bytes differ.
static inline int kiln_isal_deflate_crc_hash(void) {
#if defined(__x86_64__)
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return (c & bit_SSE4_2) != 0;
#else
    return 0;
#endif
}

