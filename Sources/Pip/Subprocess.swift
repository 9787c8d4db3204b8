import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process in its own process group, with output to a file and a deadline: at the deadline, or
/// when the task is cancelled, the whole group is killed (a build's compilers and helpers too).
public enum Subprocess {
    public enum Outcome: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
    }

    /// Runs `arguments` (the first is an absolute path) with exactly `environment`, stdin from /dev/null and
    /// stdout and stderr appended to `log`, in Kiln's working directory (a script changes its own).
    public static func run(_ arguments: [String], environment: [String: String], log: String, timeout: Duration) async throws -> Outcome {
        guard let executable = arguments.first else { throw PipError.build("nothing to run") }
        let logFD = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard logFD >= 0 else { throw PipError.build("cannot write \(log): \(String(cString: strerror(errno)))") }
        defer { close(logFD) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, logFD, 1)
        posix_spawn_file_actions_adddup2(&actions, logFD, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else { throw PipError.build("cannot start \(executable): \(String(cString: strerror(status)))") }
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(5)
        while true {
            var waitStatus: Int32 = 0
            let done = waitpid(pid, &waitStatus, WNOHANG)
            if done == pid {
                // Helpers the build left running in its group do not outlive it.
                kill(-pid, SIGKILL)
                let signal = waitStatus & 0x7f
                return signal == 0 ? .exited((waitStatus >> 8) & 0xff) : .signalled(signal)
            }
            if ContinuousClock.now >= deadline || Task.isCancelled {
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &waitStatus, 0)
                if Task.isCancelled { throw CancellationError() }
                return .timedOut
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(100))
        }
    }
}
