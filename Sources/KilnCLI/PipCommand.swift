import ArgumentParser
import AsyncHTTPClient
import Conda
import Foundation
import HTTP
import Pip
import Registry

/// `kiln pip`: the pip: section on its own, for comparing with uv and for debugging.
struct PipCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pip", abstract: "Resolve or install pip requirements, natively.",
                                                    subcommands: [PipResolveCommand.self, PipInstallCommand.self])
}

struct PipOptions: ParsableArguments {
    @Option(name: [.customShort("r"), .customLong("requirement")], help: "A requirements file (pip syntax).")
    var requirement: String

    @Option(help: "The target interpreter's version, X.Y[.Z] (markers and Requires-Python).")
    var python = "3.11"

    @Option(help: "The target's glibc (manylinux level), e.g. 2.28; 'none' for no manylinux wheels.")
    var glibc = "2.28"

    @Option(help: "The target platform, os/arch (linux/amd64, linux/arm64).")
    var platform = "linux/amd64"

    @Option(name: .customLong("index-url"), help: "Overrides the file's --index-url.")
    var indexURL: String?

    @Option(name: .customLong("extra-index-url"), help: "Adds to the file's --extra-index-url; repeatable.")
    var extraIndexURL: [String] = []

    @Option(name: .customLong("site-packages"), help: "An existing site-packages whose distributions stay installed (as conda's do).")
    var sitePackages: String?

    @Flag(help: "Log requests (credentials and signed query strings redacted).")
    var verbose = false

    func job() throws -> PipJob {
        var file = try RequirementsFile(path: requirement)
        if let indexURL { file.indexURL = indexURL }
        file.extraIndexURLs += extraIndexURL
        let target = PythonTarget(python: try PythonVersion(python), glibc: try Self.glibc(glibc),
                                  machine: PythonTarget.machine(forArchitecture: try architecture()))
        let installed = sitePackages.map { InstalledDistribution.scan(sitePackages: $0) } ?? [:]
        let verbose = verbose
        return PipJob(file: file, target: target, installed: installed, cacheDirectory: Fetcher.defaultCacheDirectory, http: HTTPClients.shared(),
                      log: { line in if verbose { FileHandle.standardError.write(Data("kiln: \(line)\n".utf8)) } })
    }

    /// The architecture of `--platform linux/<arch>`.
    func architecture() throws -> String {
        let parts = platform.split(separator: "/").map(String.init)
        guard parts.count >= 2, parts[0] == "linux" else { throw PipError.requirementsFile("--platform \(platform): kiln installs wheels for linux/<arch>") }
        return parts[1]
    }

    static func glibc(_ text: String) throws -> (Int, Int)? {
        if text == "none" { return nil }
        guard let version = PythonTarget.glibc(parsing: text) else { throw PipError.requirementsFile("--glibc \(text) is not MAJOR.MINOR") }
        return version
    }
}

struct PipResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resolve", abstract: "Resolve requirements and print name==version lines.")

    @OptionGroup var options: PipOptions

    func run() async throws {
        let job = try options.job()
        let resolution = try await job.resolve()
        for pick in resolution.picks {
            var line = "\(pick.key)==\(pick.candidate.version)"
            if case .installed = pick.candidate.origin { line += "  # installed" }
            print(line)
        }
    }
}

struct PipInstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "install", abstract: "Install requirements into a new directory (like pip install --target).")

    @OptionGroup var options: PipOptions

    @Option(help: "The directory to create; packages go to its top, scripts to bin/, data to the directory itself.")
    var target: String

    @Option(name: .customLong("python-path"), help: "The interpreter named in script shebangs.")
    var pythonPath = "/usr/bin/python3"

    @Option(help: "Write the resolved wheels (URLs and sha256) to FILE as conda-lock v1.")
    var lock: String?

    @Option(help: "Install the wheels of this lock (conda-lock v1 or @EXPLICIT with `# pip` lines) without resolving.")
    var locked: String?

    func run() async throws {
        let job = try options.job()
        let subdir = try CondaRequest.subdir(os: "linux", architecture: try options.architecture())
        let root = URL(fileURLWithPath: target).standardizedFileURL.path
        guard !FileManager.default.fileExists(atPath: root) else { throw PipError.install("\(root) already exists; kiln pip install creates a new directory") }
        // Everything goes to a sibling first, renamed into place only when complete.
        let staging = root + ".kiln-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let scheme = InstallScheme(sitePackages: staging, scripts: staging + "/bin", headers: staging + "/include", data: staging, python: pythonPath)
        let installer = WheelInstaller(scheme: scheme, epoch: Date(timeIntervalSince1970: 0))
        let installed: [InstalledWheel]
        if let locked {
            guard let data = FileManager.default.contents(atPath: locked) else { throw PipError.requirementsFile("cannot read \(locked)") }
            let wheels = try PipLock.read(String(decoding: data, as: UTF8.self), platform: subdir, what: locked)
            installed = try await job.install(locked: wheels, requested: Set(job.file.entries.map(\.requirement.key)), installer: installer)
        } else {
            let resolution = try await job.resolve()
            installed = try await job.install(resolution, installer: installer)
            // Written only once every wheel is in, so a failed install leaves no lock behind.
            if let lock {
                let text = "version: 1\npackage:\n" + PipLock.condaLockEntries(try await job.locked(resolution), platform: subdir)
                try Data(text.utf8).write(to: URL(fileURLWithPath: lock), options: .atomic)
            }
        }
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: staging, toPath: root)
        print("installed \(installed.count) distributions into \(root)")
    }
}

