/// A TCP proxy on 127.0.0.1 in front of one store, enrolled as that store's
/// URL, which cuts the link the way a network partition does: while
/// partitioned it accepts connections and forwards nothing either way — no
/// reset, no error, the peers just hear nothing (their timeouts must notice).
/// Healing either lets the held bytes flow again (a short partition, which
/// TCP rides out) or resets every connection (one long enough for
/// connections to die), and forwarding resumes.
///
/// Plain sockets and one thread per connection: a few dozen connections at most.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

final class PartitionProxy: Sendable {
    let port: Int
    /// Where connections go; with several, round-robin over those that accept
    /// (the stand-in balancer in front of instances sharing one PostgreSQL).
    private let targets: Mutex<[Int]>
    private let nextTarget = Mutex(0)
    var targetPort: Int { targets.withLock { $0.first ?? 0 } }
    private let listener: Int32
    private let state = Mutex<State>(State())

    private struct State {
        var partitioned = false
        var closed = false
        /// Connection id → (client socket, upstream socket once connected).
        var links: [Int: (client: Int32, upstream: Int32?)] = [:]
        var nextID = 0
    }

    convenience init(targetPort: Int) throws { try self.init(targetPorts: [targetPort]) }

    init(targetPorts: [Int]) throws {
        targets = Mutex(targetPorts)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket: \(String(cString: strerror(errno)))") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw ProxyError("bind/listen: \(String(cString: strerror(errno)))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// The instances behind a balancer, once their ports are known.
    func setTargets(_ ports: [Int]) { targets.withLock { $0 = ports } }

    /// The next target that accepts a connection, or -1.
    private func connectUpstream() -> Int32 {
        let ports = targets.withLock { $0 }
        guard !ports.isEmpty else { return -1 }
        let start = nextTarget.withLock { next in
            defer { next += 1 }
            return next
        }
        for offset in 0..<ports.count {
            let fd = Self.connectLoopback(port: ports[(start + offset) % ports.count])
            if fd >= 0 { return fd }
        }
        return -1
    }

    /// From now on nothing is forwarded, on old or new connections.
    func partition() { state.withLock { $0.partitioned = true } }

    /// Forwarding resumes; with `resetConnections`, every connection held
    /// through the partition is closed first (the peers see a reset).
    func heal(resetConnections: Bool) {
        state.withLock { state in
            if resetConnections { Self.shutAll(&state) }
            state.partitioned = false
        }
    }

    func stop() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            Self.shutAll(&state)
            // accept() returns once the listener is shut down.
            shutdown(listener, Int32(SHUT_RDWR))
        }
    }

    /// Shuts every connection down; each thread closes its own sockets.
    private static func shutAll(_ state: inout State) {
        for (_, link) in state.links {
            shutdown(link.client, Int32(SHUT_RDWR))
            if let upstream = link.upstream { shutdown(upstream, Int32(SHUT_RDWR)) }
        }
        state.links.removeAll()
    }

    private func acceptLoop() {
        defer { close(listener) }
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let id: Int? = state.withLock { state in
                guard !state.closed else { return nil }
                let id = state.nextID
                state.nextID += 1
                state.links[id] = (client, nil)
                return id
            }
            guard let id else {
                close(client)
                return
            }
            Thread { [self] in serve(id: id, client: client) }.start()
        }
    }

    private func serve(id: Int, client: Int32) {
        var upstream: Int32 = -1
        defer {
            // Forgotten first, so that a reset never shuts a descriptor number already reused.
            state.withLock { _ = $0.links.removeValue(forKey: id) }
            close(client)
            if upstream >= 0 { close(upstream) }
        }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let (partitioned, alive) = state.withLock { ($0.partitioned, !$0.closed && $0.links[id] != nil) }
            guard alive else { return }
            if partitioned {
                // Hold everything: the kernel buffers fill and the peers wait.
                usleep(20_000)
                continue
            }
            if upstream < 0 {
                upstream = connectUpstream()
                guard upstream >= 0 else { return }
                let registered = state.withLock { state -> Bool in
                    guard state.links[id] != nil else { return false }
                    state.links[id]!.upstream = upstream
                    return true
                }
                guard registered else { return }
            }
            var fds = [pollfd(fd: client, events: Int16(POLLIN), revents: 0), pollfd(fd: upstream, events: Int16(POLLIN), revents: 0)]
            guard poll(&fds, 2, 50) > 0 else { continue }
            for (index, from, to) in [(0, client, upstream), (1, upstream, client)] where fds[index].revents != 0 {
                let count = read(from, &buffer, buffer.count)
                guard count > 0, Self.sendAll(to, buffer, count) else { return }
            }
        }
    }

    private static func sendAll(_ fd: Int32, _ buffer: [UInt8], _ count: Int) -> Bool {
        var sent = 0
        while sent < count {
            // MSG_NOSIGNAL: a peer gone must not SIGPIPE the test process.
            let n = buffer.withUnsafeBytes { send(fd, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    private static func connectLoopback(port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            return -1
        }
        return fd
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

struct ProxyError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
