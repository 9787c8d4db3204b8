@testable import Environments
import Foundation
@testable import Pip
import Testing
import TestSupport

/// The licence an SBOM entry declares, read from the installed METADATA's headers.
@Suite struct SPDXLicenceTests {
    func licence(_ metadata: String) throws -> String? {
        let root = try TemporaryDirectory("spdx-licence")
        let path = root.file("demo-1.0.dist-info/METADATA")
        try FileManager.default.createDirectory(atPath: root.file("demo-1.0.dist-info"), withIntermediateDirectories: true)
        try Data(metadata.utf8).write(to: URL(fileURLWithPath: path))
        let wheel = InstalledWheel(name: "demo", version: try PythonVersion("1.0"), distInfo: "demo-1.0.dist-info", files: [root.file("demo.py"), path])
        return SPDX.metadataLicence(wheel)
    }

    @Test func expressionWinsOverLicenceAndTheBodyIsNotRead() throws {
        #expect(try licence("Metadata-Version: 2.4\nName: demo\nLicense: MIT License\nLicense-Expression:  Apache-2.0 OR MIT \n\nLicense-Expression: GPL-3.0\n")
                == "Apache-2.0 OR MIT")
        #expect(try licence("Metadata-Version: 2.1\nName: demo\nLicense: BSD-3-Clause\t\nLicense: second\n") == "BSD-3-Clause")
        #expect(try licence("Metadata-Version: 2.1\nName: démo\n\nLicense: in the body\n") == nil)
    }

    @Test func crlfLinesAndNonASCIIValues() throws {
        #expect(try licence("Metadata-Version: 2.1\r\nName: demo\r\nLicense: Licence publique générale\r\n\r\nLicense-Expression: MIT\r\n")
                == "Licence publique générale")
        #expect(try licence("Name: demo\r\nLicense-Expression: MIT\r\n") == "MIT")
    }
}
