/// The agent bench's load generator for the local API's rate runs: one
/// blocking keep-alive HTTP/1.1 connection per worker over the agent's Unix
/// socket, each on its own thread. AsyncHTTPClient was the limit before:
/// at 16 workers reading values it took 1.3 of the 2 cores (against the
/// agent's 0.6), so the figure was the bench's. A request here is one
/// `write` and, most often, one `read`.
import Foundation
import Synchronization
import TeaBagCore
import TeaBagServerKit
#if canImport(Glibc)
import Glibc
#endif

/// One connection to an agent's socket; not thread-safe (one per worker).
final class UnixSocketConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// What each `read` fills, kept: no allocation per request on the load generator's own path.
    private var chunk = [UInt8](repeating: 0, count: 16_384)

    init(_ path: String) throws {
        do { fd = try UnixSocket.connect(path) } catch { throw BenchError(error.description) }
    }

    deinit { close(fd) }

    /// `POST /v1/push/main/counter<path>` body `1`: the new value.
    func push(_ path: String) throws -> Double {
        try value("POST /v1/push/main/counter\(path) HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nContent-Length: 1\r\n\r\n1")
    }

    /// `GET /v1/value/main/counter<path>`: the value.
    func get(_ path: String) throws -> Double {
        try value("GET /v1/value/main/counter\(path) HTTP/1.1\r\nHost: agent\r\n\r\n")
    }

    private func value(_ request: String) throws -> Double {
        let (status, body) = try exchange(Array(request.utf8))
        guard status == 200 else { throw BenchError("\(request.prefix(while: { $0 != "\r" })): \(status) \(String(decoding: body, as: UTF8.self))") }
        return try JSON.parse(body)["value"]?.doubleValue ?? 0
    }

    /// Sends one request and reads its answer (a `Content-Length` body, as the agent answers).
    private func exchange(_ request: [UInt8]) throws -> (Int, [UInt8]) {
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw BenchError("write: errno \(errno)") }
            sent += n
        }
        while true {
            if let answer = try parse() { return answer }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw BenchError("read: \(n == 0 ? "the agent closed the connection" : "errno \(errno)")") }
            buffer += chunk[0..<n]
        }
    }

    /// A whole answer from the front of `buffer`, removed; nil while incomplete.
    private func parse() throws -> (Int, [UInt8])? {
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        guard buffer.count >= 4, let headEnd = (0...(buffer.count - 4)).first(where: { buffer[$0..<$0 + 4].elementsEqual(end) }) else { return nil }
        let head = String(decoding: buffer[0..<headEnd], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else {
            throw BenchError("not an HTTP answer: \(head.prefix(80))")
        }
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        let total = headEnd + 4 + length
        guard buffer.count >= total else { return nil }
        let body = Array(buffer[(headEnd + 4)..<total])
        buffer.removeFirst(total)
        return (status, body)
    }
}

/// Workers on their own threads, each with its own connection, awaited
/// without holding a thread of Swift's pool.
enum ThreadedLoad {
    /// Runs `worker(index, connection)` on `count` threads; their results in index order.
    static func run<T: Sendable>(_ count: Int, socket: String,
                                 _ worker: @escaping @Sendable (Int, UnixSocketConnection) throws -> T) async throws -> [T] {
        let connections = try (0..<count).map { _ in try UnixSocketConnection(socket) }
        let results = Mutex<[Int: Result<T, any Error>]>([:])
        let boxes = connections.map { UncheckedBox($0) }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let remaining = Mutex(count)
            for index in 0..<count {
                let box = boxes[index]
                let thread = Thread {
                    let result = Result { try worker(index, box.value) }
                    results.withLock { $0[index] = result }
                    if remaining.withLock({ $0 -= 1; return $0 }) == 0 { done.resume() }
                }
                thread.stackSize = 1 << 20
                thread.start()
            }
        }
        return try (0..<count).map { index in try results.withLock { $0[index]! }.get() }
    }
}

/// A connection handed to the one thread that uses it.
private final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
