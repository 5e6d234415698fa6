/// Once bound, each role prints one line on stdout and flushes it
/// (docs/cli.md): what scripts and tests wait for.
import Foundation
import NIOCore
import Synchronization

public enum Readiness {
    public static func announce(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

/// The address a server actually bound (port 0 picks one), known once it runs.
public final class BoundAddress: Sendable {
    private let value = Mutex<(host: String, port: Int)?>(nil)
    public init() {}

    public func set(_ channel: any Channel) {
        guard let address = channel.localAddress, let port = address.port else { return }
        let host = address.ipAddress ?? "127.0.0.1"
        value.withLock { $0 = (host, port) }
    }

    public var current: (host: String, port: Int)? { value.withLock { $0 } }

    /// `http://host:port` (IPv6 in brackets).
    public var url: String? {
        guard let (host, port) = current else { return nil }
        return host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)"
    }
}
