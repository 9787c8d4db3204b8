import ArgumentParser
import Foundation
import Kiln

struct InspectCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show an image's manifest, config and layers.",
        discussion: """
        The output is always one JSON object; --json is accepted for symmetry with the other commands and \
        changes nothing.

        EXAMPLES:
          kiln inspect oci:out/churn:1
          kiln inspect docker-archive:churn.tar --files
          kiln inspect myregistry.azurecr.io/ml/churn:3 --platform linux/amd64
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @Argument(help: "oci:DIR[:TAG], docker-archive:FILE or REGISTRY/REPO[:TAG|@DIGEST]")
    var source: String
    @Option(help: "Platform to pick from an index, os/arch[/variant].")
    var platform: String?
    @Flag(help: "Also list the image's files.")
    var files = false
    // Every command takes --json; inspect's output is JSON already.
    @Flag(help: "Accepted and ignored: inspect always prints JSON.")
    var json = false
    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let location = try ImageLocation(parsing: source)
        let inspection = try await Kiln.inspect(location, platform: platform.map(Platform.init(parsing:)), files: files,
                                                options: registryOptions.options())
        print(try prettyJSON(inspection))
    }
}

struct DiffCommand: AsyncParsableCommand, ReportsProgress {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "List the files and config fields that differ between two images.",
        discussion: """
        EXAMPLES:
          kiln diff oci:out/churn:1 oci:out/churn:2
          kiln diff myregistry.azurecr.io/ml/churn:3 docker-archive:churn.tar
          kiln diff oci:out/churn:1 oci:out/churn:2 --json
        """)
    @OptionGroup var consoleOptions: ConsoleOptions

    @Argument(help: "oci:DIR[:TAG], docker-archive:FILE or REGISTRY/REPO[:TAG|@DIGEST]")
    var first: String
    @Argument(help: "oci:DIR[:TAG], docker-archive:FILE or REGISTRY/REPO[:TAG|@DIGEST]")
    var second: String
    @Flag(help: "Print the differences as JSON.")
    var json = false
    @OptionGroup var registryOptions: RegistryOptions

    func run() async throws {
        let diff = try await Kiln.diff(ImageLocation(parsing: first), ImageLocation(parsing: second), options: registryOptions.options())
        if json {
            print(try prettyJSON(diff))
        } else if diff.isEmpty {
            print("no differences")
        } else {
            diff.lines.forEach { print($0) }
        }
    }
}
