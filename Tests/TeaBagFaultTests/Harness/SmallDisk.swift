/// A small tmpfs of its own, mounted for one scenario (the suite runs as
/// root in a VM), that a filler file fills to the last byte and that is
/// emptied again: a disk that fills up, for real — SQLite sees ENOSPC.
import Foundation
import TeaBagTestSupport

final class SmallDisk: Sendable {
    let path: String
    private var filler: String { path + "/.filler" }

    private init(path: String) { self.path = path }

    /// Mounts a tmpfs of `megabytes` at `path` (created); throws, saying
    /// why, when mounting is not possible (not root, no CAP_SYS_ADMIN).
    static func mount(at path: String, megabytes: Int) throws -> SmallDisk {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mount = try ChildProcess("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=\(megabytes)m,mode=0700", "tmpfs", path],
                                     stderr: .pipe)
        let status = mount.waitUntilExit()
        guard status == 0 else {
            let reason = String(decoding: mount.stderr?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
            throw TestFailure("cannot mount a tmpfs at \(path) (status \(status)): \(reason.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return SmallDisk(path: path)
    }

    /// Writes a filler file until the disk refuses another byte; its size.
    @discardableResult
    func fill() -> Int {
        let fd = open(filler, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var written = 0
        for chunk in [1 << 20, 64 << 10, 4 << 10, 512, 1] {
            let bytes = [UInt8](repeating: 0x5a, count: chunk)
            while true {
                let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, chunk) }
                guard n > 0 else { break }
                written += n
            }
        }
        return written
    }

    /// Space returns.
    func free() { unlink(filler) }

    /// Bytes still free.
    var available: Int {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return -1 }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// Unmounts (lazily if a file is still open somewhere).
    func unmount() {
        for arguments in [["umount", path], ["umount", "-l", path]] {
            if let process = try? ChildProcess("/usr/bin/env", arguments), process.waitUntilExit() == 0 { return }
        }
    }
}
