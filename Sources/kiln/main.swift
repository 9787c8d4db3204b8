import Foundation
import KilnCLI

exit(Kiln.run(Array(CommandLine.arguments.dropFirst())))
