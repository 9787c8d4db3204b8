import ArgumentParser
import AsyncHTTPClient
import Conda
import Foundation
import Kiln
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

    @OptionGroup var builds: SourceBuildOptions

    @Option(name: .customLong("build-python"), help: "The interpreter that builds sdists (default: python3.X, then python3, on PATH, of the --python version).")
    var buildPython: String?

    func job() throws -> PipJob {
        var file = try RequirementsFile(path: requirement)
        if let indexURL { file.indexURL = indexURL }
        file.extraIndexURLs += extraIndexURL
        let target = PythonTarget(python: try PythonVersion(python), glibc: try Self.glibc(glibc),
                                  machine: PythonTarget.machine(forArchitecture: try architecture()))
        let installed = sitePackages.map { InstalledDistribution.scan(sitePackages: $0) } ?? [:]
        let verbose = verbose
        let options = try self.builds.validated()
        if options.noBuild, buildPython != nil { throw PlanError.invalid("--build-python has no effect with --no-build; give one or the other") }
        let builds = options.noBuild ? nil : SourceBuilds.host(python: buildPython, timeout: .seconds(options.buildTimeout), target: target.python)
        return PipJob(file: file, target: target, installed: installed, cacheDirectory: Fetcher.defaultCacheDirectory, http: HTTPClients.shared(),
                      builds: builds, log: { line in if verbose { Console.line("kiln: \(line)") } })
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

struct PipResolveCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "resolve", abstract: "Resolve requirements and print name==version lines.",
        discussion: """
        With --json, stdout holds one JSON object: distributions, each with name, version, requirement \
        (name==version), installed (kept from --site-packages) and, for a wheel, url and sha256.

        EXAMPLES:
          kiln pip resolve -r requirements.txt
          kiln pip resolve -r requirements.txt --python 3.10 --platform linux/arm64
          kiln pip resolve -r requirements.txt --glibc none --json
          kiln pip resolve -r requirements.txt \\
            --site-packages out/env/lib/python3.11/site-packages
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @OptionGroup var options: PipOptions
    @Flag(help: "Print one JSON object (distributions) instead.")
    var json = false

    func run() async throws {
        let job = try options.job()
        let resolution = try await Kiln.resolveRequirements(job)
        for warning in resolution.warnings { Console.line("kiln: warning: \(warning)") }
        if json {
            struct Listing: Encodable { var distributions: [DistributionReport] }
            print(try prettyJSON(Listing(distributions: resolution.picks.map(DistributionReport.init(pick:)))))
            return
        }
        for pick in resolution.picks {
            var line = "\(pick.key)==\(pick.candidate.version)"
            if case .installed = pick.candidate.origin { line += "  # installed" }
            print(line)
        }
    }
}

struct PipInstallCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "install", abstract: "Install requirements into a new directory (like pip install --target).",
        discussion: """
        With --json, stdout holds one JSON object: target, and distributions (name, version, requirement).

        EXAMPLES:
          kiln pip install -r requirements.txt --target out/site
          kiln pip install -r requirements.txt --target out/site --lock pip.lock
          kiln pip install -r requirements.txt --target out/again \\
            --locked pip.lock --json
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @OptionGroup var options: PipOptions

    @Option(help: "The directory to create; packages go to its top, scripts to bin/, data to the directory itself.")
    var target: String

    @Option(name: .customLong("python-path"), help: "The interpreter named in script shebangs.")
    var pythonPath = "/usr/bin/python3"

    @Option(help: "Write the resolved wheels (URLs and sha256) to FILE as conda-lock v1.")
    var lock: String?

    @Option(help: "Install the wheels of this lock (conda-lock v1 or @EXPLICIT with `# pip` lines) without resolving.")
    var locked: String?

    @Flag(help: "Print one JSON object (target, distributions) instead.")
    var json = false

    func run() async throws {
        let installed = try await Kiln.installRequirements(options.job(), into: target, pythonPath: pythonPath,
                                                           platform: Platform(os: "linux", architecture: options.architecture()),
                                                           lockedFile: locked, writeLock: lock,
                                                           warn: { Console.line("kiln: warning: \($0)") })
        let directory = URL(fileURLWithPath: target).standardizedFileURL.path
        if json {
            struct Report: Encodable { var target: String; var distributions: [DistributionReport] }
            let distributions = installed.map { DistributionReport(name: $0.name, version: $0.version.description) }
            print(try prettyJSON(Report(target: directory, distributions: distributions)))
            return
        }
        print("installed \(installed.count) distributions into \(directory)")
    }
}


/// One Python distribution in `--json` output: `kiln pip resolve`, `kiln pip install`, `kiln env install`.
struct DistributionReport: Encodable {
    var name: String
    var version: String
    /// `name==version`, as `kiln pip resolve` prints it.
    var requirement: String
    /// Kept from `--site-packages` rather than picked from an index (resolve only).
    var installed: Bool?
    /// The wheel picked, credentials redacted (resolve only).
    var url: String?
    var sha256: String?
    /// The url is a source distribution whose wheel Kiln builds (resolve only).
    var built: Bool?

    init(name: String, version: String) {
        self.name = name
        self.version = version
        requirement = "\(name)==\(version)"
    }

    init(pick: Resolution.Pick) {
        self.init(name: pick.key, version: pick.candidate.version.description)
        switch pick.candidate.origin {
        case let .wheel(file), let .sdist(file):
            installed = false
            url = Redaction.url(file.url)
            sha256 = file.sha256
            if case .sdist = pick.candidate.origin { built = true }
        case .installed:
            installed = true
        case .unavailable:
            // The resolver never picks an unavailable candidate; nothing more to say about one.
            break
        }
    }
}
