import Foundation
import Pip
import Testing

/// The licence an SBOM entry declares, read from a wheel's METADATA headers.
@Suite struct DeclaredLicenceTests {
    func licence(_ metadata: String) -> String? { CoreMetadata.declaredLicence(Data(metadata.utf8)) }

    @Test func expressionWinsOverLicenceAndTheBodyIsNotRead() {
        #expect(licence("Metadata-Version: 2.4\nName: demo\nLicense: MIT License\nLicense-Expression:  Apache-2.0 OR MIT \n\nLicense-Expression: GPL-3.0\n")
                == "Apache-2.0 OR MIT")
        #expect(licence("Metadata-Version: 2.1\nName: demo\nLicense: BSD-3-Clause\t\nLicense: second\n") == "BSD-3-Clause")
        #expect(licence("Metadata-Version: 2.1\nName: démo\n\nLicense: in the body\n") == nil)
    }

    @Test func crlfLinesAndNonASCIIValues() {
        #expect(licence("Metadata-Version: 2.1\r\nName: demo\r\nLicense: Licence publique générale\r\n\r\nLicense-Expression: MIT\r\n")
                == "Licence publique générale")
        #expect(licence("Name: demo\r\nLicense-Expression: MIT\r\n") == "MIT")
    }
}
