import Archive
import OCI
import Crypto
import Plan
import Foundation

/// Where a wheel's parts go (absolute paths on the build machine), and the interpreter its scripts name.
public struct InstallScheme: Sendable {
    /// site-packages: purelib and platlib are the same directory in a conda environment.
    public var sitePackages: String
    public var scripts: String
    /// Headers go to `<headers>/<distribution name>`.
    public var headers: String
    public var data: String
    /// The interpreter as the image will see it, for shebangs (`/opt/env/bin/python`).
    public var python: String
    /// Its version, for the versioned scripts pip's own wheel gets (`pip3.11`); nil writes none.
    public var pythonVersion: PythonVersion?

    public init(sitePackages: String, scripts: String, headers: String, data: String, python: String) {
        self.sitePackages = sitePackages
        self.scripts = scripts
        self.headers = headers
        self.data = data
        self.python = python
    }

    /// A conda environment at `root` (on disk) that the image has at `prefix`.
    public static func environment(root: String, prefix: String, target: PythonTarget) -> InstallScheme {
        var scheme = InstallScheme(sitePackages: root + "/" + target.sitePackages, scripts: root + "/bin",
                                   headers: root + "/include/python\(target.major).\(target.minor)", data: root, python: prefix + "/bin/python")
        scheme.pythonVersion = target.python
        return scheme
    }
}

/// What installing one wheel wrote.
public struct InstalledWheel: Sendable {
    public var name: String
    public var version: PythonVersion
    /// `<name>-<version>.dist-info`, relative to site-packages.
    public var distInfo: String
    /// Every file and symlink written, absolute.
    public var files: [String]
    /// `License-Expression`, else `License`, of its METADATA (`CoreMetadata.declaredLicence`).
    public var licence: String?
}

/// Installs wheels as PEP 427 and the binary distribution format spec say, following pypa/installer and
/// uv (members under `__pycache__/` that a wheel ships are kept, as uv keeps them): files stream out of the zip, hashed as they are written; `.data` directories go to their schemes;
/// entry points become scripts; `INSTALLER`, `REQUESTED` and a sorted `RECORD` are written. Output
/// depends only on the wheel and the scheme (modes from the zip, mtimes set to `epoch`).
public struct WheelInstaller: Sendable {
    public var scheme: InstallScheme
    public var installer: String
    public var epoch: Date?
    /// Where wheels are unpacked once and linked from (nil: every install inflates). Used when files may
    /// carry mtime 0, the cached files' (`epoch` nil or 0).
    public var unpacked: UnpackedWheels?
    /// When set, the install is for a layer: members with a RECORD hash are not written but left in
    /// `deferred`, to be read from the wheel when the layer is written (scripts, `.dist-info` and the
    /// files Kiln generates are still written).
    public var deferred: DeferredMembers?

    public init(scheme: InstallScheme, installer: String = "kiln", epoch: Date? = nil) {
        self.scheme = scheme
        self.installer = installer
        self.epoch = epoch
    }

    typealias Written = MemberWriter.Written

    public func install(wheel path: String, fileName: String, requested: Bool) async throws -> InstalledWheel {
        try await install(wheel: path, directory: try await ZipDirectory(try FileByteSource(path: path), label: fileName),
                          fileName: fileName, requested: requested)
    }

    /// `install`, with the wheel's zip directory already read.
    public func install(wheel path: String, directory zip: ZipDirectory, fileName: String, requested: Bool) async throws -> InstalledWheel {
        guard let wheelName = WheelName(fileName) else { throw PipError.install("\(fileName) is not a wheel file name") }
        func fail(_ why: String) -> PipError { .install("\(fileName): \(why)") }
        let key = normalizeName(wheelName.name)
        let distInfos = Set(zip.entries.compactMap { entry -> String? in
            guard entry.name.hasSuffix("/WHEEL") else { return nil }
            let parts = entry.name.split(separator: "/")
            guard parts.count == 2, parts[0].hasSuffix(".dist-info"), parts[1] == "WHEEL" else { return nil }
            return String(parts[0])
        })
        guard let distInfo = distInfos.first(where: { normalizeName(String($0.dropLast(10).split(separator: "-")[0])) == key }) ?? (distInfos.count == 1 ? distInfos.first : nil) else {
            throw fail("no \(wheelName.name)-\(wheelName.version).dist-info/WHEEL in the archive")
        }
        guard let wheelEntry = zip.entries.first(where: { $0.name == distInfo + "/WHEEL" }) else { throw fail("no WHEEL file") }
        let info = CoreMetadata.wheelInfo(try await zip.contents(wheelEntry))
        guard let wheelVersion = info["wheel-version"], wheelVersion.split(separator: ".").first == "1" else {
            throw fail("Wheel-Version \(info["wheel-version"] ?? "(missing)") is not 1.x")
        }
        let dataDirectory = String(distInfo.dropLast(10)) + ".data"
        var cached: UnpackedWheels.Entry?
        var recorded: [String: RecordLine] = [:]
        let absolutePath = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        if deferred != nil, let record = zip.entries.first(where: { $0.name == distInfo + "/RECORD" }) {
            recorded = Self.recordLines(try await zip.contents(record))
        }
        if let unpacked, deferred == nil, (epoch?.timeIntervalSince1970 ?? 0) == 0 {
            cached = try await unpacked.entry(for: zip, key: try Self.contentKey(path), fileName: fileName)
        }
        var written: [Written] = []
        var scriptNames = Set<String>()
        var made = Set<String>()
        for entry in zip.entries {
            let name = entry.name
            // The first component alone decides most members; only the .data directory's are split further.
            let top = name.firstIndex(of: "/").map { name[..<$0] } ?? name[...]
            if entry.isDirectory {
                // Kept, as uv keeps them (an empty `<pkg>.libs/` in some wheels); never recorded.
                guard top != dataDirectory else { continue }
                let directory = try Self.contained(String(name.dropLast()), in: scheme.sitePackages, member: name, wheel: fileName)
                if let deferred {
                    deferred.add(directory, source: .directory, mode: 0o755)
                } else {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                }
                continue
            }
            if name == distInfo + "/RECORD" { continue }
            var destinationRoot = scheme.sitePackages
            var relative = name
            var isScript = false
            if top == dataDirectory {
                let components = name.split(separator: "/", omittingEmptySubsequences: false)
                guard components.count >= 3 else { throw fail("\(name) is not inside a scheme directory") }
                relative = components.dropFirst(2).joined(separator: "/")
                switch components[1] {
                case "purelib", "platlib": destinationRoot = scheme.sitePackages
                case "scripts": destinationRoot = scheme.scripts; isScript = true
                case "headers": destinationRoot = scheme.headers + "/" + wheelName.name
                case "data": destinationRoot = scheme.data
                default: throw fail("\(name) is in an unknown scheme '\(components[1])'")
                }
            }
            let destination = try Self.contained(relative, in: destinationRoot, member: name, wheel: fileName)
            let executable = (entry.unixMode ?? 0) & 0o111 != 0
            // A deferred member needs no directory on disk: the layer adds its parents.
            if let deferred, !isScript, let line = recorded[name],
               let digest = line.sha256, line.size == nil || line.size == entry.size {
                deferred.add(destination, source: .archive(ArchiveMember(archive: absolutePath, name: "\(fileName): \(name)", localHeaderOffset: entry.localHeaderOffset,
                                                                method: entry.method, compressedSize: entry.compressedSize, size: entry.size,
                                                                crc32: entry.crc32, sha256: digest.hexString)),
                             mode: executable ? 0o755 : 0o644)
                written.append(Written(path: destination, sha256: Self.recordHash(digest), size: Int(entry.size)))
                continue
            }
            if isScript {
                scriptNames.insert(relative)
                var content = try await zip.contents(entry)
                if content.starts(with: Data("#!python".utf8)) {
                    let rest = content.firstIndex(of: 0x0A).map { content[content.index(after: $0)...] } ?? Data()
                    content = Data((Self.shebang(scheme.python) + "\n").utf8) + rest
                }
                written.append(try emit(content, to: destination, mode: 0o755, made: &made))
                continue
            }
            deferred?.forget(destination)
            let parent = MemberPath.parent(of: destination)
            if made.insert(parent).inserted { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
            if let cached, let member = cached.members[name], (try? UnpackedWheels.place(cached.path(of: name), at: destination)) != nil {
                written.append(Written(path: destination, sha256: member.hash, size: member.size))
            } else {
                written.append(try await extract(entry, from: zip, to: destination, mode: executable ? 0o755 : 0o644))
            }
        }
        // Entry points (a script the wheel ships under the same name wins, as in uv).
        if let entry = zip.entries.first(where: { $0.name == distInfo + "/entry_points.txt" }) {
            let points = Self.versioned(try Self.entryPoints(try await zip.contents(entry), wheel: fileName), python: scheme.pythonVersion)
            for point in points where !scriptNames.contains(point.name) {
                let destination = try Self.contained(point.name, in: scheme.scripts, member: "entry point \(point.name)", wheel: fileName)
                written.append(try emit(Data(Self.script(point, python: scheme.python).utf8), to: destination, mode: 0o755, made: &made))
            }
        }
        let distInfoPath = scheme.sitePackages + "/" + distInfo
        written.append(try emit(Data((installer + "\n").utf8), to: distInfoPath + "/INSTALLER", mode: 0o644, made: &made))
        if requested { written.append(try emit(Data(), to: distInfoPath + "/REQUESTED", mode: 0o644, made: &made)) }
        var lines = written.map { file in
            "\(Self.csv(Self.relative(file.path, to: scheme.sitePackages))),sha256=\(file.sha256),\(file.size)"
        }
        lines.append("\(Self.csv(distInfo + "/RECORD")),,")
        lines.sort()
        _ = try emit(Data((lines.joined(separator: "\n") + "\n").utf8), to: distInfoPath + "/RECORD", mode: 0o644, made: &made)
        var result = InstalledWheel(name: wheelName.name, version: wheelName.version, distInfo: distInfo,
                                    files: written.map(\.path) + [distInfoPath + "/RECORD"])
        // From the wheel, not the tree: a deferred METADATA is never on disk, and a big package's is moved into
        // its own layer before the SBOM is written.
        if let metadata = zip.entries.first(where: { $0.name == distInfo + "/METADATA" }) {
            result.licence = CoreMetadata.declaredLicence(try await zip.contents(metadata))
        }
        return result
    }

    /// Where a wheel's members and entry points would land, as scheme-qualified relative paths, without
    /// writing anything; two wheels that share one must be installed in order.
    public static func destinations(in zip: ZipDirectory, fileName: String) async throws -> Set<String> {
        var result = Set<String>()
        for entry in zip.entries where !entry.isDirectory {
            let parts = entry.name.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count >= 3, parts[0].hasSuffix(".data") {
                let scheme = parts[1] == "platlib" ? "purelib" : String(parts[1])
                result.insert(scheme + ":" + parts.dropFirst(2).joined(separator: "/"))
            } else {
                result.insert("purelib:" + entry.name)
            }
            if parts.count == 2, parts[0].hasSuffix(".dist-info"), parts[1] == "entry_points.txt" {
                for point in try entryPoints(try await zip.contents(entry), wheel: fileName) { result.insert("scripts:" + point.name) }
            }
        }
        return result
    }

    /// `root/relative`, refusing absolute paths, `..` and anything else that would leave `root`.
    static func contained(_ relative: String, in root: String, member: String, wheel: String) throws -> String {
        if MemberPath.isPlain(relative), !relative.utf8.contains(UInt8(ascii: "\\")) { return root + "/" + relative }
        let parts = relative.split(separator: "/", omittingEmptySubsequences: true)
        guard !relative.hasPrefix("/"), !relative.contains("\\"), !relative.contains("\0"), !parts.isEmpty,
              !parts.contains(where: { $0 == ".." || $0 == "." }) else {
            throw PipError.install("\(wheel): member '\(member)' would be written outside its directory; refusing the wheel")
        }
        return root + "/" + parts.joined(separator: "/")
    }

    /// The wheel's sha256: its name in the wheel cache (`<sha256>.whl`), else read from its bytes.
    static func contentKey(_ path: String) throws -> String {
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        if base.count == 64, base.allSatisfy(\.isHexDigit) { return base.lowercased() }
        return try IndexClient.sha256File(path)
    }

    func extract(_ entry: ZipEntry, from zip: ZipDirectory, to path: String, mode: Int) async throws -> Written {
        try await MemberWriter(epoch: epoch).extract(entry, from: zip, to: path, mode: mode)
    }

    func write(_ data: Data, to path: String, mode: Int) throws -> Written {
        try MemberWriter(epoch: epoch).write(data, to: path, mode: mode)
    }

    /// A file the installer generates (RECORD, INSTALLER, REQUESTED, a script): held in memory for the layer
    /// when installing for layers, else written, its directory made once (`made`).
    func emit(_ data: Data, to path: String, mode: Int, made: inout Set<String>) throws -> Written {
        if let deferred {
            deferred.add(path, source: .bytes(data), mode: UInt32(mode))
            return Written(path: path, data: data)
        }
        let parent = MemberPath.parent(of: path)
        if made.insert(parent).inserted { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        return try write(data, to: path, mode: mode)
    }

    /// A path relative to `base` (`../../../bin/x` for files outside it).
    static func relative(_ path: String, to base: String) -> String {
        if path.hasPrefix(base), path.utf8.count > base.utf8.count, path.utf8.dropFirst(base.utf8.count).first == UInt8(ascii: "/") {
            return String(path.utf8.dropFirst(base.utf8.count + 1)) ?? path
        }
        let from = base.split(separator: "/"), to = path.split(separator: "/")
        var common = 0
        while common < from.count, common < to.count, from[common] == to[common] { common += 1 }
        return (Array(repeating: "..", count: from.count - common) + to[common...].map(String.init)).joined(separator: "/")
    }

    /// `#!<python>`, or the `/bin/sh` trampoline when the path is too long for the kernel or has a space.
    static func shebang(_ python: String) -> String {
        if python.utf8.count + 2 > 127 || python.contains(" ") {
            return "#!/bin/sh\n'''exec' '\(python)' \"$0\" \"$@\"\n' '''"
        }
        return "#!" + python
    }

    struct EntryPoint {
        var name: String
        var module: String
        var attributes: String
        var gui: Bool
    }

    /// `[console_scripts]` and `[gui_scripts]` of an `entry_points.txt`.
    static func entryPoints(_ data: Data, wheel: String) throws -> [EntryPoint] {
        var section = ""
        var result: [EntryPoint] = []
        for raw in String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") { section = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")); continue }
            guard section == "console_scripts" || section == "gui_scripts", let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if let bracket = value.firstIndex(of: "[") { value = value[..<bracket].trimmingCharacters(in: .whitespaces) }
            let parts = value.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let identifier: (String) -> Bool = { !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." } }
            guard parts.count == 2, identifier(parts[0]), identifier(parts[1]), !name.contains("/"), !name.isEmpty else {
                throw PipError.install("\(wheel): entry point '\(line)' is not `name = module:attribute`")
            }
            if ["python", "pythonw", "python3"].contains(name) || name.hasPrefix("python3.") {
                throw PipError.install("\(wheel): the entry point '\(name)' would replace the environment's python")
            }
            result.append(EntryPoint(name: name, module: parts[0], attributes: parts[1], gui: section == "gui_scripts"))
        }
        return result
    }

    /// pip's rule, which uv follows: `pip` also gets `pipX` and `pipX.Y`, `easy_install` gets
    /// `easy_install-X.Y`, for the target's python, in place of any versioned names the wheel lists.
    static func versioned(_ points: [EntryPoint], python: PythonVersion?) -> [EntryPoint] {
        guard let python, python.release.count >= 2 else { return points }
        let (major, minor) = (python.release[0], python.release[1])
        func isVersioned(_ name: String, _ base: String, _ separator: String) -> Bool {
            guard name.hasPrefix(base + separator) else { return false }
            let rest = name.dropFirst(base.count + separator.count)
            return !rest.isEmpty && rest.allSatisfy { $0.isNumber || $0 == "." }
        }
        var result: [EntryPoint] = []
        for point in points {
            if point.name == "pip" {
                result += ["pip", "pip\(major)", "pip\(major).\(minor)"].map { EntryPoint(name: $0, module: point.module, attributes: point.attributes, gui: point.gui) }
            } else if point.name == "easy_install" {
                result += ["easy_install", "easy_install-\(major).\(minor)"].map { EntryPoint(name: $0, module: point.module, attributes: point.attributes, gui: point.gui) }
            } else if points.contains(where: { $0.name == "pip" }) && isVersioned(point.name, "pip", "") {
                continue
            } else if points.contains(where: { $0.name == "easy_install" }) && isVersioned(point.name, "easy_install", "-") {
                continue
            } else {
                result.append(point)
            }
        }
        return result
    }

    /// The launcher uv writes (pip's and installer's do the same job).
    static func script(_ point: EntryPoint, python: String) -> String {
        let head = point.attributes.split(separator: ".")[0]
        return """
        \(shebang(python))
        # -*- coding: utf-8 -*-
        import sys
        from \(point.module) import \(head)
        if __name__ == "__main__":
            if sys.argv[0].endswith("-script.pyw"):
                sys.argv[0] = sys.argv[0][:-11]
            elif sys.argv[0].endswith(".exe"):
                sys.argv[0] = sys.argv[0][:-4]
            sys.exit(\(point.attributes)())

        """
    }
}
