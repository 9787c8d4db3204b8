#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <linux/falloc.h>
#endif

// The AE_IF* macros use casts that Swift cannot import; these constants carry the same values.
static const unsigned int KILN_AE_IFREG = 0100000;
static const unsigned int KILN_AE_IFDIR = 0040000;
static const unsigned int KILN_AE_IFLNK = 0120000;

// archive_set_error is variadic, which Swift cannot call: this passes one message through "%s".
static inline void kiln_archive_set_error(struct archive *archive, const char *message) {
    archive_set_error(archive, -1, "%s", message);
}

// fallocate(2) with FALLOC_FL_KEEP_SIZE: reserves disk blocks for a file without changing its size. Swift's
// Glibc module hides fallocate (it needs _GNU_SOURCE), so this goes through syscall(2). -1 and errno
// (EOPNOTSUPP on a file system without it, or off Linux) when nothing was reserved.
static inline int kiln_reserve(int fd, long long length) {
#if defined(__linux__) && defined(SYS_fallocate)
    return (int)syscall(SYS_fallocate, fd, FALLOC_FL_KEEP_SIZE, (long long)0, length);
#else
    (void)fd; (void)length;
    errno = EOPNOTSUPP;
    return -1;
#endif
}

// The statfs(2) magic number of the file system `fd` is on (0xEF53 for ext4), or 0 when unknown. Swift's Glibc
// module does not export sys/vfs.h.
static inline long long kiln_file_system_type(int fd) {
#if defined(__linux__)
    struct statfs info;
    return fstatfs(fd, &info) == 0 ? (long long)info.f_type : 0;
#else
    (void)fd;
    return 0;
#endif
}

// copy_file_range(2) from `in` to `out` at their file offsets: in the kernel, as a clone of the extents where the file
// system shares them (XFS, Btrfs) and server-side on NFS. Swift's Glibc module hides it (it needs _GNU_SOURCE), so
// this goes through syscall(2). -1 and errno ENOSYS off Linux.
static inline long long kiln_copy_range(int in, int out, long long length) {
#if defined(__linux__) && defined(SYS_copy_file_range)
    return (long long)syscall(SYS_copy_file_range, in, (void *)0, out, (void *)0, (size_t)length, 0u);
#else
    (void)in; (void)out; (void)length;
    errno = ENOSYS;
    return -1;
#endif
}
