import Foundation
import KilnCLI

exit(await KilnCommand.run(Array(CommandLine.arguments.dropFirst())))
