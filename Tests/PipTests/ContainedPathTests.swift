import Archive
@testable import Pip
import Testing

/// Where a wheel member lands: plain paths as they are, anything that could leave the directory refused.
@Suite struct ContainedPathTests {
    @Test(arguments: ["pkg/mod.py", "données/ファイル.txt", "a/.hidden", "a/...", "pkg/__init__.py", "x"])
    func plainPathsLandUnderTheRoot(relative: String) throws {
        #expect(try WheelInstaller.contained(relative, in: "/r", member: relative, wheel: "w.whl") == "/r/" + relative)
    }

    @Test func unusualButSafePathsAreNormalised() throws {
        #expect(try WheelInstaller.contained("a//b", in: "/r", member: "a//b", wheel: "w.whl") == "/r/a/b")
        #expect(try WheelInstaller.contained("a/b/", in: "/r", member: "a/b/", wheel: "w.whl") == "/r/a/b")
        #expect(!MemberPath.isPlain("a//b") && !MemberPath.isPlain("...") && !MemberPath.isPlain("a/") && MemberPath.isPlain("a/.b/c"))
    }

    @Test(arguments: ["../evil", "a/../../evil", "/etc/passwd", "./a", "a/./b", "a/..", "..", ".", "a\\b", "a\u{0}b", "", "/"])
    func escapingOrOddPathsAreRefused(relative: String) {
        #expect(throws: PipError.self) { try WheelInstaller.contained(relative, in: "/r", member: relative, wheel: "w.whl") }
    }
}
