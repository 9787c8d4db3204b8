import Fuzzing

/// libFuzzer's entry: one input, fed to the oci-json parser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    FuzzTarget.ociJSON.run(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
