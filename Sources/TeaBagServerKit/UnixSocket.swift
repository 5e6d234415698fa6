/// Connecting to a Unix-domain socket by path, below any HTTP client: the
/// agent's check for a live agent on its socket file, the bench's load
/// generator and the tests' raw clients.
#if canImport(Glibc)
import Glibc
#endif

public enum UnixSocket {
    public struct ConnectError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A blocking stream socket connected to `path`; the caller closes it.
    public static func connect(_ path: String) throws(ConnectError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ConnectError(description: "socket(): errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw ConnectError(description: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let error = errno
            close(fd)
            throw ConnectError(description: "connect to \(path): errno \(error)")
        }
        return fd
    }
}
