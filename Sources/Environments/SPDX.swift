import Conda
import Foundation
import OCI
import Pip

/// An SPDX 2.3 JSON document for an image's environment: every conda package and pip distribution with
/// its name, version, licence (from the package's own metadata), purl, download URL and sha256, and the
/// base image as a package the image is built on. The bytes depend only on the environment and the
/// base, so the same lock gives the same document.
public enum SPDX {
    /// The media type of the document, and the artifact type it is attached under.
    public static let mediaType = "application/spdx+json"

    /// The document for `result`, over the base named `baseName` whose manifest digest is `baseDigest`.
    /// It names the environment, not the image (the artifact's subject links the two), so a rebuild that
    /// only changes code attaches the same SBOM blob, which a push then finds already there.
    public static func document(for result: EnvironmentStage.Result, baseName: String, baseDigest: Digest?, epoch: Int64) throws -> Data {
        let imageName = "kiln-environment-\(result.lockDigest.encoded.prefix(16))"
        var packages: [[String: Any]] = []
        var relationships: [[String: Any]] = [["spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                                               "relatedSpdxElement": "SPDXRef-Image"]]
        var licences = LicenceTable()
        packages.append(["SPDXID": "SPDXRef-Image", "name": imageName, "downloadLocation": "NOASSERTION", "filesAnalyzed": false,
                         "primaryPackagePurpose": "CONTAINER", "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION",
                         "copyrightText": "NOASSERTION"])
        var base: [String: Any] = ["SPDXID": "SPDXRef-Base", "name": baseName, "downloadLocation": "NOASSERTION", "filesAnalyzed": false,
                                   "primaryPackagePurpose": "CONTAINER", "licenseConcluded": "NOASSERTION",
                                   "licenseDeclared": "NOASSERTION", "copyrightText": "NOASSERTION"]
        if let baseDigest { base["checksums"] = [["algorithm": "SHA256", "checksumValue": baseDigest.encoded]] }
        packages.append(base)
        relationships.append(["spdxElementId": "SPDXRef-Image", "relationshipType": "DESCENDANT_OF", "relatedSpdxElement": "SPDXRef-Base"])

        for record in result.records.sorted(by: { ($0.name, $0.fileName) < ($1.name, $1.fileName) }) {
            let id = "SPDXRef-conda-\(identifier(record.distName))"
            var package = entry(id: id, name: record.name, version: record.version.description, url: record.url, sha256: record.sha256,
                                licence: licences.expression(for: record.raw["license"]?.string))
            let type = record.fileName.hasSuffix(".conda") ? "conda" : "tar.bz2"
            package["externalRefs"] = [purl("pkg:conda/\(percent(record.name))@\(percent(record.version.description))"
                + "?build=\(percent(record.build))&channel=\(percent(record.channel))&subdir=\(percent(record.subdir))&type=\(type)")]
            packages.append(package)
            relationships.append(["spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS", "relatedSpdxElement": id])
        }
        let locked = Dictionary(result.lockedWheels.map { (normalizeName($0.name) + " " + $0.version, $0) }, uniquingKeysWith: { first, _ in first })
        for wheel in result.wheels.sorted(by: { normalizeName($0.name) < normalizeName($1.name) }) {
            let key = normalizeName(wheel.name) + " " + wheel.version.description
            let id = "SPDXRef-pypi-\(identifier(normalizeName(wheel.name) + "-" + wheel.version.description))"
            var package = entry(id: id, name: wheel.name, version: wheel.version.description, url: locked[key]?.url,
                                sha256: locked[key]?.sha256, licence: licences.expression(for: wheel.licence))
            package["externalRefs"] = [purl("pkg:pypi/\(percent(normalizeName(wheel.name)))@\(percent(wheel.version.description))")]
            packages.append(package)
            relationships.append(["spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS", "relatedSpdxElement": id])
        }
        let namespace = "https://spdx.kiln.invalid/environments/\(result.lockDigest.encoded)/\(baseDigest?.encoded ?? "scratch")"
        var document: [String: Any] = [
            "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": imageName,
            "documentNamespace": namespace,
            "creationInfo": ["created": Timestamp.iso8601(epoch), "creators": ["Tool: kiln-\(KilnVersion.current)"]],
            "packages": packages, "relationships": relationships,
        ]
        if !licences.extracted.isEmpty { document["hasExtractedLicensingInfos"] = licences.extracted }
        return try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    static func entry(id: String, name: String, version: String, url: String?, sha256: String?, licence: String) -> [String: Any] {
        var package: [String: Any] = ["SPDXID": id, "name": name, "versionInfo": version, "downloadLocation": "NOASSERTION",
                                      "filesAnalyzed": false, "licenseConcluded": "NOASSERTION", "licenseDeclared": licence,
                                      "copyrightText": "NOASSERTION"]
        if let url {
            // downloadLocation is for places others can fetch from; a file:// channel or a loopback index is
            // not one (and SPDX validators refuse it), so such a URL is kept as the package's source info.
            if isPublic(url) { package["downloadLocation"] = url } else { package["sourceInfo"] = "downloaded from \(url)" }
        }
        if let sha256 { package["checksums"] = [["algorithm": "SHA256", "checksumValue": sha256.lowercased()]] }
        return package
    }

    /// An http(s) URL whose host is a domain name (not an IP address or localhost).
    static func isPublic(_ url: String) -> Bool {
        guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme ?? ""),
              let host = components.host, host.contains("."), host.lowercased() != "localhost" else { return false }
        return !host.allSatisfy { $0.isNumber || $0 == "." || $0 == ":" }
    }

    static func purl(_ locator: String) -> [String: Any] {
        ["referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": locator]
    }

    /// Letters, digits, `.` and `-`: what an SPDX identifier may hold.
    static func identifier(_ text: String) -> String {
        String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") ? $0 : "-" })
    }

    static func percent(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_~")) ?? text
    }
}

/// Licences as SPDX expressions: a string made of SPDX licence ids (joined by AND, OR or WITH) is used as
/// it is; anything else becomes a `LicenseRef-` whose text is the package's own words.
struct LicenceTable {
    var extracted: [[String: Any]] = []
    private var refs: [String: String] = [:]

    /// Common ids from the SPDX licence list; an id outside it goes through `LicenseRef-` so validators pass.
    static let known: Set<String> = ["MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "BSD-4-Clause", "Apache-2.0", "ISC", "Zlib",
                                     "PSF-2.0", "Python-2.0", "MPL-2.0", "LGPL-2.1-only", "LGPL-2.1-or-later", "LGPL-3.0-only",
                                     "LGPL-3.0-or-later", "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later",
                                     "Unlicense", "CC0-1.0", "BSL-1.0", "OpenSSL", "curl", "Libpng", "bzip2-1.0.6", "NCSA",
                                     "HPND", "0BSD", "Artistic-2.0", "X11", "AFL-2.1", "EPL-2.0", "LLVM-exception",
                                     "GCC-exception-3.1", "Classpath-exception-2.0"]

    mutating func expression(for text: String?) -> String {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty, text.uppercased() != "UNKNOWN" else { return "NOASSERTION" }
        let words = text.replacingOccurrences(of: "(", with: " ").replacingOccurrences(of: ")", with: " ").split(separator: " ")
        if words.allSatisfy({ ["AND", "OR", "WITH"].contains($0) || Self.known.contains(String($0)) }) { return text }
        if let ref = refs[text] { return ref }
        let ref = "LicenseRef-\(refs.count + 1)-" + SPDX.identifier(String(text.prefix(40)))
        refs[text] = ref
        extracted.append(["licenseId": ref, "extractedText": text, "name": String(text.prefix(80))])
        return ref
    }
}
