import AzureML
import Foundation
import Plan
import Testing
import TestSupport

/// The error's one-line message, or nil when `body` does not throw.
private func failure(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

/// Parses `text` as `Dockerfile` and applies it to `plan` over `context`.
@discardableResult
private func apply(_ text: String, to plan: inout BuildPlan, context: String = "/nonexistent-context",
                   allowFrom: Bool = true) throws -> String? {
    try Dockerfile.parse(text, path: "Dockerfile").apply(to: &plan, context: context, allowFrom: allowFrom)
}

/// Applies `text` to an empty plan.
private func applied(_ text: String, context: String = "/nonexistent-context", allowFrom: Bool = true) throws -> BuildPlan {
    var plan = BuildPlan()
    try apply(text, to: &plan, context: context, allowFrom: allowFrom)
    return plan
}

private func env(_ plan: BuildPlan) -> [String: String] {
    Dictionary(plan.config.env.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
}

/// The parser: directives, comments, continuations, forms, flags and line numbers.
@Suite struct DockerfileParserTests {
    @Test func continuationsJoinLinesAndKeepTheFirstLineNumber() throws {
        let file = try Dockerfile.parse("FROM scratch\nENV A=1 \\\n    B=2\nLABEL x=y\n", path: "Dockerfile")
        #expect(file.instructions.map(\.keyword) == ["FROM", "ENV", "LABEL"])
        #expect(file.instructions.map(\.line) == [1, 2, 4])
        #expect(file.instructions[1].arguments == .shell("A=1     B=2"))
    }

    @Test func commentsAndEmptyLinesInsideAContinuationAreSkipped() throws {
        let text = "LABEL a=1 \\\n# a comment\n    # an indented comment\n\n   \n  b=2\nENV C=3\n"
        let file = try Dockerfile.parse(text, path: "Dockerfile")
        #expect(file.instructions.count == 2)
        #expect(file.instructions[1].line == 7)
        let plan = try applied(text)
        #expect(plan.config.labels == ["a": "1", "b": "2"])
    }

    @Test func commentsBlankLinesAndLeadingSpaceAreIgnored() throws {
        let file = try Dockerfile.parse("# a comment\n\n   # another\n\tENV A=1 # not a comment\n", path: "Dockerfile")
        #expect(file.instructions == [Dockerfile.Instruction(keyword: "ENV", arguments: .shell("A=1 # not a comment"), line: 4)])
    }

    @Test func escapeDirectiveChangesContinuationAndEscapes() throws {
        let text = "# escape=`\n\nENV WINPATH=C:\\dir `\n    OTHER=a`$b\n"
        let file = try Dockerfile.parse(text, path: "Dockerfile")
        #expect(file.escape == "`")
        #expect(file.instructions.count == 1)
        let plan = try applied(text)
        #expect(env(plan) == ["WINPATH": "C:\\dir", "OTHER": "a$b"])
    }

    @Test func directivesOnlyCountAtTheTop() throws {
        let file = try Dockerfile.parse("ENV A=1\n# escape=`\nENV B=2 \\\n  C=3\n", path: "Dockerfile")
        #expect(file.escape == "\\")
        #expect(file.instructions.count == 2)
        let afterComment = try Dockerfile.parse("# hello\n# escape=`\nENV A=1\n", path: "Dockerfile")
        #expect(afterComment.escape == "\\")
    }

    @Test func syntaxDirectiveIsRecordedAndCustomFrontendsRefused() throws {
        let file = try Dockerfile.parse("# syntax=docker/dockerfile:1.7\n# escape=\\\nENV A=1\n", path: "Dockerfile")
        #expect(file.syntax == "docker/dockerfile:1.7")
        var plan = BuildPlan()
        #expect(try file.apply(to: &plan, context: "/", allowFrom: true) == nil)
        let custom = failure { _ = try applied("# syntax=example.com/my/frontend:1\nENV A=1\n") }
        #expect(custom == "Dockerfile: # syntax=example.com/my/frontend:1 names a custom frontend: Kiln follows docker/dockerfile only")
    }

    @Test func badDirectivesAreErrorsWithTheirLine() {
        #expect(failure { _ = try Dockerfile.parse("# escape=`\n# escape=\\\nENV A=1", path: "Dockerfile") }
            == "Dockerfile line 2: only one escape parser directive can be used")
        #expect(failure { _ = try Dockerfile.parse("# escape=x\nENV A=1", path: "Dockerfile") }
            == "Dockerfile line 1: invalid escape directive 'x': the escape character must be \\ or `")
    }

    @Test func execFormIsJSONAndShellFormIsText() throws {
        let file = try Dockerfile.parse("CMD [\"python\", \"-m\", \"app\"]\nENTRYPOINT python -m app\n", path: "Dockerfile")
        #expect(file.instructions[0].arguments == .json(["python", "-m", "app"]))
        #expect(file.instructions[1].arguments == .shell("python -m app"))
        let plan = try applied("CMD [\"python\", \"-m\", \"app\"]\n")
        #expect(plan.config.cmd == ["python", "-m", "app"])
        let shell = try applied("CMD python -m app --name \"my app\"\n")
        #expect(shell.config.cmd == ["/bin/sh", "-c", "python -m app --name \"my app\""])
    }

    @Test func invalidJSONIsTheShellFormAsInDocker() throws {
        let file = try Dockerfile.parse("CMD [\"python\", \"-m\"\nCMD ['python']\nCMD [python]\n", path: "Dockerfile")
        #expect(file.instructions.map(\.arguments) == [.shell("[\"python\", \"-m\""), .shell("['python']"), .shell("[python]")])
        let plan = try applied("CMD ['python', 'app.py']\n")
        #expect(plan.config.cmd == ["/bin/sh", "-c", "['python', 'app.py']"])
        // Docker's decoder reads the first JSON value and ignores what follows it.
        let trailing = try Dockerfile.parse("CMD [\"a\"] trailing\n", path: "Dockerfile")
        #expect(trailing.instructions[0].arguments == .json(["a"]))
        // JSON only for the instructions that have an exec form.
        let label = try Dockerfile.parse("LABEL [\"a\"]\n", path: "Dockerfile")
        #expect(label.instructions[0].arguments == .shell("[\"a\"]"))
    }

    @Test func aJSONArrayOfNonStringsIsAnError() {
        #expect(failure { _ = try Dockerfile.parse("\nCMD [\"a\", 1]\n", path: "Dockerfile") }
            == "Dockerfile line 2: CMD: a JSON array must hold only strings")
    }

    @Test func keywordsAreCaseInsensitiveAndFlagsAreSplitOff() throws {
        let file = try Dockerfile.parse("copy --chmod=755 --link --weird=\"a b\" src dst\nCopy -- --from dst/\n", path: "Dockerfile")
        #expect(file.instructions[0].keyword == "COPY")
        #expect(file.instructions[0].flags == [Dockerfile.Flag(name: "chmod", value: "755"), Dockerfile.Flag(name: "link", value: nil),
                                               Dockerfile.Flag(name: "weird", value: "a b")])
        #expect(file.instructions[0].arguments == .shell("src dst"))
        #expect(file.instructions[1].flags.isEmpty)
        #expect(file.instructions[1].arguments == .shell("--from dst/"))
    }

    @Test func heredocsAreRefused() {
        #expect(failure { _ = try Dockerfile.parse("FROM scratch\nCOPY <<EOF /app/x.txt\nhello\nEOF\n", path: "Dockerfile") }
            == "Dockerfile line 2: COPY with a heredoc (<<EOF) is not supported: put the text in a file in the build context and COPY it")
        #expect(failure { _ = try Dockerfile.parse("RUN cat <<-'END' > x\nEND\n", path: "Dockerfile") }?.hasPrefix("Dockerfile line 1: RUN with a heredoc (<<-'END')") == true)
        #expect(failure { _ = try Dockerfile.parse("RUN python << EOF\nEOF\n", path: "Dockerfile") }?.hasPrefix("Dockerfile line 1: RUN with a heredoc") == true)
        // Quoted, it is not a heredoc.
        #expect(failure { _ = try Dockerfile.parse("RUN echo \"<<EOF\"\n", path: "Dockerfile") } == nil)
    }

    @Test func byteOrderMarkAndCRLFAreIgnored() throws {
        let file = try Dockerfile.parse("\u{FEFF}# escape=`\r\nENV A=1 `\r\n  B=2\r\n", path: "Dockerfile")
        #expect(file.escape == "`")
        #expect(file.instructions.count == 1)
        #expect(env(try applied("\u{FEFF}ENV A=1\r\nENV B=2\r\n")) == ["A": "1", "B": "2"])
    }

    @Test func emptyDockerfileHasNoInstructionsAndChangesNothing() throws {
        for text in ["", "\n\n", "# only a comment\n", "  \n# escape=`\n"] {
            let file = try Dockerfile.parse(text, path: "Dockerfile")
            #expect(file.instructions.isEmpty)
            var plan = BuildPlan()
            #expect(try file.apply(to: &plan, context: "/", allowFrom: true) == nil)
            #expect(plan == BuildPlan())
        }
    }

    @Test func loadReadsAFileAndNamesAMissingOne() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("Dockerfile", "ENV A=1\n")
        #expect(try Dockerfile.load(path).instructions.count == 1)
        #expect(try Dockerfile.load(path).path == path)
        #expect(failure { _ = try Dockerfile.load(directory.file("nope")) } == "Dockerfile not found: \(directory.file("nope"))")
        try directory.write("Latin1", Data([0x45, 0x4E, 0x56, 0x20, 0x41, 0x3D, 0xE9, 0x0A]))
        #expect(failure { _ = try Dockerfile.load(directory.file("Latin1")) } == "\(directory.file("Latin1")): not UTF-8 text")
    }
}

/// Variable substitution: the forms, the scopes, and what Kiln cannot know before the build.
@Suite struct DockerfileSubstitutionTests {
    @Test func substitutionForms() throws {
        let plan = try applied("""
            ARG SET=value
            ARG EMPTY=
            ARG UNSET
            ENV A=$SET B=${SET} C=${UNSET:-default} D=${EMPTY:-default} E=${EMPTY-default} F=${SET:+alt} \
                G=${EMPTY:+alt} H=${EMPTY+alt} I=\\$SET J='$SET' K="$SET and \\"quotes\\"" L=$SET$SET. M=${UNSET} N=$ O=a$1b
            """)
        #expect(env(plan) == ["A": "value", "B": "value", "C": "default", "D": "default", "E": "", "F": "alt", "G": "",
                              "H": "alt", "I": "$SET", "J": "$SET", "K": "value and \"quotes\"", "L": "valuevalue.", "M": "",
                              "N": "$", "O": "ab"])
    }

    @Test func patternTrimming() throws {
        let plan = try applied("ARG FILE=archive.tar.gz\nENV SHORT=${FILE%.*} LONG=${FILE%%.*} HEAD=${FILE#*.} TAIL=${FILE##*.}\n")
        #expect(env(plan) == ["SHORT": "archive.tar", "LONG": "archive", "HEAD": "tar.gz", "TAIL": "gz"])
    }

    @Test func envValuesOnOneLineSeeTheValuesBeforeIt() throws {
        // Docker's documented example: def gets the value abc had before the instruction.
        let plan = try applied("ENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n")
        #expect(env(plan) == ["abc": "bye", "def": "hello", "ghi": "bye"])
    }

    @Test func legacyEnvAndQuoting() throws {
        let plan = try applied("ENV GREETING hello   \"big\"  world\nENV QUOTED=\"a b\" 'SINGLE'='c d' ESCAPED=e\\ f\n")
        #expect(env(plan) == ["GREETING": "hello   big  world", "QUOTED": "a b", "SINGLE": "c d", "ESCAPED": "e f"])
        #expect(failure { _ = try applied("ENV ONLYNAME\n") }
            == "Dockerfile line 1: ENV must have two arguments (name value), or name=value pairs")
        #expect(failure { _ = try applied("ENV A=1 B\n") } == "Dockerfile line 1: ENV: 'B' has no '=': write name=value")
        #expect(failure { _ = try applied("ENV A=\"open\n") }
            == "Dockerfile line 1: ENV: unexpected end of statement while looking for matching double-quote")
        #expect(failure { _ = try applied("ENV A=${B\n") } == "Dockerfile line 1: ENV: syntax error: missing '}'")
        #expect(failure { _ = try applied("ENV A=${}\n") } == "Dockerfile line 1: ENV: syntax error: bad substitution")
        #expect(failure { _ = try applied("ARG B\nENV A=\"${B:?is required}\"\n") } == "Dockerfile line 2: ENV: B: is required")
    }

    /// ENV may use the base image's variables: the reference waits for the build, which reads the base.
    /// Anywhere else, or behind a modifier, an unknown variable is refused rather than guessed.
    @Test func variablesFromTheBaseImageWaitForTheBuildInEnvOnly() throws {
        let plan = try applied("FROM python:3.11\nENV PATH=/opt/conda/bin:$PATH LANG=C.UTF-8\nENV TOOLS=${PATH}:/opt/tools\n")
        #expect(env(plan) == ["PATH": "/opt/conda/bin:${PATH}", "LANG": "C.UTF-8", "TOOLS": "/opt/conda/bin:${PATH}:/opt/tools"])
        #expect(plan.config.baseReferences == ["PATH", "TOOLS"])
        #expect(failure { _ = try applied("ENV X=${HOME:-/root}\n") }?.hasPrefix("Dockerfile line 1: ENV uses $HOME") == true)
        #expect(failure { _ = try applied("LABEL x=$HOME\n") }?.hasPrefix("Dockerfile line 1: LABEL uses $HOME") == true)
        #expect(failure { _ = try applied("COPY $SRC /app/\n") }?.hasPrefix("Dockerfile line 1: COPY uses $SRC") == true)
        #expect(failure { _ = try applied("ARG TARGETARCH\nENV A=$TARGETARCH\n") }
            == "Dockerfile line 2: ENV uses $TARGETARCH, which Docker sets from the build platform and Kiln does not; give the ARG a default")
    }

    @Test func unknownVariablesInAnUnusedDefaultDoNotMatter() throws {
        let plan = try applied("ARG VERSION=1.0\nENV V=${VERSION:-$UNKNOWN} W=${VERSION:+$VERSION-x}\n")
        #expect(env(plan) == ["V": "1.0", "W": "1.0-x"])
        #expect(failure { _ = try applied("ARG EMPTY=\nENV V=${EMPTY:-$UNKNOWN}\n") }?.hasPrefix("Dockerfile line 2: ENV uses $UNKNOWN") == true)
    }

    @Test func theEnvironmentAlreadyInThePlanIsKnown() throws {
        var plan = BuildPlan()
        plan.config.setEnv("AZUREML_CONDA_ENVIRONMENT_PATH", "/azureml-envs/x")
        try apply("ENV PATH_ADDITION=$AZUREML_CONDA_ENVIRONMENT_PATH/bin\n", to: &plan, allowFrom: false)
        #expect(env(plan)["PATH_ADDITION"] == "/azureml-envs/x/bin")
    }

    @Test func argumentsBeforeFromOnlyReachFromUnlessDeclaredAgain() throws {
        var plan = BuildPlan()
        let image = try apply("""
            ARG REGISTRY=mcr.microsoft.com
            ARG TAG=latest
            ARG UNUSED
            FROM ${REGISTRY}/azureml/minimal:${TAG}${NOT_SET} AS base
            ARG TAG
            ARG LOCAL=$TAG-local
            ENV TAG=$TAG LOCAL=$LOCAL
            """, to: &plan)
        #expect(image == "mcr.microsoft.com/azureml/minimal:latest")
        #expect(env(plan) == ["TAG": "latest", "LOCAL": "latest-local"])
        #expect(failure { _ = try applied("ARG REGISTRY=x\nFROM scratch\nENV A=$REGISTRY\n") } == nil)
        #expect(failure { _ = try applied("ARG REGISTRY=x\nFROM python\nLABEL a=$REGISTRY\n") }?.hasPrefix("Dockerfile line 3: LABEL uses $REGISTRY") == true)
        #expect(failure { _ = try applied("FROM python:$TARGETARCH\n") }?.hasPrefix("Dockerfile line 1: FROM uses $TARGETARCH") == true)
    }

    @Test func argumentsWithoutADefaultAreEmptyAndEachDefaultSeesTheOnesBefore() throws {
        let plan = try applied("ARG VERSION\nARG A=1 B=${A}2\nENV V=\"[$VERSION]\" B=$B\n")
        #expect(env(plan) == ["V": "[]", "B": "12"])
    }

    @Test func overScratchEveryVariableIsKnown() throws {
        var plan = BuildPlan()
        #expect(try apply("FROM scratch\nENV A=$NOT_SET PATH=/app/bin:$PATH\n", to: &plan) == "scratch")
        #expect(env(plan) == ["A": "", "PATH": "/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    }

    @Test func nonASCIILabelsAndValues() throws {
        let plan = try applied("LABEL \"com.example.说明\"=\"模型 v1\" note='données' emoji=🔥\nENV GRÜSSE=größe\nLABEL from.env=$GRÜSSE\n")
        #expect(plan.config.labels == ["com.example.说明": "模型 v1", "note": "données", "emoji": "🔥", "from.env": "größe"])
        #expect(env(plan) == ["GRÜSSE": "größe"])
    }
}

/// ENV, LABEL, EXPOSE, WORKDIR, USER, CMD, ENTRYPOINT and FROM on the plan.
@Suite struct DockerfileConfigTests {
    @Test func workdirChainsFromThePreviousOne() throws {
        let plan = try applied("WORKDIR /app\nWORKDIR src\nWORKDIR ../lib/\nWORKDIR ./x/./y\n")
        #expect(plan.config.workingDir == "/app/lib/x/y")
        #expect(try applied("WORKDIR /a\nWORKDIR ../../..\n").config.workingDir == "/")
        #expect(try applied("ARG BASE=/srv\nWORKDIR $BASE/app\n").config.workingDir == "/srv/app")
    }

    @Test func aFirstRelativeWorkdirNeedsAKnownOne() throws {
        #expect(failure { _ = try applied("FROM python\nWORKDIR app\n") }
            == "Dockerfile line 2: WORKDIR 'app' is relative, and the base image's working directory is not known before the build; make it absolute, or set an absolute WORKDIR first")
        var plan = BuildPlan()
        plan.config.workingDir = "/var/azureml-app"
        try apply("WORKDIR code\n", to: &plan, allowFrom: false)
        #expect(plan.config.workingDir == "/var/azureml-app/code")
        #expect(try applied("FROM scratch\nWORKDIR app\n").config.workingDir == "/app")
    }

    @Test func exposeValidatesAndExpandsRanges() throws {
        let plan = try applied("ARG PORT=5001\nEXPOSE 80 8080/udp 9000-9001/TCP $PORT 80/tcp\n")
        #expect(plan.config.exposedPorts == ["80/tcp", "8080/udp", "9000/tcp", "9001/tcp", "5001/tcp"])
        for bad in ["70000", "80/http", "abc", "90-80", "127.0.0.1:80:80", "-1"] {
            #expect(failure { _ = try applied("EXPOSE \(bad)\n") }
                == "Dockerfile line 1: EXPOSE '\(bad)': expected PORT[/tcp|udp|sctp] or FIRST-LAST[/PROTOCOL], ports 0-65535")
        }
        #expect(failure { _ = try applied("EXPOSE\n") } == "Dockerfile line 1: EXPOSE requires at least one argument")
    }

    @Test func userLabelAndEnvGoToTheConfig() throws {
        let plan = try applied("ARG NAME=dockeruser\nUSER $NAME:users\nLABEL a=1 b=\"two words\"\nLABEL legacy value with spaces\nENV A=1\nENV A=2\n")
        #expect(plan.config.user == "dockeruser:users")
        #expect(plan.config.labels == ["a": "1", "b": "two words", "legacy": "value with spaces"])
        #expect(plan.config.env == [EnvVar(key: "A", value: "2")])
    }

    @Test func entrypointDropsTheBaseCmdUnlessACmdCameBefore() throws {
        var plan = BuildPlan()
        plan.config.cmd = ["from", "the", "command", "line"]
        try apply("ENTRYPOINT [\"python\"]\n", to: &plan)
        #expect(plan.config.entrypoint == ["python"])
        #expect(plan.config.cmd == nil)

        let before = try applied("CMD [\"app.py\"]\nENTRYPOINT [\"python\"]\n")
        #expect(before.config.cmd == ["app.py"])
        #expect(before.config.entrypoint == ["python"])

        let after = try applied("ENTRYPOINT python -u\nCMD [\"app.py\"]\n")
        #expect(after.config.entrypoint == ["/bin/sh", "-c", "python -u"])
        #expect(after.config.cmd == ["app.py"])
        #expect(try applied("CMD []\n").config.cmd == [])
    }

    @Test func fromRules() throws {
        #expect(failure { _ = try applied("FROM python:3.11\n", allowFrom: false) }
            == "Dockerfile line 1: FROM is not allowed in these steps: they are added to the image whose base the config names")
        #expect(failure { _ = try applied("FROM python AS build\nFROM scratch\n") }
            == "Dockerfile line 2: a second FROM is not supported: Kiln builds one stage (no multi-stage builds)")
        #expect(failure { _ = try applied("FROM python AS build\nCOPY --from=build /x /y\n") }
            == "Dockerfile line 2: COPY --from=build copies from a build stage: Kiln builds one stage (no multi-stage builds)")
        #expect(failure { _ = try applied("FROM python\nCOPY --from=nginx:latest /etc/nginx /etc/nginx\n") }
            == "Dockerfile line 2: COPY --from is not supported: Kiln builds one stage and copies only from the build context")
        #expect(failure { _ = try applied("ENV A=1\nFROM python\n") }
            == "Dockerfile line 1: ENV comes before FROM: only ARG may come before the first FROM")
        #expect(failure { _ = try applied("FROM --platform=linux/arm64 python\n") }
            == "Dockerfile line 1: FROM --platform is not supported: choose the platform with Kiln's --platform option")
        #expect(failure { _ = try applied("FROM python AS 1st\n") }?.hasPrefix("Dockerfile line 1: invalid name for build stage '1st'") == true)
        #expect(failure { _ = try applied("FROM a b\n") } == "Dockerfile line 1: FROM requires either one or three arguments: FROM image [AS name]")
        var plan = BuildPlan()
        #expect(try apply("FROM python:3.11-slim AS Final\nENV A=1\n", to: &plan) == "python:3.11-slim")
        // With allowFrom and no FROM, the file is steps: instructions apply and nothing is returned.
        #expect(try apply("ENV B=2\n", to: &plan) == nil)
        #expect(env(plan) == ["A": "1", "B": "2"])
    }

    @Test func refusedInstructionsNameTheFileLineAndInstruction() {
        let refused: [(String, String)] = [
            ("RUN pip install numpy", "RUN is not supported: Kiln runs no build steps"),
            ("RUN [\"pip\", \"install\", \"numpy\"]", "RUN is not supported: Kiln runs no build steps"),
            ("SHELL [\"/bin/bash\", \"-c\"]", "SHELL is not supported"),
            ("VOLUME /data", "VOLUME is not supported"),
            ("ONBUILD COPY . /app", "ONBUILD is not supported"),
            ("HEALTHCHECK CMD curl -f http://localhost/", "HEALTHCHECK is not supported"),
            ("STOPSIGNAL SIGINT", "STOPSIGNAL is not supported"),
            ("MAINTAINER someone@example.com", "MAINTAINER is not supported: Docker writes it to the image's author field"),
            ("FETCH something", "unknown instruction FETCH"),
        ]
        for (line, expected) in refused {
            let message = failure { _ = try applied("ENV A=1\n\n\(line)\n") }
            #expect(message?.hasPrefix("Dockerfile line 3: \(expected)") == true, "\(line): \(message ?? "no error")")
            #expect(message?.contains("\n") == false)
        }
        #expect(failure { _ = try applied("ENV --flag=x A=1\n") } == "Dockerfile line 1: ENV: unknown flag --flag")
        #expect(failure { _ = try applied("CMD --version\n") } == "Dockerfile line 1: CMD: unknown flag --version")
    }

    @Test func thePlanIsUnchangedWhenAnInstructionFails() {
        var plan = BuildPlan()
        plan.config.setEnv("KEEP", "1")
        let before = plan
        #expect(throws: AzureMLError.self) { try apply("ENV A=1\nLABEL b=2\nRUN true\n", to: &plan) }
        #expect(plan == before)
    }
}

/// COPY and ADD from a build context.
@Suite struct DockerfileCopyTests {
    /// A context with files, a folder with a subfolder, hidden files and non-ASCII names.
    func context() throws -> TemporaryDirectory {
        let directory = try TemporaryDirectory("kiln-dockerfile")
        try directory.write("requirements.txt", "numpy\n")
        try directory.write("a.txt", "a")
        try directory.write("b.txt", "b")
        try directory.write(".hidden.txt", "h")
        try directory.write("score.py", "def run(x): return x\n")
        try directory.write("src/app.py", "print(1)\n")
        try directory.write("src/lib/util.py", "x = 1\n")
        try directory.write("données.txt", "é")
        try directory.write("models/模型.bin", "m")
        try directory.write("data/one/x.bin", "1")
        try directory.write("data/two/x.bin", "2")
        try directory.write("data/two/y.bin", "3")
        return directory
    }

    func inputs(_ plan: BuildPlan) -> [[LayerInput]] { plan.layers.map(\.inputs) }

    @Test func fileToDirectoryAndToAFileName() throws {
        let directory = try context()
        let root = directory.path
        let plan = try applied("COPY requirements.txt /app/\nCOPY a.txt /app/renamed.txt\nADD score.py /srv/\n", context: root)
        #expect(plan.layers.map(\.kind) == [.files, .files, .files])
        #expect(plan.layers.map(\.description) == ["COPY requirements.txt /app/", "COPY a.txt /app/renamed.txt", "ADD score.py /srv/"])
        #expect(inputs(plan) == [[LayerInput(source: "\(root)/requirements.txt", destination: "/app/")],
                                 [LayerInput(source: "\(root)/a.txt", destination: "/app/renamed.txt")],
                                 [LayerInput(source: "\(root)/score.py", destination: "/srv/")]])
    }

    @Test func aDirectoryCopiesItsContents() throws {
        let directory = try context()
        let plan = try applied("COPY src /app\nCOPY . /everything/\nCOPY [\"src/\", \"/json form\"]\n", context: directory.path)
        #expect(inputs(plan) == [[LayerInput(source: "\(directory.path)/src", destination: "/app")],
                                 [LayerInput(source: directory.path, destination: "/everything")],
                                 [LayerInput(source: "\(directory.path)/src", destination: "/json form")]])
    }

    @Test func destinationsAreRelativeToWorkdir() throws {
        let directory = try context()
        let plan = try applied("WORKDIR /app\nCOPY a.txt .\nCOPY b.txt sub/\nCOPY score.py named.py\nCOPY src ../srv\n", context: directory.path)
        #expect(inputs(plan) == [[LayerInput(source: "\(directory.path)/a.txt", destination: "/app/")],
                                 [LayerInput(source: "\(directory.path)/b.txt", destination: "/app/sub/")],
                                 [LayerInput(source: "\(directory.path)/score.py", destination: "/app/named.py")],
                                 [LayerInput(source: "\(directory.path)/src", destination: "/srv")]])
        #expect(failure { _ = try applied("FROM python\nCOPY a.txt .\n", context: directory.path) }?
            .hasPrefix("Dockerfile line 2: COPY destination '.' is relative, and the base image's working directory is not known") == true)
    }

    @Test func aDirectoryThisDockerfileMadeTakesFilesIntoIt() throws {
        let directory = try context()
        let plan = try applied("WORKDIR /app\nCOPY a.txt /app\nCOPY src /srv\nCOPY b.txt /srv/lib\nCOPY score.py /srv/app.py\n", context: directory.path)
        #expect(inputs(plan).map { $0[0].destination } == ["/app/", "/srv", "/srv/lib/", "/srv/app.py"])
        var preset = BuildPlan()
        preset.config.workingDir = "/var/azureml-app"
        try apply("COPY a.txt ..\nCOPY b.txt /var/azureml-app\n", to: &preset, context: directory.path, allowFrom: false)
        #expect(inputs(preset).map { $0[0].destination } == ["/var/", "/var/azureml-app/"])
    }

    @Test func wildcardsMatchInByteOrderIncludingHiddenFiles() throws {
        let directory = try context()
        let root = directory.path
        let plan = try applied("COPY *.txt /app/\nCOPY data/*/x.bin data/t?o/[x-y].bin /bins/\nCOPY models/*.bin /m/\n", context: root)
        #expect(inputs(plan) == [
            [".hidden.txt", "a.txt", "b.txt", "données.txt", "requirements.txt"].map { LayerInput(source: "\(root)/\($0)", destination: "/app/") },
            // data/two/x.bin replaces data/one/x.bin at /bins/x.bin, as in Docker.
            ["data/two/x.bin", "data/two/y.bin"].map { LayerInput(source: "\(root)/\($0)", destination: "/bins/") },
            [LayerInput(source: "\(root)/models/模型.bin", destination: "/m/")],
        ])
        #expect(plan.layers[2].description == "COPY models/*.bin /m/")
        #expect(failure { _ = try applied("COPY *.nothing /app/\n", context: root) }
            == "Dockerfile line 1: COPY: nothing in the build context \(root) matches *.nothing")
        // A wildcard that matches nothing is skipped when another source matches, as in BuildKit.
        #expect(inputs(try applied("COPY *.nothing a.txt /app/\n", context: root)) == [[LayerInput(source: "\(root)/a.txt", destination: "/app/")]])
    }

    @Test func severalSourcesNeedADirectoryDestination() throws {
        let directory = try context()
        #expect(failure { _ = try applied("COPY a.txt b.txt /app\n", context: directory.path) }
            == "Dockerfile line 1: COPY with more than one source needs a directory destination ending in '/', not '/app'")
        #expect(failure { _ = try applied("COPY [ab].txt /app\n", context: directory.path) }?.hasPrefix("Dockerfile line 1: COPY with more than one source") == true)
        #expect(inputs(try applied("COPY [a].txt /one.txt\n", context: directory.path)) == [[LayerInput(source: "\(directory.path)/a.txt", destination: "/one.txt")]])
    }

    @Test func sourcesMayNotLeaveTheContext() throws {
        let outside = try TemporaryDirectory("kiln-outside")
        try outside.write("secret.txt", "s")
        let directory = try context()
        try directory.symlink("escape.txt", to: outside.file("secret.txt"))
        try directory.symlink("escape-dir", to: outside.path)
        try directory.symlink("inside.txt", to: "a.txt")
        try directory.symlink("dangling", to: "no-such-file")
        let root = directory.path
        #expect(failure { _ = try applied("COPY ../secret.txt /x\n", context: root) }
            == "Dockerfile line 1: COPY '../secret.txt' is outside the build context \(root)")
        #expect(failure { _ = try applied("COPY src/../../x /x\n", context: root) }?.hasPrefix("Dockerfile line 1: COPY 'src/../../x' is outside") == true)
        #expect(failure { _ = try applied("COPY escape.txt /x\n", context: root) }
            == "Dockerfile line 1: COPY 'escape.txt' is a symlink that leads outside the build context, to \(HostFileTestPath.real(outside.file("secret.txt")))")
        #expect(failure { _ = try applied("COPY escape-dir/secret.txt /x\n", context: root) }?.contains("leads outside the build context") == true)
        #expect(failure { _ = try applied("COPY escape* /x/\n", context: root) }?.contains("leads outside the build context") == true)
        #expect(failure { _ = try applied("COPY dangling /x\n", context: root) } == "Dockerfile line 1: COPY 'dangling' is a symlink to nothing")
        #expect(failure { _ = try applied("COPY missing.txt /x\n", context: root) }
            == "Dockerfile line 1: COPY 'missing.txt': not found in the build context \(root)")
        // A symlink that stays inside the context is followed, keeping its own name; `/` is the context's root.
        let plan = try applied("COPY inside.txt /app/\nCOPY /a.txt /b/\n", context: root)
        #expect(inputs(plan) == [[LayerInput(source: "\(root)/inside.txt", destination: "/app/")],
                                 [LayerInput(source: "\(root)/a.txt", destination: "/b/")]])
    }

    @Test func addRefusesArchivesAndURLs() throws {
        let directory = try context()
        var tar = Data(count: 512)
        tar.replaceSubrange(257..<262, with: Array("ustar".utf8))
        try directory.write("bundle.tar", tar)
        try directory.write("bundle.tar.gz", Data([0x1F, 0x8B, 0x08, 0x00]))
        let root = directory.path
        #expect(failure { _ = try applied("ADD bundle.tar /opt/\n", context: root) }
            == "Dockerfile line 1: ADD 'bundle.tar' is a tar archive, which Docker would extract and Kiln does not: extract it into the build context and COPY the folder, or COPY it to keep the archive")
        #expect(failure { _ = try applied("ADD bundle.* /opt/\n", context: root) }?.contains("'bundle.tar' is a tar archive") == true)
        #expect(failure { _ = try applied("ADD bundle.tar.gz /opt/\n", context: root) }?.contains("is a gzip archive") == true)
        #expect(inputs(try applied("COPY bundle.tar /opt/\n", context: root)) == [[LayerInput(source: "\(root)/bundle.tar", destination: "/opt/")]])
        #expect(inputs(try applied("ADD --unpack=false bundle.tar /opt/\n", context: root)).count == 1)
        #expect(failure { _ = try applied("ADD https://example.com/x.tgz /opt/\n", context: root) }
            == "Dockerfile line 1: ADD 'https://example.com/x.tgz' is remote: Kiln copies only from the build context; download it there first")
        #expect(failure { _ = try applied("ADD git@github.com:org/repo.git /src\n", context: root) }?.contains("is remote") == true)
    }

    @Test func ownershipModeAndOtherFlagsAreRefused() throws {
        let directory = try context()
        let root = directory.path
        #expect(failure { _ = try applied("COPY --chown=app:app a.txt /app/\n", context: root) }
            == "Dockerfile line 1: COPY --chown is not supported: Kiln writes files owned by root, as COPY does without it")
        #expect(failure { _ = try applied("ADD --chmod=755 a.txt /app/\n", context: root) }?
            .hasPrefix("Dockerfile line 1: ADD --chmod is not supported") == true)
        #expect(failure { _ = try applied("COPY --exclude=*.md . /app/\n", context: root) } == "Dockerfile line 1: COPY --exclude is not supported")
        #expect(failure { _ = try applied("COPY --unpack a.txt /app/\n", context: root) } == "Dockerfile line 1: COPY: unknown flag --unpack")
        #expect(failure { _ = try applied("COPY --link=maybe a.txt /app/\n", context: root) }
            == "Dockerfile line 1: COPY --link=maybe: expected true or false")
        #expect(inputs(try applied("COPY --link a.txt /app/\n", context: root)).count == 1)
        #expect(failure { _ = try applied("COPY a.txt\n", context: root) } == "Dockerfile line 1: COPY requires at least two arguments: sources, then a destination")
    }

    @Test func nonASCIINamesAndSubstitutedPaths() throws {
        let directory = try context()
        let root = directory.path
        let plan = try applied("ARG MODEL=模型\nARG DIR=/opt/données\nCOPY données.txt models/${MODEL}.bin $DIR/\n", context: root)
        #expect(plan.layers.map(\.description) == ["COPY données.txt models/模型.bin /opt/données/"])
        #expect(inputs(plan) == [[LayerInput(source: "\(root)/données.txt", destination: "/opt/données/"),
                                  LayerInput(source: "\(root)/models/模型.bin", destination: "/opt/données/")]])
    }

    @Test func aDockerignoreWithPatternsIsRefused() throws {
        let directory = try context()
        let root = directory.path
        try directory.write(".dockerignore", "# comments only\n\n")
        #expect(inputs(try applied("COPY a.txt /app/\n", context: root)).count == 1)
        try directory.write(".dockerignore", "# build output\n*.pyc\n")
        #expect(failure { _ = try applied("ENV A=1\nCOPY a.txt /app/\n", context: root) }
            == "Dockerfile line 2: COPY: \(root)/.dockerignore is not supported: Kiln would copy the files it leaves out; remove its patterns, or move those files out of the build context")
        // Without COPY or ADD the context is not read.
        #expect(env(try applied("ENV A=1\n", context: root)) == ["A": "1"])
    }

    @Test func loadedFromTheContextWithAFromLine() throws {
        let directory = try context()
        let dockerfile = try directory.write("Dockerfile", """
            # syntax=docker/dockerfile:1
            ARG PY=3.11
            FROM python:${PY}-slim

            WORKDIR /app
            COPY requirements.txt score.py ./
            ENV PYTHONUNBUFFERED=1 \\
                APP_HOME=/app
            EXPOSE 5001
            USER 1000:1000
            CMD ["python", "score.py"]
            """)
        var plan = BuildPlan()
        let image = try Dockerfile.load(dockerfile).apply(to: &plan, context: directory.path, allowFrom: true)
        #expect(image == "python:3.11-slim")
        #expect(plan.config.workingDir == "/app")
        #expect(inputs(plan) == [[LayerInput(source: directory.file("requirements.txt"), destination: "/app/"),
                                  LayerInput(source: directory.file("score.py"), destination: "/app/")]])
        #expect(env(plan) == ["PYTHONUNBUFFERED": "1", "APP_HOME": "/app"])
        #expect(plan.config.exposedPorts == ["5001/tcp"])
        #expect(plan.config.user == "1000:1000")
        #expect(plan.config.cmd == ["python", "score.py"])
    }
}

/// `realpath` for expected messages (a temporary directory may sit behind a symlink).
private enum HostFileTestPath {
    static func real(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }
}
