import Foundation
import Testing
import TestSupport

/// The AzureML front ends through the `kiln` binary: Dockerfile steps applied or refused, and broken
/// v2 files refused in one line with nothing written.
@Suite struct FrontEndCLITests {
    static func project() throws -> TemporaryDirectory {
        let root = try TemporaryDirectory("frontend")
        try root.write("code/score.py", "def init():\n    pass\n\ndef run(raw):\n    return raw\n")
        try root.write("assets/données.txt", "été\n")
        try root.write("model/weights.bin", "w")
        return root
    }

    @Test func extraDockerfileStepsAreAppliedAndShownByInspect() throws {
        let root = try Self.project()
        try root.write("steps.dockerfile", """
        # AzureML's extraDockerfileSteps: a local file of steps, relative to the config.
        ENV TOKENIZERS_PARALLELISM=false \\
            LANG=C.UTF-8
        LABEL org.example.team="ml platform" stage=prod
        COPY assets/ /opt/assets/
        ENV PATH=/opt/tools/bin:$PATH
        """)
        try root.write("inferenceconfig.json", #"{"entryScript": "score.py", "sourceDirectory": "code", "extraDockerfileSteps": "steps.dockerfile"}"#)
        let out = try TemporaryDirectory("out")
        // $PATH is the base image's, read when the image is built.
        _ = try KilnBinary.build(["--base", "scratch", "--env", "PATH=/usr/local/bin:/usr/bin:/bin", "--output", "oci:\(out.file("base")):1"])
        _ = try KilnBinary.build([root.file("inferenceconfig.json"), "--base", "oci:\(out.file("base")):1", "--no-server",
                                  "--output", "oci:\(out.file("img")):1"])
        let inspect = try KilnBinary.run(["inspect", "oci:\(out.file("img")):1", "--files"])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        for expected in ["TOKENIZERS_PARALLELISM=false", "LANG=C.UTF-8", "ml platform", "/opt/assets/données.txt",
                         "PATH=/opt/tools/bin:/usr/local/bin:/usr/bin:/bin"] {
            #expect(inspect.stdout.contains(expected), "\(expected) in \(inspect.stdout)")
        }
    }

    @Test(arguments: [
        ("steps.dockerfile", "ENV A=1\nRUN pip install torch\n", "steps.dockerfile line 2: RUN"),
        ("deployment.yml", "model: {path: model}\nmodel_mount_path: relative/models\nenvironment: {image: scratch}\n", "must be an absolute path"),
        ("deployment.yml", "model: {path: model}\ncode_configuration: {code: code, scoring_script: nothere.py}\nenvironment: {image: scratch}\n", "scoring_script not found"),
        ("deployment.yml", "model: azureml:diabetes:1\nenvironment: {image: scratch}\n", "download it first"),
        ("deployment.yml", "model: {path: model}\nenvironment: {image: scratch}\nunknown_setting: 1\n", "line 3: unknown key 'unknown_setting'"),
    ])
    func brokenInputsWriteNothing(name: String, text: String, message: String) throws {
        let root = try Self.project()
        try root.write(name, text)
        var input = root.file(name)
        if name.hasSuffix(".dockerfile") {
            try root.write("inferenceconfig.json", #"{"entryScript": "score.py", "sourceDirectory": "code", "extraDockerfileSteps": "steps.dockerfile"}"#)
            input = root.file("inferenceconfig.json")
        }
        let out = try TemporaryDirectory("out")
        let result = try KilnBinary.run(["build", input, "--no-server", "--output", "oci:\(out.file("img")):1"])
        #expect(result.status != 0)
        #expect(result.stderr.hasPrefix("kiln: error: ") && result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.file("img")))
    }

    @Test func aScoringImageOverScratchSaysWhatItNeeds() throws {
        let root = try Self.project()
        try root.write("inferenceconfig.json", #"{"entryScript": "score.py", "sourceDirectory": "code"}"#)
        let out = try TemporaryDirectory("out")
        let result = try KilnBinary.run(["build", root.file("inferenceconfig.json"), "--base", "scratch", "--output", "oci:\(out.file("img")):1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("need a python in the base image"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.file("img")))
    }
}
