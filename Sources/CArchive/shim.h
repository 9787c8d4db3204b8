#include <archive.h>
#include <archive_entry.h>

// The AE_IF* macros use casts that Swift cannot import; these constants carry the same values.
static const unsigned int KILN_AE_IFREG = 0100000;
static const unsigned int KILN_AE_IFDIR = 0040000;
static const unsigned int KILN_AE_IFLNK = 0120000;

// archive_set_error is variadic, which Swift cannot call: this passes one message through "%s".
static inline void kiln_archive_set_error(struct archive *archive, const char *message) {
    archive_set_error(archive, -1, "%s", message);
}
