import Archive
import Foundation
import HTTP
import OCI

/// Links unpacked packages (`PackageFiles`) into a prefix directory the way conda and rattler do: files copied with
/// their modes, symlinks kept, prefix placeholders replaced (text: plain replacement and shebang
/// repair; binary: NUL-padded C strings of the same length), noarch python relocated with its entry
/// points, and `conda-meta/` records written so that `conda list` sees the environment.
///
/// `root` is where files are written; `prefix` is the path they will have in the image, and is what
/// goes into files. Packages are linked in the given (topological) order; a later package's file
/// replaces an earlier one's (conda's default `path_conflict: clobber`).
public struct Linker {
    public let prefix: String
    public let root: URL
    /// Seconds since the epoch for the history header (SOURCE_DATE_EPOCH).
    public var epoch: Int64 = 0
    /// Clobbered paths, for the caller to report: (path, earlier package, later package).
    public private(set) var clobbers: [(String, String, String)] = []
    /// Packages that ship a post-link script, which Kiln does not run (rattler does not by default either).
    public private(set) var linkScripts: [String] = []
    var owners: [String: String] = [:]
    /// When set, the install is for a layer: package files written unchanged are not copied into `root` but
    /// left in `deferred`, to be read from their pack in the package cache when the layer is written. Files with a prefix
    /// placeholder, symlinks, entry points, `conda-meta/` and python metadata (`.dist-info`, `.egg-info`,
    /// which pip reads to see what conda installed) are still written.
    public var deferred: DeferredMembers?

    public init(prefix: String, root: URL) {
        self.prefix = prefix
        self.root = root
    }

    public mutating func install(_ packages: [(record: PackageRecord, directory: URL)], requested: [MatchSpec], variables: [String: String] = [:]) throws {
        try FileManager.default.createDirectory(at: root.appendingPathComponent("conda-meta"), withIntermediateDirectories: true)
        let python = packages.first { $0.record.name == "python" }?.record
        for package in packages {
            try link(package.record, from: package.directory, python: python, requested: requested)
        }
        try writeHistory(packages.map(\.record), requested: requested)
        if !variables.isEmpty {
            let state = try CanonicalJSON.encode(["env_vars": variables])
            try state.write(to: root.appendingPathComponent("conda-meta/state"))
        }
    }

    /// `lib/pythonX.Y/site-packages` (or the record's CEP-17 `python_site_packages_path`) and `bin/pythonX.Y`.
    static func pythonLayout(_ python: PackageRecord) -> (sitePackages: String, interpreter: String) {
        let parts = python.version.description.split(separator: ".")
        let short = parts.prefix(2).joined(separator: ".")
        let site = python.raw["python_site_packages_path"]?.string ?? "lib/python\(short)/site-packages"
        return (site, "bin/python\(short)")
    }

    mutating func link(_ record: PackageRecord, from directory: URL, python: PackageRecord?, requested: [MatchSpec]) throws {
        let what = record.fileName
        let info = try PackageInfo.read(directory, what: what)
        let packed = try PackageFiles.open(directory, what: what)
        // The package's file tree, made on the first file an install into a directory hard-links.
        var tree: String?
        let noarchPython = (record.noarch ?? info.noarch) == "python"
        if info.paths.contains(where: { $0.path == "bin/.\(record.name)-post-link.sh" }) { linkScripts.append(record.distName) }
        if noarchPython, python == nil { throw CondaError.install("\(what) is noarch: python, but the environment has no python") }
        let layout = python.map(Self.pythonLayout)
        var pathsData: [JSONValue] = []
        var files: [String] = []
        for entry in info.paths {
            var target = entry.path
            if noarchPython, let layout {
                if target.hasPrefix("site-packages/") { target = layout.sitePackages + target.dropFirst("site-packages".count) }
                else if target.hasPrefix("python-scripts/") { target = "bin" + target.dropFirst("python-scripts".count) }
            }
            // A string, not `URL.appendingPathComponent`, which stats the path to see whether it is a directory.
            let destination = root.path + "/" + target
            if let owner = owners[target], entry.kind != .directory { clobbers.append((target, owner, record.distName)) }
            var item: [String: JSONValue] = ["_path": .string(target), "path_type": .string(entry.kind.rawValue)]
            if let sha256 = entry.sha256 { item["sha256"] = .string(sha256) }
            if entry.noLink { item["no_link"] = .bool(true) }
            if let deferred, entry.kind == .hardlink, entry.placeholder == nil, !Self.isPythonMetadata(target) {
                guard let member = packed.file(entry.path) else {
                    throw CondaError.install("\(what): \(entry.path) is listed in paths.json but missing from the archive")
                }
                deferred.add(destination, source: .range(packed.range(member, path: entry.path)), mode: member.mode)
                item["size_in_bytes"] = .int(member.size)
                owners[target] = record.distName
                files.append(target)
                pathsData.append(.object(item))
                continue
            }
            deferred?.forget(destination)
            try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            switch entry.kind {
            case .directory:
                try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
            case .softlink:
                guard let member = packed.member(entry.path), member.kind == .symlink else {
                    throw CondaError.install("\(what): \(entry.path) is listed as a softlink but is not one")
                }
                try? FileManager.default.removeItem(atPath: destination)
                try FileManager.default.createSymbolicLink(atPath: destination, withDestinationPath: member.link)
            case .hardlink:
                guard let member = packed.file(entry.path) else {
                    throw CondaError.install("\(what): \(entry.path) is listed in paths.json but missing from the archive")
                }
                guard let placeholder = entry.placeholder else {
                    if deferred != nil {
                        // A build's staged tree is read into layers and removed: the few files it writes (python
                        // metadata pip reads) are copied. Making the package's tree to link them wrote every file
                        // of python's package, 498, for its handful of metadata files.
                        try packed.copy(member, path: entry.path, to: destination)
                    } else {
                        let files = try tree ?? packed.tree()
                        tree = files
                        try packed.link(member, path: entry.path, to: destination, tree: files)
                    }
                    item["size_in_bytes"] = .int(member.size)
                    break
                }
                let original = try packed.data(member, path: entry.path)
                let data = entry.binary ? try Self.replaceBinary(original, placeholder, prefix, what: "\(what): \(entry.path)")
                                        : Self.replaceText(original, placeholder, prefix)
                item["prefix_placeholder"] = .string(placeholder)
                item["file_mode"] = .string(entry.binary ? "binary" : "text")
                let after = Digest.sha256(of: data).encoded
                if after != entry.sha256 { item["sha256_in_prefix"] = .string(after) }
                item["size_in_bytes"] = .int(Int64(data.count))
                do {
                    try RenamedFile.write(data, to: destination, mode: mode_t(member.mode))
                } catch {
                    throw CondaError.install("cannot write \(destination)")
                }
            }
            owners[target] = record.distName
            files.append(target)
            pathsData.append(.object(item))
        }
        if noarchPython, let layout {
            for text in info.entryPoints {
                let (path, data) = try Self.entryPoint(text, prefix: prefix, interpreter: layout.interpreter, what: what)
                let destination = root.appendingPathComponent(path)
                deferred?.forget(destination.path)
                try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
                do {
                    try RenamedFile.write(data, to: destination.path, mode: 0o775)
                } catch {
                    throw CondaError.install("cannot write \(destination.path)")
                }
                owners[path] = record.distName
                files.append(path)
                pathsData.append(.object(["_path": .string(path), "path_type": .string("unix_python_entry_point"),
                                          "sha256": .string(Digest.sha256(of: data).encoded), "size_in_bytes": .int(Int64(data.count))]))
            }
        }
        var meta = record.raw
        meta["fn"] = .string(record.fileName)
        meta["url"] = .string(record.url)
        meta["channel"] = .string(record.channel)
        meta["requested_specs"] = .array(requested.filter { $0.name == record.name }.map { .string($0.source) })
        meta["files"] = .array(files.sorted().map(JSONValue.string))
        meta["paths_data"] = .object(["paths_version": .int(1), "paths": .array(pathsData)])
        meta["link"] = .object(["source": .string(""), "type": .int(1)])
        meta.removeValue(forKey: "indexed_timestamp")
        try CanonicalJSON.encode(meta).write(to: root.appendingPathComponent("conda-meta/\(record.distName).json"))
    }

    /// Python packaging metadata, which pip reads from the tree to see what conda installed.
    static func isPythonMetadata(_ path: String) -> Bool {
        path.contains(".dist-info/") || path.contains(".egg-info")
    }

    /// Plain replacement everywhere; a `#!` first line is then repaired if too long for Linux (127
    /// bytes) or if the prefix has a space (rattler `copy_and_replace_textual_placeholder`).
    static func replaceText(_ data: Data, _ placeholder: String, _ prefix: String) -> Data {
        var result = replaceAll(data, Data(placeholder.utf8), Data(prefix.utf8))
        guard result.starts(with: Data("#!".utf8)) else { return result }
        let end = result.firstIndex(of: UInt8(ascii: "\n")) ?? result.endIndex
        let line = String(decoding: result[result.startIndex..<end], as: UTF8.self)
        guard line.utf8.count > 127 || prefix.contains(" ") else { return result }
        let command = line.dropFirst(2).trimmingCharacters(in: .whitespaces)
        let executable = command.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        let options = command.dropFirst(executable.count)
        let fixed = "#!/usr/bin/env " + (executable as NSString).lastPathComponent + options
        result.replaceSubrange(result.startIndex..<end, with: Data(fixed.utf8))
        return result
    }

    /// Same-length C-string patching: each string holding the placeholder has every occurrence
    /// replaced and is padded with NULs back to its length (rattler `copy_and_replace_cstring_placeholder`).
    static func replaceBinary(_ data: Data, _ placeholder: String, _ prefix: String, what: String) throws -> Data {
        let old = Data(placeholder.utf8), new = Data(prefix.utf8)
        guard new.count <= old.count else {
            throw CondaError.install("\(what) has a binary prefix placeholder of \(old.count) bytes; the prefix \(prefix) (\(new.count) bytes) is longer, so it cannot be patched (use a shorter --env-prefix)")
        }
        var result = Data(data)
        var searchFrom = result.startIndex
        while let found = result.range(of: old, in: searchFrom..<result.endIndex) {
            let end = result[found.lowerBound...].firstIndex(of: 0) ?? result.endIndex
            let span = result[found.lowerBound..<end]
            var patched = replaceAll(Data(span), old, new)
            patched.append(Data(repeating: 0, count: span.count - patched.count))
            result.replaceSubrange(found.lowerBound..<end, with: patched)
            searchFrom = end
        }
        return result
    }

    static func replaceAll(_ data: Data, _ old: Data, _ new: Data) -> Data {
        guard !old.isEmpty, data.range(of: old) != nil else { return data }
        var result = Data()
        result.reserveCapacity(data.count)
        var cursor = data.startIndex
        while let found = data.range(of: old, in: cursor..<data.endIndex) {
            result.append(data[cursor..<found.lowerBound])
            result.append(new)
            cursor = found.upperBound
        }
        result.append(data[cursor...])
        return result
    }

    /// `bin/<command>` for `command = module:function` (rattler's `python_entry_point_template`).
    static func entryPoint(_ text: String, prefix: String, interpreter: String, what: String) throws -> (String, Data) {
        let sides = text.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        let target = sides.count == 2 ? sides[1].split(separator: ":", maxSplits: 1).map(String.init) : []
        guard sides.count == 2, target.count == 2, !sides[0].isEmpty, !sides[0].contains("/"), !sides[0].hasPrefix("."),
              target.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." } }) else {
            throw CondaError.install("\(what): invalid entry point '\(text)'")
        }
        let python = "\(prefix)/\(interpreter)"
        let shebang = python.utf8.count > 125 || python.contains(" ")
            ? "#!/bin/sh\n'''exec' \"\(python)\" \"$0\" \"$@\" #'''" : "#!\(python)"
        let function = target[1]
        let script = """
        \(shebang)
        # -*- coding: utf-8 -*-
        import re
        import sys

        from \(target[0]) import \(function.split(separator: ".")[0])

        if __name__ == '__main__':
        \tsys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])
        \tsys.exit(\(function)())

        """
        return ("bin/\(sides[0])", Data(script.utf8))
    }

    /// conda's `conda-meta/history`: the environment marker, with one revision listing every package.
    func writeHistory(_ records: [PackageRecord], requested: [MatchSpec]) throws {
        var time = time_t(epoch)
        var parts = tm()
        gmtime_r(&time, &parts)
        let stamp = String(format: "%04d-%02d-%02d %02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                           Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        var lines = ["==> \(stamp) <==", "# cmd: kiln env install --prefix \(prefix)", "# conda version: 4.14.0"]
        lines += records.map { "+\(ChannelURL.canonicalName($0.channel))/\($0.subdir)::\($0.distName)" }.sorted()
        lines.append("# update specs: [" + requested.map { "'\($0.source)'" }.joined(separator: ", ") + "]")
        try (lines.joined(separator: "\n") + "\n").write(to: root.appendingPathComponent("conda-meta/history"), atomically: true, encoding: .utf8)
    }
}
