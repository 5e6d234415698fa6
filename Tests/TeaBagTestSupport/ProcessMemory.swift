/// What the memory tests read of a child process and of a socket they let fill.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `RssAnon` of a process: its heap, without the database file pages SQLite maps.
public func anonymousBytes(pid: Int32) throws -> Int {
    let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") }),
          let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { throw TestFailure("no RssAnon in /proc/\(pid)/status") }
    return kb * 1024
}

/// Reads a socket until the end of its stream or until a read times out:
/// the bytes read, and whether it ended (EOF or a reset; a timeout is a
/// stream still open).
public func drainSocket(_ fd: Int32) -> (bytes: Int, ended: Bool) {
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    var total = 0
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            total += count
            continue
        }
        return (total, count == 0 || errno == ECONNRESET)
    }
}
