import Fuzzing

/// libFuzzer's entry: one input, fed to the pyproject parser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FuzzTarget.pyproject.run(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
