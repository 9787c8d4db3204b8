@testable import Archive
import CArchive
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Disk reserved ahead of a layer blob (`FileSink.reserve`) and the block buffers a gzip layer reuses
/// (`BufferPool`): neither may change a byte that is written.
@Suite struct FileSinkTests {
    /// Bytes of disk the file at `path` takes (st_blocks counts 512-byte units).
    static func allocated(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_blocks) * 512 : -1
    }

    static func size(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : -1
    }

    /// The file keeps its true size while it is written, and what was reserved but not written is given back.
    @Test func aReservationLargerThanTheFileIsGivenBack() throws {
        let directory = try TemporaryDirectory("file-sink")
        let path = directory.file("blob")
        let sink = try FileSink(path: path)
        sink.reserve(64 << 20)
        let piece = [UInt8](repeating: 0x5a, count: 300_000)
        try piece.withUnsafeBytes { try sink.write($0) }
        #expect(Self.size(path) == 300_000, "the reservation does not change the file's size")
        try sink.finish()
        #expect(Self.size(path) == 300_000)
        #expect(Self.allocated(path) < 1 << 20, "the 64 MiB reserved and not written are freed: \(Self.allocated(path)) bytes")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(piece))
    }

    /// The reservation is made on ext4 and XFS only: tmpfs would allocate and zero the pages at once, only to have
    /// the writes fill them again. Checked in the temporary directory (whatever it is on) and in /dev/shm (tmpfs).
    @Test func onlyExt4AndXFSReserve() throws {
        let scratch = try TemporaryDirectory("file-sink")
        let shm = FileManager.default.fileExists(atPath: "/dev/shm") ? try TemporaryDirectory("file-sink", in: "/dev/shm") : nil
        for directory in [scratch] + (shm.map { [$0] } ?? []) {
            let path = directory.file("blob")
            let sink = try FileSink(path: path)
            let fd = open(path, O_RDONLY)
            let kind = kiln_file_system_type(fd)
            close(fd)
            sink.reserve(64 << 20)
            let reserves = FileSink.reservingFileSystems.contains(kind)
            #expect(reserves ? Self.allocated(path) >= 64 << 20 : Self.allocated(path) == 0,
                    "\(directory.path) (file system 0x\(String(kind, radix: 16))): \(Self.allocated(path)) bytes allocated")
            try sink.finish()
            if directory.path.hasPrefix("/dev/shm") { #expect(!reserves, "tmpfs") }
        }
    }

    /// A sink dropped on an error, without `finish`, gives the reservation back too.
    @Test func aDroppedSinkGivesItsReservationBack() throws {
        let directory = try TemporaryDirectory("file-sink")
        let path = directory.file("partial")
        do {
            let sink = try FileSink(path: path)
            sink.reserve(64 << 20)
            try [UInt8](repeating: 1, count: 8192).withUnsafeBytes { try sink.write($0) }
        }
        #expect(Self.size(path) == 8192)
        #expect(Self.allocated(path) < 1 << 20, "\(Self.allocated(path)) bytes still allocated")
    }

    /// A guess too low only means the rest is written as without one.
    @Test func writingPastTheReservationKeepsEveryByte() throws {
        let directory = try TemporaryDirectory("file-sink")
        let path = directory.file("blob")
        let sink = try FileSink(path: path)
        sink.reserve(4096)
        let bytes = GzipSinkTests.random(3 << 20, seed: 11)
        for start in stride(from: 0, to: bytes.count, by: 1 << 20) {
            try bytes[start..<min(start + (1 << 20), bytes.count)].withUnsafeBytes { try sink.write($0) }
        }
        try sink.finish()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes))
    }

    /// A layer blob takes about its own size on disk, not the size guessed for it when it compresses well.
    @Test func aLayerThatCompressesKeepsNoReservedTail() throws {
        let directory = try TemporaryDirectory("file-sink")
        let input = directory.file("text.txt")
        try Data(GzipSinkTests.text(8 << 20)).write(to: URL(fileURLWithPath: input))
        let entry = LayerEntry(path: "data/text.txt", kind: .file(source: SourcePath(input), size: 8 << 20), mode: 0o644)
        let blob = try LayerWriter.write(entries: [entry], compression: .gzip, mtime: 0, to: directory.file("layer.tar.gz"))
        #expect(blob.size < 1 << 20)
        #expect(Self.allocated(blob.path) < blob.size + (1 << 20), "\(Self.allocated(blob.path)) bytes on disk for \(blob.size)")
        let listing = try run("/bin/sh", ["-c", "gzip -dc \"$1\" | tar -tvf -", "sh", blob.path])
        #expect(listing.status == 0 && listing.stdout.contains("data/text.txt"), "\(listing.stderr)")
    }

    /// The pool hands storage back out only when nothing else holds it: an array still shared keeps its bytes.
    @Test func aRecycledArrayThatIsStillSharedKeepsItsBytes() {
        let pool = BufferPool(capacity: 1 << 16, keep: 2)
        var first = pool.take()
        #expect(first.isEmpty && first.capacity >= 1 << 16)
        first.append(contentsOf: [1, 2, 3])
        let other = first
        pool.recycle(&first)
        #expect(first.isEmpty)
        #expect(other == [1, 2, 3], "a recycled array another value shares is not cleared under it")
        var reused = pool.take()
        #expect(reused.isEmpty && reused.capacity >= 1 << 16)
        reused.append(9)
        #expect(other == [1, 2, 3])
        var small: [UInt8] = [7]
        pool.recycle(&small)
        #expect(small == [7], "an array too small for the pool is left alone")
    }
}

/// `DeferredMembers.take(under:)`: what lies under a root, by bytes, in layer order, taken out once.
@Suite struct DeferredMembersTests {
    @Test func takeMatchesWholeComponentsByBytes() {
        let deferred = DeferredMembers()
        for path in ["/w/layer-a/z.py", "/w/layer-a/données/é.txt", "/w/layer-ab/x.py", "/w/layer-a/b/c.py", "/w/other/y.py"] {
            deferred.add(path, source: .bytes(Data(path.utf8)), mode: 0o644)
        }
        let taken = deferred.take(under: "/w/layer-a")
        #expect(taken.map(\.path) == ["b/c.py", "données/é.txt", "z.py"], "layer-ab is another root; UTF-8 byte order")
        #expect(deferred.take(under: "/w/layer-a/").isEmpty, "taken once")
        #expect(deferred.take(under: "/w/").map(\.path) == ["layer-ab/x.py", "other/y.py"])
        #expect(DeferredMembers.hasBytePrefix("é", Array("é".utf8)) && !DeferredMembers.hasBytePrefix("e", Array("é".utf8)))
    }
}
