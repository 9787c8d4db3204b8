import Foundation
import KilnCLI

exit(await Kiln.run(Array(CommandLine.arguments.dropFirst())))
