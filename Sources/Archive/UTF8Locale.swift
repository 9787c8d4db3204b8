#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libarchive converts member names through the thread's locale when it writes and reads headers. In
/// the C locale a name such as `données.txt` cannot be converted, and libarchive's pax writer then
/// reads a null name (a crash in `strlen`). Header calls run under C.UTF-8 for the calling thread only,
/// so the result does not depend on the process locale and nothing global changes.
enum UTF8Locale {
    nonisolated(unsafe) static let handle: locale_t? = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil)

    /// Runs `body` with the calling thread's locale set to C.UTF-8, then restores it.
    static func with<T>(_ body: () throws -> T) rethrows -> T {
        guard let handle else { return try body() }
        let previous = uselocale(handle)
        defer { uselocale(previous) }
        return try body()
    }
}
