/// HTTP/1.1 over a plain POSIX socket, for what a well-behaved client
/// library refuses to send: lying `Content-Length`s, endless chunked bodies,
/// thousands of headers, raw bytes in the request line, header bytes sent
/// one at a time. Blocking calls run on their own thread (`onThread`), so a
/// test waiting on a socket never holds a thread of the cooperative pool.
import Foundation
import TeaBagCore
#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work on a new thread and awaits its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

/// One response as read off the wire.
struct RawResponse: Sendable, CustomStringConvertible {
    let status: Int
    let headers: [(name: String, value: String)]
    let body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    var json: JSON? { try? JSON.parse(body) }
    var errorName: String? { json?["error"]?["name"]?.stringValue }
    var text: String { String(decoding: body, as: UTF8.self) }
    var description: String { "\(status) \(text)" }
}

struct RawSocketError: Error, CustomStringConvertible {
    let description: String
}

/// A TCP connection to 127.0.0.1:port. Not shared between threads.
final class RawConnection {
    let fd: Int32
    private var buffered: [UInt8] = []

    init(port: Int, timeout: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError(description: "socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw RawSocketError(description: "connect to port \(port): errno \(errno)")
        }
        setTimeout(timeout)
    }

    deinit { close(fd) }

    /// Blocking reads and writes give up after `seconds`.
    func setTimeout(_ seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends everything; false once the peer has closed (EPIPE, ECONNRESET) or a write timed out.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// No more bytes from us (the server sees EOF).
    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Up to 64 KiB, or nil on EOF, error or timeout.
    private func receive() -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Array(chunk[..<count])
    }

    /// The next response: head, then a body by `Content-Length`, else up to
    /// the close. Nil when the connection closed or timed out before a head.
    func readResponse() -> RawResponse? {
        while true {
            if let end = find([13, 10, 13, 10], in: buffered) {
                let head = String(decoding: buffered[..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
                let headers = lines.compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                }
                buffered.removeFirst(end + 4)
                let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) }
                if let length {
                    while buffered.count < length {
                        guard let more = receive() else { break }
                        buffered += more
                    }
                    let body = Array(buffered.prefix(length))
                    buffered.removeFirst(min(length, buffered.count))
                    return RawResponse(status: status, headers: headers, body: body)
                }
                while let more = receive() { buffered += more }
                defer { buffered = [] }
                return RawResponse(status: status, headers: headers, body: buffered)
            }
            guard let more = receive() else { return nil }
            buffered += more
        }
    }

    /// Whether the server closed the connection within `seconds` (EOF or reset).
    func closedByPeer(within seconds: Double) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let ready = poll(&poller, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000)))
            if ready > 0 {
                var byte: UInt8 = 0
                let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
                if count == 0 { return true }
                if count < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
                buffered.append(byte)  // data, not a close: keep it for a reader
            }
        }
        return false
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return start }
        }
        return nil
    }
}

/// One request on a new connection: its raw bytes, then the first answer.
func rawExchange(port: Int, _ request: [UInt8], timeout: Double = 5) async throws -> RawResponse? {
    try await onThread {
        let connection = try RawConnection(port: port, timeout: timeout)
        connection.send(request)
        return connection.readResponse()
    }
}

/// The bytes of a request head (CRLF line ends, a final empty line).
func requestHead(_ method: String, _ target: String, headers: [(String, String)] = []) -> [UInt8] {
    var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    return Array((text + "\r\n").utf8)
}
