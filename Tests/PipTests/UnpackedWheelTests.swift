import AsyncHTTPClient
import Foundation
@testable import Pip
import Testing
import TestSupport

/// The warm install path: wheels unpacked once into the cache and hard-linked (or copied) from there.
@Suite(.serialized) struct UnpackedWheelTests {
    let cache: TemporaryDirectory
    let index: PipIndex

    init() throws {
        cache = try TemporaryDirectory("pip-unpacked-cache")
        index = try PipIndex(directories: [try syntheticWheels() + "/good"])
    }

    func install(into directory: String) async throws -> [InstalledWheel] {
        let file = try RequirementsFile(text: "--index-url \(index.url())\ntool[fancy]\nalpha==1.0\n", directory: cache.path)
        let target = PythonTarget(python: try PythonVersion("3.11.4"), glibc: (2, 28), machine: "x86_64")
        let job = PipJob(file: file, target: target, installed: [:], cacheDirectory: cache.url, http: HTTPClient.shared, netrcPath: nil)
        var scheme = InstallScheme(sitePackages: directory, scripts: directory + "/bin", headers: directory + "/include", data: directory, python: "/usr/bin/python3")
        scheme.pythonVersion = target.python
        return try await job.install(try await job.resolve(), installer: WheelInstaller(scheme: scheme, epoch: Date(timeIntervalSince1970: 0)))
    }

    func links(_ path: String) -> Int {
        var info = stat()
        return lstat(path, &info) == 0 ? Int(info.st_nlink) : 0
    }

    @Test func aSecondInstallLinksFromTheCacheAndGivesTheSameTree() async throws {
        let first = try TemporaryDirectory("unpacked-a"), second = try TemporaryDirectory("unpacked-b")
        _ = try await install(into: first.file("site"))
        _ = try await install(into: second.file("site"))
        #expect(try installedTree(first.file("site")) == installedTree(second.file("site")))
        // Each package file is one inode shared by the cache and both installs; generated files are not.
        #expect(links(second.file("site/tool/cli.py")) == 3 && links(second.file("site/alpha/__init__.py")) == 3)
        #expect(links(second.file("site/tool-1.0.dist-info/RECORD")) == 1 && links(second.file("site/bin/tool")) == 1)
        let record = try String(contentsOfFile: second.file("site/tool-1.0.dist-info/RECORD"), encoding: .utf8)
        #expect(record == (try String(contentsOfFile: first.file("site/tool-1.0.dist-info/RECORD"), encoding: .utf8)))
        // A cached file that went missing is inflated from the wheel again.
        let unpacked = cache.path + "/pip/unpacked"
        for key in try FileManager.default.contentsOfDirectory(atPath: unpacked) {
            try? FileManager.default.removeItem(atPath: "\(unpacked)/\(key)/files/tool/cli.py")
        }
        let third = try TemporaryDirectory("unpacked-c")
        _ = try await install(into: third.file("site"))
        #expect(try installedTree(third.file("site")) == installedTree(first.file("site")))
        #expect(links(third.file("site/tool/cli.py")) == 1)
    }

    @Test func acrossFilesystemsTheCachedFileIsCopiedWithItsModeAndTime() throws {
        let source = try TemporaryDirectory("unpacked-source")
        try source.write("script.sh", "#!/bin/sh\necho hi\n", mode: 0o755)
        var times = [timespec(tv_sec: 0, tv_nsec: 0), timespec(tv_sec: 0, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, source.file("script.sh"), &times, 0)
        // /dev/shm is a tmpfs: a hard link to it from /tmp's filesystem fails, so the file is copied.
        let destination = "/dev/shm/kiln-unpacked-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(destination) }
        try UnpackedWheels.place(source.file("script.sh"), at: destination)
        var info = stat()
        #expect(lstat(destination, &info) == 0 && info.st_mode & 0o777 == 0o755 && info.st_mtim.tv_sec == 0)
        #expect(try String(contentsOfFile: destination, encoding: .utf8) == "#!/bin/sh\necho hi\n")
    }
}
