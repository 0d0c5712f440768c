import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The progress of one long operation, on one line of stderr:
/// `importing  42% [########------------]  16.8 MB of 40.0 MB  120.3 MB/s  0:01 left`.
///
/// Drawn only when stderr is a terminal: in a pipe or a log file a redrawn line is noise,
/// so there nothing is written at all. However often the work reports (chunk by chunk,
/// from many threads), the line is redrawn at most ten times a second; `finish()` draws
/// the last state if it was not shown yet and then erases the line, so that what the verb
/// prints next starts on a clean line. Reports may arrive out of order from concurrent
/// workers: the largest count seen for a total wins, so the bar never moves back.
final class ProgressBar: @unchecked Sendable {
    /// Seconds between two redraws at least.
    static let interval = 0.1

    private let label: String
    private let enabled: Bool
    private let lock = NSLock()
    private let started = Date()
    private var lastDraw: Date?
    private var done = 0
    private var total = 0
    /// The state last drawn, so that `finish()` knows whether the last report was shown.
    private var shown: (done: Int, total: Int)?

    /// `label` names the work (`importing`, `verifying`); `enabled` is for tests only.
    init(_ label: String, enabled: Bool = Terminal.stderrIsTerminal) {
        self.label = label
        self.enabled = enabled
    }

    /// The bar as a library progress callback `(done, total)`.
    var callback: (_ done: Int, _ total: Int) -> Void { { [self] in update($0, of: $1) } }

    func update(_ done: Int, of total: Int) {
        guard enabled, total > 0 else { return }
        lock.lock()
        defer { lock.unlock() }
        let clamped = min(max(done, 0), total)
        if total != self.total {
            self.total = total
            self.done = clamped
        } else {
            self.done = max(self.done, clamped)
        }
        let now = Date()
        if let lastDraw, now.timeIntervalSince(lastDraw) < Self.interval { return }
        draw(at: now)
    }

    /// Shows the final state if the rate limit held it back, then erases the line.
    func finish() {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        guard let shown else { return }
        if shown.done != done || shown.total != total { draw(at: Date()) }
        Self.write("\r\u{1B}[K")
        self.shown = nil
    }

    private func draw(at now: Date) {
        lastDraw = now
        shown = (done, total)
        var line = Self.line(label: label, done: done, total: total, seconds: now.timeIntervalSince(started))
        let columns = Self.columns
        if columns > 0, line.count >= columns { line = String(line.prefix(columns - 1)) }
        Self.write("\r" + line + "\u{1B}[K")
    }

    /// One frame of the bar; the rate and the time left appear once there is a rate to tell.
    static func line(label: String, done: Int, total: Int, seconds: Double) -> String {
        let width = 20
        let percent = total > 0 ? Int(Double(done) / Double(total) * 100) : 0
        let filled = total > 0 ? min(width, Int(Double(width) * Double(done) / Double(total))) : 0
        var line = label + "  " + String(repeating: " ", count: max(0, 3 - String(percent).count)) + "\(percent)% ["
            + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]  "
            + "\(Terminal.bytes(done)) of \(Terminal.bytes(total))"
        if seconds > 0, done > 0 {
            let rate = Double(done) / seconds
            line += "  \(Terminal.bytes(Int(rate.rounded())))/s"
            if done < total { line += "  \(duration(Double(total - done) / rate)) left" }
        }
        return line
    }

    /// 75 -> "1:15", 3725 -> "1:02:05".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 100 * 3600 else { return "--:--" }
        let whole = Int(seconds.rounded(.up))
        let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }

    /// The terminal's width, 0 when unknown.
    private static var columns: Int {
        var size = winsize()
        guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0 else { return 0 }
        return Int(size.ws_col)
    }

    private static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
