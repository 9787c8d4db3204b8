import ArgumentParser
import Foundation
import Kiln

/// `kiln sbom IMAGE`: prints the SPDX document attached to an image.
struct SBOMCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "sbom", abstract: "Print the SPDX 2.3 SBOM attached to an image (an OCI artifact whose subject is the image).",
        discussion: """
        The SPDX document is JSON; --json is accepted for symmetry with the other commands and changes nothing.

        EXAMPLES:
          kiln sbom oci:out/churn:1 > churn.spdx.json
          kiln sbom myregistry.azurecr.io/ml/churn:3 --platform linux/amd64
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @Argument(help: "oci:DIR[:TAG] or REGISTRY/REPO[:TAG|@DIGEST]")
    var image: String
    @Option(help: "Platform to pick from an index, os/arch[/variant].")
    var platform: String?
    // Every command takes --json; the SPDX document is JSON already.
    @Flag(help: "Accepted and ignored: the SPDX document is JSON.")
    var json = false
    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let location = try FlagError.reading("IMAGE") { try ImageLocation(parsing: image) }
        let platform = try platform.map { value in try FlagError.reading("--platform") { try Platform(parsing: value) } }
        let document = try await Kiln.sbom(location, platform: platform, options: registryOptions.options())
        FileHandle.standardOutput.write(document)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }
}
