import Foundation

/// A file written whole under its final name by rename, so a reader never sees half of one, even from a process
/// killed mid-write: cache records (validators, wheel metadata, an unpacked wheel's index) and files an installer
/// generates into a staging tree.
///
/// Unlike `Data.write(options: .atomic)` and `FileManager.createFile(atPath:contents:)`, nothing is fsynced: that
/// cost a journal commit per file (three per wheel on a cold pip install, one per prefix-replaced conda file). A
/// power cut may lose a cache record, and every reader takes an unreadable record as a miss; a staging tree is
/// made again by the next build.
public enum RenamedFile {
    /// `mode` exactly, whatever the umask.
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws {
        // Not FileManager.createFile, which writes atomically with an fsync too. A short name of its own beside the
        // file, not the file's name plus a suffix, which a 255-byte name would push past NAME_MAX.
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".kiln-\(String(UInt64.random(in: 0...UInt64.max), radix: 36)).part"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure(path) }
        var written = 0
        let complete = data.withUnsafeBytes { bytes -> Bool in
            guard let base = bytes.baseAddress else { return true }
            while written < bytes.count {
                let count = Foundation.write(descriptor, base + written, bytes.count - written)
                if count <= 0 { return false }
                written += count
            }
            return true
        }
        let moded = fchmod(descriptor, mode) == 0
        guard close(descriptor) == 0 && complete && moded, rename(temporary, path) == 0 else {
            let error = failure(path)
            unlink(temporary)
            throw error
        }
    }

    private static func failure(_ path: String) -> CocoaError {
        CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path,
                                                 NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
    }
}
