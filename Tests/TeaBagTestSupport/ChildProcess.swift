/// A child process started with `posix_spawn`, for every program the test
/// suites run (`teabag`, `cc`, the example scripts).
///
/// Why not Foundation's `Process`: on Linux its `run()` emulates
/// close-on-exec by listing /proc/self/fd and copies each entry's whole
/// 256-byte `d_name`, reading past the end of a short directory record. In
/// a test process with hundreds of open sockets and SQLite files that read
/// sometimes crosses into an unmapped page and the whole suite dies with
/// SIGSEGV inside `Process.run` (seen in several full runs; no lock around
/// the spawns helps, since the bad read is of the process's own memory).
/// Here the pipes are close-on-exec and the child closes every
/// other descriptor with `closefrom`, so no directory is read at all.
import Foundation
import Synchronization

public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// The wait status once reaped: exit code, or the signal's number for a
    /// child a signal ended (what Foundation's `terminationStatus` says).
    private let status = Mutex<Int32?>(nil)

    /// Where a child's output goes.
    public enum Output {
        case null
        /// A file, created or truncated.
        case file(String)
        /// A close-on-exec pipe whose read end the caller gets back.
        case pipe
    }

    /// The read ends of `.pipe` outputs (stdout, stderr), nil otherwise.
    public let stdout: FileHandle?
    public let stderr: FileHandle?

    /// Starts `executable arguments…`; `environment` replaces this process's
    /// own when given.
    public init(_ executable: String, _ arguments: [String], directory: String? = nil,
                environment: [String: String]? = nil, stdout: Output = .null, stderr: Output = .null) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32] = [], childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }

        func route(_ output: Output, to target: Int32) throws -> FileHandle? {
            switch output {
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
                return nil
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                return nil
            case .pipe:
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else { throw SpawnError("pipe: \(String(cString: strerror(errno)))") }
                // (pipe2 is not in Swift's Glibc module; closefrom covers the
                // moment before these flags are set.)
                for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                parentEnds.append(fds[0])
                childEnds.append(fds[1])
                // dup2 onto 0/1/2 clears close-on-exec on the copy only.
                posix_spawn_file_actions_adddup2(&actions, fds[1], target)
                return FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
            }
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        self.stdout = try route(stdout, to: 1)
        self.stderr = try route(stderr, to: 2)
        if let directory { try Self.addChdir(&actions, directory) }
        Self.addCloseFrom(&actions, 3)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, as Foundation does: a ^C at the terminal
        // reaches the test runner, which then ends its children by PID.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0)=\($1)") } + [nil]
        defer { for pointer in env { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, env)
        guard result == 0 else {
            for fd in parentEnds { close(fd) }
            throw SpawnError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// True until the child has exited (and then reaps it).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Blocks the calling thread until the child exits; its status.
    @discardableResult
    public func waitUntilExit() -> Int32 { reap(blocking: true)! }

    /// Blocks the calling thread until the child exits or `seconds` pass
    /// (nil then; the child runs on). For short programs run from
    /// synchronous code, so that one that hangs fails its test instead of
    /// holding the whole run.
    public func waitUntilExit(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let status = reap(blocking: false) { return status }
            usleep(10_000)
        }
        return reap(blocking: false)
    }

    /// The status once the child exits, or nil after `seconds`.
    public func waitForExit(seconds: Double) async throws -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let status = reap(blocking: false) { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
        return reap(blocking: false)
    }

    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// A test that fails half-way must not leave its processes behind.
    deinit {
        if reap(blocking: false) == nil {
            kill(pid, SIGKILL)
            _ = reap(blocking: true)
        }
    }

    private func reap(blocking: Bool) -> Int32? {
        status.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            var answer: pid_t
            repeat { answer = waitpid(pid, &raw, blocking ? 0 : WNOHANG) } while answer == -1 && errno == EINTR
            guard answer == pid else { return nil }
            let signalled = raw & 0x7f
            status = signalled == 0 ? (raw >> 8) & 0xff : signalled
            return status
        }
    }

    // glibc has both since 2.29/2.34, but Swift's Glibc module does not
    // import these GNU extensions, so they are looked up by name.
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    private static func addChdir(_ actions: inout posix_spawn_file_actions_t, _ directory: String) throws {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else {
            throw SpawnError("this libc has no posix_spawn_file_actions_addchdir_np (glibc ≥ 2.29 needed)")
        }
        _ = unsafeBitCast(symbol, to: AddChdir.self)(&actions, directory)
    }

    private static func addCloseFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) {
        // Without it (glibc < 2.34) only close-on-exec protects other
        // descriptors, which every pipe made here has.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
