/// Oversized bodies, a lying Content-Length (shorter and longer than the
/// body), malformed framing and an endless chunked body, over raw sockets:
/// each refused with the protocol's error (or, where the client broke the
/// framing, the connection closed), nothing stored, and an endless body cut
/// off at the limit rather than read forever.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Attacks: request bodies")
struct BodyAttackTests {
    /// A target that takes a JSON body: the route's port, path and error kind.
    struct Target: Sendable {
        let name: String
        let port: Int
        let path: String
        let kind: String
    }

    static func targets(_ d: Deployment) -> [Target] {
        var targets = [
            Target(name: "store push", port: d.storePort, path: "/user/1/oplog?type=counter&path=/b&store_token=\(d.user.token)", kind: "UserError"),
            Target(name: "store batch", port: d.storePort, path: "/user/1/oplog/batch?store_token=\(d.user.token)", kind: "UserError"),
            Target(name: "table enrollment", port: d.tablePort, path: "/user/1/table/other/store?master=secret", kind: "TableError"),
        ]
        if let agent = d.agent {
            targets.append(Target(name: "agent push", port: agent.port, path: "/v1/push/main/counter/b", kind: "UserError"))
        }
        return targets
    }

    static let limit = 1 << 20
    /// A megabyte each way through a server on a loaded 2-core machine
    /// (the whole suite beside it) took longer than the default 5 s.
    static let ioTimeout = 30.0

    @Test("a body over the limit is 413 <Kind>:BodyTooLarge, with Content-Length or chunked, and the connection is closed, not drained")
    func oversized() async throws {
        try await withDeployment(agent: true) { d in
            let tally = AttackTally(.bodies, test: "oversized bodies")
            let body = [UInt8](repeating: 0x20, count: Self.limit + 1)  // whitespace: valid JSON padding, only its size is wrong
            try await d.expectUnchanged(tally, "oversized bodies") {
                for target in Self.targets(d) {
                    // Content-Length over the limit: refused before a byte of the body is read.
                    let declared = try await onThread { () -> (RawResponse?, Bool) in
                        let c = try RawConnection(port: target.port, timeout: Self.ioTimeout)
                        c.send(requestHead("POST", target.path, headers: [("Content-Type", "application/json"), ("Content-Length", String(body.count))]))
                        let answer = c.readResponse()
                        c.send(body)
                        return (answer, c.closedByPeer(within: 5))
                    }
                    tally.expectError(declared.0, status: 413, name: "\(target.kind):BodyTooLarge", "\(target.name): Content-Length over the limit")
                    #expect(declared.0?.header("Connection")?.lowercased() == "close", "\(target.name): \(String(describing: declared.0?.headers))")
                    #expect(declared.1, "\(target.name): the connection stays open after a 413")
                    // A Content-Length no server could take.
                    let huge = try await rawExchange(port: target.port, requestHead("POST", target.path, headers: [
                        ("Content-Type", "application/json"), ("Content-Length", "999999999999999999")]))
                    tally.expectError(huge, status: 413, name: "\(target.kind):BodyTooLarge", "\(target.name): Content-Length 10^18")
                    // Chunked, no length: refused once the limit is passed.
                    let chunked = try await onThread { () -> RawResponse? in
                        let c = try RawConnection(port: target.port, timeout: Self.ioTimeout)
                        c.send(requestHead("POST", target.path, headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]))
                        for offset in stride(from: 0, to: body.count, by: 65_536) {
                            let chunk = Array(body[offset..<min(body.count, offset + 65_536)])
                            guard c.send(Array(String(chunk.count, radix: 16).utf8) + [13, 10] + chunk + [13, 10]) else { break }
                        }
                        c.send("0\r\n\r\n")
                        return c.readResponse()
                    }
                    tally.expectError(chunked, status: 413, name: "\(target.kind):BodyTooLarge", "\(target.name): chunked over the limit")
                }
            }
            tally.save()
        }
    }

    @Test("an endless chunked body is cut off at the size limit: 413, then the server closes the connection")
    func endlessChunked() async throws {
        try await withDeployment(agent: true) { d in
            let tally = AttackTally(.bodies, test: "endless chunked body")
            try await d.expectUnchanged(tally, "endless chunked bodies") {
                for target in Self.targets(d) {
                    let (answer, sent) = try await onThread { () -> (RawResponse?, Int) in
                        let c = try RawConnection(port: target.port, timeout: Self.ioTimeout)
                        c.send(requestHead("POST", target.path, headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]))
                        let chunk = Array("4000\r\n".utf8) + [UInt8](repeating: 0x20, count: 0x4000) + [13, 10]
                        var sent = 0
                        // At most 256 MiB: far past any buffering, bounded so a failing server fails the test, not hangs it.
                        while sent < 256 << 20, c.send(chunk) { sent += 0x4000 }
                        return (c.readResponse(), sent)
                    }
                    tally.expectError(answer, status: 413, name: "\(target.kind):BodyTooLarge", "\(target.name): endless chunked body")
                    // Cut off: what was sent is the limit plus what the kernel's buffers took, not the 256 MiB.
                    #expect(sent < 64 << 20, "\(target.name): the server read \(sent) bytes of an endless body")
                }
            }
            tally.save()
        }
    }

    @Test("a lying Content-Length: shorter is 400 InvalidJSON and the rest is no request; longer, then EOF, is never read as a whole body; nothing is stored")
    func lyingContentLength() async throws {
        try await withDeployment(agent: true) { d in
            let tally = AttackTally(.bodies, test: "lying content-length")
            let op = Array(payloadOp(nowMs(), "lying", 1).canonicalString.utf8)
            try await d.expectUnchanged(tally, "lying Content-Length") {
                for target in Self.targets(d) where target.name != "store batch" {
                    // Shorter: the server reads a truncated op; the bytes after it are not a request.
                    let shorter = try await onThread { () -> [RawResponse] in
                        let c = try RawConnection(port: target.port)
                        c.send(requestHead("POST", target.path, headers: [("Content-Type", "application/json"), ("Content-Length", "10")]) + op)
                        return [c.readResponse(), c.readResponse()].compactMap { $0 }
                    }
                    tally.expectError(shorter.first, status: 400, name: "\(target.kind):InvalidJSON", "\(target.name): Content-Length shorter")
                    tally.expectError(shorter.dropFirst().first, status: 400, name: "ServerError:BadRequest", "\(target.name): the rest of the body")
                    // Longer, then the client stops: the body never completes, the op is never read as whole.
                    let halfClosed = try await onThread { () -> (RawResponse?, Bool) in
                        let c = try RawConnection(port: target.port)
                        c.send(requestHead("POST", target.path, headers: [("Content-Type", "application/json"), ("Content-Length", String(op.count + 50))]) + op)
                        c.shutdownWrite()
                        let answer = c.readResponse()
                        return (answer, answer == nil || c.closedByPeer(within: 5))
                    }
                    // The server may answer 400 before it closes, or just close: never a 2xx, never a 5xx.
                    let answered = halfClosed.0.map { AttackTally.isProtocolError($0, statuses: [400], name: nil) } ?? true
                    #expect(answered && halfClosed.1, "\(target.name): Content-Length longer, then EOF: \(String(describing: halfClosed.0))")
                    tally.record(refused: answered && halfClosed.1)
                }
            }
            tally.save()
        }
    }

    @Test("a body shorter than its Content-Length, and then silence: the idle timeout closes the connection; nothing is stored")
    func bodyThatNeverComes() async throws {
        try await withShortIdleDeployment(idleTimeoutMs: 1_000) { d in
            let tally = AttackTally(.bodies, test: "a body that never comes")
            let targets = [("table enrollment", d.tablePort, "/user/1/table/other/store?master=secret", "{\"store_url\":"),
                           ("store push", d.storePort, "/user/1/oplog?type=counter&path=/w&store_token=\(d.token)", "{\"date\":1,")]
            try await d.expectUnchanged(tally, "bodies that never come") {
                for (name, port, path, start) in targets {
                    let closed = try await onThread { () -> Bool in
                        let c = try RawConnection(port: port, timeout: 10)
                        c.send(requestHead("POST", path, headers: [("Content-Type", "application/json"), ("Content-Length", "500")]) + Array(start.utf8))
                        let sent = Date()
                        return c.closedByPeer(within: 8) && Date().timeIntervalSince(sent) < 8
                    }
                    #expect(closed, "\(name): the server kept a connection whose body never came")
                    tally.record(refused: closed)
                }
            }
            tally.save()
        }
    }

    @Test("malformed framing: bad, negative, doubled or conflicting Content-Length and Transfer-Encoding are 400 ServerError:BadRequest")
    func malformedFraming() async throws {
        try await withDeployment(agent: true) { d in
            let tally = AttackTally(.bodies, test: "malformed framing")
            let op = payloadOp(nowMs(), "framing", 1).canonicalString
            let cases: [(String, [(String, String)], String)] = [
                ("Content-Length not a number", [("Content-Length", "abc")], op),
                ("negative Content-Length", [("Content-Length", "-1")], op),
                ("two different Content-Lengths", [("Content-Length", "5"), ("Content-Length", String(op.utf8.count))], op),
                ("Content-Length and chunked", [("Content-Length", String(op.utf8.count)), ("Transfer-Encoding", "chunked")],
                 String(op.utf8.count, radix: 16) + "\r\n" + op + "\r\n0\r\n\r\n"),
                ("a chunk size that is not hex", [("Transfer-Encoding", "chunked")], "zz\r\n" + op + "\r\n0\r\n\r\n"),
                ("an unknown transfer coding", [("Transfer-Encoding", "gzip, chunked, rot13")], "0\r\n\r\n"),
            ]
            try await d.expectUnchanged(tally, "malformed framing") {
                for target in Self.targets(d) {
                    for (what, headers, body) in cases {
                        let answer = try await rawExchange(port: target.port,
                                                           requestHead("POST", target.path, headers: [("Content-Type", "application/json")] + headers) + Array(body.utf8))
                        tally.expectError(answer, status: 400, "\(target.name): \(what)")
                    }
                }
            }
            tally.save()
        }
    }
}
