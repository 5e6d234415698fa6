/// A private PostgreSQL cluster for the tests: one per test process, started
/// on first use with Debian's `initdb` and `pg_ctl` in a temporary directory
/// on a free port of 127.0.0.1, removed when the process exits (or, if it
/// was killed first, by the next test process). Nothing is
/// assumed to be running; each test takes a fresh database of its own.
///
/// PostgreSQL refuses to run as root, so under root the cluster belongs to
/// the `postgres` user (`runuser -u postgres --`), which Debian's package
/// creates. Authentication is `trust`: only loopback can reach it, and it
/// lives as long as the test process.
import Foundation
import Synchronization

public final class PostgresCluster: Sendable {
    /// 127.0.0.1
    public let host = "127.0.0.1"
    public let port: Int
    /// The temporary directory holding the data directory, socket and log.
    public let directory: String
    private let bin: String
    private let databases = Mutex(0)

    /// The process's cluster, started by the first caller.
    public static func shared() async throws -> PostgresCluster {
        let task = startup.withLock { task in
            if let task { return task }
            let started = Task.detached { try PostgresCluster.start() }
            task = started
            return started
        }
        return try await task.value
    }

    /// A new empty database on the shared cluster, as the URL `table.database` takes.
    public static func freshDatabase() async throws -> String {
        try await shared().createDatabase()
    }

    /// `postgresql://postgres@127.0.0.1:PORT/NAME` of a new empty database.
    @discardableResult
    public func createDatabase(named given: String? = nil) throws -> String {
        let name = given ?? "t\(getpid())_\(databases.withLock { n in n += 1; return n })"
        try Self.run(bin + "/createdb", ["-h", host, "-p", String(port), "-U", "postgres", name])
        return url(database: name)
    }

    /// What `psql` prints for `sql` in the database of `url` (unaligned, tuples only).
    public func psql(_ url: String, _ sql: String) throws -> String {
        let database = String(url.split(separator: "/").last ?? "")
        let output = NSTemporaryDirectory() + "teabag-pg-output-\(getpid())-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        try Self.run(bin + "/psql", ["-h", host, "-p", String(port), "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1",
                                     "-A", "-t", "-o", output, "-c", sql])
        return (try String(contentsOfFile: output, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `postgresql://postgres@127.0.0.1:PORT/NAME`, whether or not it exists yet.
    public func url(database: String) -> String { "postgresql://postgres@\(host):\(port)/\(database)" }

    /// A port of 127.0.0.1 where nothing listens (a database that is down).
    public static func unusedPort() throws -> Int { try freePort() }

    private static let startup = Mutex<Task<PostgresCluster, any Error>?>(nil)
    /// For the exit handler, which cannot capture.
    private static let running = Mutex<(bin: String, directory: String)?>(nil)

    private init(port: Int, directory: String, bin: String) {
        self.port = port
        self.directory = directory
        self.bin = bin
    }

    private static func start() throws -> PostgresCluster {
        let bin = try binaries()
        removeAbandoned(bin: bin)
        let directory = NSTemporaryDirectory() + "teabag-pg-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try String(getpid()).write(toFile: directory + "/owner.pid", atomically: true, encoding: .utf8)
        try asClusterOwner(chown: directory)
        let data = directory + "/data"
        try run(bin + "/initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"], asOwner: true)
        // A free port can be taken between the probe and the bind: try a few.
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try freePort()
            let options = "-h 127.0.0.1 -p \(port) -k \(directory) -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=500"
            do {
                try run(bin + "/pg_ctl", ["-D", data, "-l", directory + "/server.log", "-w", "-t", "60", "-o", options, "start"], asOwner: true)
                running.withLock { $0 = (bin, directory) }
                atexit { PostgresCluster.stopAtExit() }
                return PostgresCluster(port: port, directory: directory, bin: bin)
            } catch {
                lastError = error
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw lastError ?? TestFailure("PostgreSQL did not start")
    }

    /// Stops the server at once (its data is thrown away) and removes the directory.
    private static func stopAtExit() {
        guard let (bin, directory) = running.withLock({ $0 }) else { return }
        try? run(bin + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"], asOwner: true)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Clusters of test processes that were killed before their exit
    /// handler ran (a SIGKILLed or timed-out `swift test`): stopped and removed.
    private static func removeAbandoned(bin: String) {
        let temporary = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary)) ?? [] where name.hasPrefix("teabag-pg-") {
            let directory = temporary + name
            if name.hasPrefix("teabag-pg-output-") {  // a program's output, left by a killed process
                if let owner = pid_t(name.split(separator: "-")[3]), kill(owner, 0) != 0, errno == ESRCH {
                    try? FileManager.default.removeItem(atPath: directory)
                }
                continue
            }
            guard let text = try? String(contentsOfFile: directory + "/owner.pid", encoding: .utf8), let owner = pid_t(text),
                  kill(owner, 0) != 0, errno == ESRCH else { continue }
            try? run(bin + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"], asOwner: true)
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// The newest installed PostgreSQL's programs (Debian keeps them out of PATH).
    private static func binaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(newest)/bin/initdb") else {
            throw TestFailure("PostgreSQL is not installed (no \(root)/*/bin/initdb): apt-get install postgresql")
        }
        return "\(root)/\(newest)/bin"
    }

    private static var isRoot: Bool { getuid() == 0 }

    private static func asClusterOwner(chown path: String) throws {
        guard isRoot else { return }
        guard let user = getpwnam("postgres") else { throw TestFailure("running as root, but there is no postgres user to own the test cluster") }
        guard chown(path, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
            throw TestFailure("chown \(path) to postgres: \(String(cString: strerror(errno)))")
        }
    }

    /// Runs a program to its end; a failure quotes its output.
    private static func run(_ program: String, _ arguments: [String], asOwner: Bool = false) throws {
        let (executable, argv) = asOwner && isRoot ? ("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments) : (program, arguments)
        let output = NSTemporaryDirectory() + "teabag-pg-output-\(getpid())-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let child = try ChildProcess(executable, argv, stdout: .file(output), stderr: .file(output + ".err"))
        defer { try? FileManager.default.removeItem(atPath: output + ".err") }
        // pg_ctl bounds its own wait (-t 60); createdb and psql would wait
        // for a server that accepts and never answers for ever.
        let status = child.waitUntilExit(seconds: 180)
        if status == nil {
            child.signal(SIGKILL)
            child.waitUntilExit()
        }
        guard status == 0 else {
            let text = [output, output + ".err"].compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }.joined()
            let outcome = status.map { "exited \($0)" } ?? "had not ended after 180 s (killed)"
            throw TestFailure("\((program as NSString).lastPathComponent) \(arguments.joined(separator: " ")) \(outcome): \(text.suffix(2_000))")
        }
    }

    /// A port nothing listens on right now.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw TestFailure("bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Where a table or a store under test keeps its state: the suites that
/// hold for both run once per backend, with the same assertions.
public enum TableBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// The `table.database` or `store.database` to configure: nil for SQLite, a fresh database of the test cluster for PostgreSQL.
    public func freshDatabase() async throws -> String? {
        switch self {
        case .sqlite: nil
        case .postgres: try await PostgresCluster.freshDatabase()
        }
    }
}
