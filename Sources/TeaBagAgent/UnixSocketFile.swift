import Foundation
import TeaBagConfig

/// The socket path of an agent about to bind: a file left by an agent that
/// died (SIGKILL leaves it) is removed; one with an agent listening is an
/// error, never taken over.
enum UnixSocketFile {
    static func claim(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        if isListening(path) {
            throw ConfigError(origin: "configuration", key: "agent.socket",
                              problem: "another agent is already listening on \(path); stop it or give this one another --socket / --data")
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    static func isListening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return result == 0
    }
}
