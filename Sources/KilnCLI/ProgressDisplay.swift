import Foundation
import Progress

/// Draws library progress on stderr: live lines on a terminal, plain lines on pipes and in CI, nothing
/// with `--quiet`. stdout is never touched, so `--json` output stays one document.
///
/// On a terminal the running steps are one line each, redrawn five times a second; on a pipe a running
/// step gets a line every `interval` seconds. A step that took a second or more leaves one final line. ConsoleKit's Terminal would draw this, but it writes to stdout only; the two escape
/// sequences used here (erase line, cursor up) are the whole of the terminal handling.
final class ProgressDisplay: ProgressReporter, @unchecked Sendable {
    enum Mode: String, CaseIterable, Sendable {
        case live, plain, quiet
    }

    let mode: Mode
    /// Seconds between plain lines for a running step.
    let interval: Double
    private let lock = NSLock()
    private var running: [Int: ProgressSnapshot] = [:]
    private var order: [Int] = []
    private var lastPlain: [Int: Double] = [:]
    private var drawnLines = 0
    private var timer: DispatchSourceTimer?
    private var frame = 0
    private let write: @Sendable (String) -> Void

    init(mode: Mode, interval: Double = 5, write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.mode = mode
        self.interval = interval
        self.write = write
        guard mode != .quiet else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "kiln.progress"))
        timer.schedule(deadline: .now() + .milliseconds(200), repeating: mode == .live ? .milliseconds(200) : .milliseconds(500))
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        self.timer = timer
    }

    /// Live on a terminal (unless TERM is dumb), plain otherwise; quiet wins.
    static func mode(quiet: Bool, requested: Mode?) -> Mode {
        if quiet { return .quiet }
        if let requested { return requested }
        let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
        return isatty(2) == 1 && term != "dumb" && !term.isEmpty ? .live : .plain
    }

    func update(_ step: ProgressSnapshot) {
        guard mode != .quiet else { return }
        lock.withLock {
            switch step.state {
            case .running:
                if running[step.id] == nil { order.append(step.id) }
                running[step.id] = step
            case .finished, .failed:
                running[step.id] = nil
                order.removeAll { $0 == step.id }
                lastPlain[step.id] = nil
                // A failed step is told by the error line alone, so an error stays one line; a step under a
                // second is not worth a line of its own.
                if step.state == .finished, step.elapsed >= 1 { emitLocked(Self.finalLine(step)) } else if mode == .live { redrawLocked() }
            }
        }
    }

    /// Prints `line` (a note, a log line) above the live lines.
    func line(_ text: String) {
        lock.withLock { emitLocked(text) }
    }

    /// Stops drawing and clears the live lines.
    func stop() {
        timer?.cancel()
        timer = nil
        lock.withLock {
            clearLocked()
        }
    }

    private func tick() {
        lock.withLock {
            switch mode {
            case .live:
                frame += 1
                redrawLocked()
            case .plain:
                for id in order {
                    guard let step = running[id], step.elapsed >= interval else { continue }
                    let now = Date().timeIntervalSince1970
                    if now - (lastPlain[id] ?? 0) >= interval {
                        lastPlain[id] = now
                        write("kiln: \(Self.describe(step))\n")
                    }
                }
            case .quiet:
                break
            }
        }
    }

    private func emitLocked(_ text: String) {
        clearLocked()
        write(text + "\n")
        if mode == .live { redrawLocked() }
    }

    private func clearLocked() {
        guard mode == .live, drawnLines > 0 else { return }
        write(String(repeating: "\u{1B}[1A\u{1B}[2K", count: drawnLines) + "\r")
        drawnLines = 0
    }

    private func redrawLocked() {
        clearLocked()
        let width = Self.columns()
        let spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"][frame % 10]
        let lines = order.compactMap { running[$0] }.map { "\(spinner) \(Self.describe($0))" }.map { String($0.prefix(width - 1)) }
        guard !lines.isEmpty else { return }
        write(lines.map { $0 + "\n" }.joined())
        drawnLines = lines.count
    }

    static func columns() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 { return Int(size.ws_col) }
        return 100
    }

    /// `title: 312.0 MiB / 1.0 GiB, 85.2 MiB/s, ETA 8 s` (the parts that are known).
    static func describe(_ step: ProgressSnapshot) -> String {
        var parts: [String] = []
        let amount = amount(step.completed, step.unit)
        if let total = step.total, total > 0 {
            parts.append("\(amount) / \(Self.amount(total, step.unit))")
        } else if step.completed > 0 {
            parts.append(amount)
        }
        let rate = step.elapsed > 0.2 ? Double(step.completed) / step.elapsed : 0
        if rate > 0 { parts.append(step.unit == .bytes ? "\(bytes(Int64(rate)))/s" : String(format: "%.1f/s", rate)) }
        if rate > 0, let total = step.total, total > step.completed {
            parts.append("ETA \(duration(Double(total - step.completed) / rate))")
        }
        if parts.isEmpty { parts.append(duration(step.elapsed)) }
        return "\(step.title): " + parts.joined(separator: ", ")
    }

    /// `kiln: title: done, 1.0 GiB in 12.3 s (83.0 MiB/s)` or `kiln: title: failed after 3.1 s`.
    static func finalLine(_ step: ProgressSnapshot) -> String {
        guard step.state == .finished else { return "kiln: \(step.title): failed after \(duration(step.elapsed))" }
        var text = "kiln: \(step.title): done"
        if step.completed > 0 { text += ", \(amount(step.completed, step.unit))" }
        text += " in \(duration(step.elapsed))"
        if step.unit == .bytes, step.elapsed > 0.05, step.completed > 0 { text += " (\(bytes(Int64(Double(step.completed) / step.elapsed)))/s)" }
        return text
    }

    static func amount(_ value: Int64, _ unit: ProgressUnit) -> String {
        unit == .bytes ? bytes(value) : "\(value)"
    }

    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var size = Double(value)
        var index = 0
        while size >= 1024, index < units.count - 1 {
            size /= 1024
            index += 1
        }
        return index == 0 ? "\(value) B" : String(format: "%.1f", size) + " " + units[index]
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        return whole < 3600 ? "\(whole / 60) min \(whole % 60) s" : "\(whole / 3600) h \(whole % 3600 / 60) min"
    }
}
