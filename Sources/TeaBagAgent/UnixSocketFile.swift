import Foundation
import TeaBagConfig
import TeaBagServerKit

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
        guard let fd = try? UnixSocket.connect(path) else { return false }
        close(fd)
        return true
    }
}
