import Fuzzing

/// libFuzzer's entry: one input, fed to the pep508 parser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FuzzTarget.pep508.run(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
