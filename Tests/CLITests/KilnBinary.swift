import Foundation
import OCI
import TestSupport

/// Runs the built `kiln` executable, which sits beside the test bundle in the build directory.
enum KilnBinary {
    static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["KILN_BIN"] { return explicit }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The test runner may be inside Foo.xctest/ or beside it.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("kiln").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return "kiln"
    }

    @discardableResult
    static func run(_ arguments: [String], environment: [String: String]? = nil, directory: String? = nil) throws -> ProcessResult {
        try TestSupport.run(binary, arguments, environment: environment, directory: directory)
    }

    struct BuildOutput: Decodable {
        struct Layer: Decodable { var digest: String; var diffID: String; var size: Int64 }
        var manifestDigest: String
        var configDigest: String
        var layers: [Layer]
        var reusedLayers: Int?
    }

    /// `kiln build … --json`, decoded; fails the test with kiln's stderr when the build fails.
    static func build(_ arguments: [String], environment: [String: String]? = nil, directory: String? = nil) throws -> BuildOutput {
        let result = try run(["build"] + arguments + ["--json"], environment: environment, directory: directory)
        guard result.status == 0 else { throw BuildFailed(stderr: result.stderr) }
        return try JSONDecoder().decode(BuildOutput.self, from: Data(result.stdout.utf8))
    }

    struct BuildFailed: Error, CustomStringConvertible {
        var stderr: String
        var description: String { "kiln build failed: \(stderr)" }
    }
}

/// A small fixture: a model folder, scoring code with a symlink and an executable, and an inference config.
struct Fixture {
    let root: TemporaryDirectory

    init(label: String = "fixture", mode: Int = 0o644, mtime: Date = Date(timeIntervalSince1970: 1_000_000)) throws {
        root = try TemporaryDirectory(label)
        try root.write("model/sklearn_model/model.pkl", Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }), mode: mode)
        try root.write("model/sklearn_model/MLmodel", "flavors: {}\n", mode: mode)
        try root.write("code/score.py", "import os\ndef init():\n    pass\ndef run(data):\n    return data\n", mode: mode)
        try root.write("code/utils/helpers.py", "X = 1\n", mode: mode)
        try root.write("code/bin/start.sh", "#!/bin/sh\nexec python score.py\n", mode: 0o755)
        try root.symlink("code/utils/current.py", to: "helpers.py")
        try root.write("inferenceconfig.json", """
        {"entryScript": "score.py", "runtime": "python", "sourceDirectory": "code",
         "description": "sklearn regression",
         "baseImageRegistry": {"address": "myacr.azurecr.io", "username": "sp-user", "password": "s3cr3t-Password-Value"}}
        """, mode: mode)
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        while let relative = enumerator?.nextObject() as? String {
            let path = root.file(relative)
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil { continue }
            try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: path)
        }
    }

    var standardArguments: [String] {
        ["--base", "scratch", "--no-server", "--inference-config", root.file("inferenceconfig.json"),
         "--model", "sklearn:3=\(root.file("model/sklearn_model"))", "--env", "WORKERS=2",
         "--cmd", #"["python","-m","azureml_inference_server_http"]"#, "--expose", "5001", "--label", "team=ml"]
    }
}

/// An environment.yml over the conda fixture channel: python 3.11 and hello from conda, then `pip` lines
/// from `index` (a `--index-url` line first).
@discardableResult
/// An environment.yml of `python=3.11` from `channel` (the debian-python channel) and `pip` lines; its path.
func pythonPipEnvironment(in directory: TemporaryDirectory, channel: String, pip: [String]) throws -> String {
    try directory.write("environment.yml", """
        name: python-pip
        channels:
          - file://\(channel)
        dependencies:
          - python=3.11
          - pip:
        \(pip.map { "    - \($0)" }.joined(separator: "\n"))

        """)
    return directory.file("environment.yml")
}

func condaPipEnvironment(in directory: TemporaryDirectory, channels: String, index: PipIndex, pip: [String]) throws -> String {
    try directory.write("environment.yml", """
    name: scoring
    channels:
      - file://\(channels)/main
    dependencies:
      - python 3.11.*
      - hello
      - pip:
        - --index-url \(index.url())
    \(pip.map { "    - \($0)" }.joined(separator: "\n"))
    """)
}

extension KilnBinary {
    /// A kiln run measured by GNU time: its output (stderr without time's own lines), peak RSS and wall time.
    struct Measured {
        var status: Int32
        var stdout: String
        var stderr: String
        var peakKiB: Int
        var seconds: Double
    }

    /// Runs kiln with `arguments` under `/usr/bin/time`, `environment` added.
    static func measured(_ arguments: [String], environment: [String: String]) throws -> Measured {
        let start = Date()
        let result = try TestSupport.run("/usr/bin/time", ["-f", "peak-rss-kib %M", binary] + arguments, environment: environment)
        let seconds = Date().timeIntervalSince(start)
        var lines = result.stderr.split(separator: "\n").map(String.init)
        let peak = lines.last.flatMap { $0.hasPrefix("peak-rss-kib ") ? Int($0.dropFirst(13)) : nil } ?? Int.max
        if peak != Int.max { lines.removeLast() }
        lines.removeAll { $0.hasPrefix("Command exited with non-zero status") }
        return Measured(status: result.status, stdout: result.stdout, stderr: lines.joined(separator: "\n"), peakKiB: peak, seconds: seconds)
    }
}
