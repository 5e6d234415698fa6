/// nginx `return 204` with one worker: the loopback HTTP ceiling of this
/// machine, measured in the same run so figures compare across machines.
import Foundation

enum Nginx {
    static func measure(connections: Int, seconds: Int) throws -> WrkResult {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") else { throw BenchError("nginx is not installed: apt-get install nginx-light") }
        let directory = NSTemporaryDirectory() + "teabag-bench-nginx-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = Int.random(in: 20_000...40_000)
        let conf = """
        worker_processes 1;
        daemon off;
        pid \(directory)/nginx.pid;
        error_log \(directory)/logs/error.log;
        events { worker_connections 1024; }
        http { access_log off; server { listen 127.0.0.1:\(port); location / { return 204; } } }
        """
        try conf.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-c", directory + "/nginx.conf", "-p", directory]
        try process.run()
        defer {
            process.terminate()  // by its PID
            process.waitUntilExit()
        }
        Thread.sleep(forTimeInterval: 0.5)
        return try Wrk.run(url: "http://127.0.0.1:\(port)/", connections: connections, seconds: seconds)
    }
}
