import Archive
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes installed files: always a new file (a file or symlink already there is replaced, never written
/// through), the mode exactly as asked whatever the umask, the mtime `epoch`, and the RECORD hash of what
/// was written.
struct MemberWriter {
    var epoch: Date?

    struct Written {
        var path: String
        /// RECORD's form: urlsafe base64 of the sha256, without padding.
        var sha256: String
        var size: Int

        /// `data` as written at `path`.
        init(path: String, data: Data) {
            self.init(path: path, sha256: WheelInstaller.recordHash(SHA256.hash(data: data)), size: data.count)
        }

        init(path: String, sha256: String, size: Int) {
            self.path = path
            self.sha256 = sha256
            self.size = size
        }
    }

    func extract(_ entry: ZipEntry, from zip: ZipDirectory, to path: String, mode: Int) async throws -> Written {
        let descriptor = try create(path, mode: mode)
        var hasher = SHA256()
        var size = 0
        do {
            try await zip.stream(entry) { bytes in
                hasher.update(bufferPointer: bytes)
                size += bytes.count
                try Self.writeAll(descriptor, bytes, path)
            }
            try finish(descriptor, path, mode: mode)
        } catch {
            close(descriptor)
            throw error
        }
        return Written(path: path, sha256: WheelInstaller.recordHash(hasher.finalize()), size: size)
    }

    func write(_ data: Data, to path: String, mode: Int) throws -> Written {
        let descriptor = try create(path, mode: mode)
        do {
            try data.withUnsafeBytes { try Self.writeAll(descriptor, $0, path) }
            try finish(descriptor, path, mode: mode)
        } catch {
            close(descriptor)
            throw error
        }
        return Written(path: path, data: data)
    }

    /// A new file (replacing whatever was there: a file or a symlink is never written through).
    func create(_ path: String, mode: Int) throws -> Int32 {
        let descriptor = FileSink.createReplacing(path, mode: mode_t(mode))
        guard descriptor >= 0 else { throw PipError.install("cannot write \(path): \(String(cString: strerror(errno)))") }
        return descriptor
    }

    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, _ path: String) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let wrote = Foundation.write(descriptor, base + done, bytes.count - done)
            guard wrote > 0 else { throw PipError.install("cannot write \(path): \(String(cString: strerror(errno)))") }
            done += wrote
        }
    }

    /// Mode exactly as asked (whatever the umask), mtime the epoch, then close.
    func finish(_ descriptor: Int32, _ path: String, mode: Int) throws {
        var ok = fchmod(descriptor, mode_t(mode)) == 0
        if let epoch {
            let seconds = Int(epoch.timeIntervalSince1970)
            var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
            ok = ok && futimens(descriptor, &times) == 0
        }
        ok = close(descriptor) == 0 && ok
        guard ok else { throw PipError.install("cannot finish \(path): \(String(cString: strerror(errno)))") }
    }
}
