/// Runs wrk (Debian's `wrk`) against a URL and reads its figures, so the
/// servers are measured with the same load generator as the anchors in
/// docs/benchmarks (nginx, etcd, bare Hummingbird).
import Foundation

struct WrkResult {
    let requestsPerSecond: Double
    let p50: String
    let p99: String
    let errors: String?
}

enum Wrk {
    static func ensureInstalled() throws {
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") { return }
        throw BenchError("wrk is not installed: apt-get install wrk")
    }

    /// `wrk -t2 -c<connections> -d<seconds>s --latency [-s script] url`.
    static func run(url: String, connections: Int, seconds: Int, script: String? = nil) throws -> WrkResult {
        try ensureInstalled()
        var arguments = ["-t2", "-c\(connections)", "-d\(seconds)s", "--latency"]
        if let script { arguments += ["-s", script] }
        arguments.append(url)
        let output = try Shell.run("/usr/bin/wrk", arguments)
        func figure(after label: String) -> String? {
            output.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }
                .map { $0.trimmingCharacters(in: .whitespaces).dropFirst(label.count).trimmingCharacters(in: .whitespaces) }
        }
        guard let rate = figure(after: "Requests/sec:").flatMap(Double.init) else { throw BenchError("could not read wrk's output:\n\(output)") }
        let errors = output.split(separator: "\n").first { $0.contains("Non-2xx") || $0.contains("Socket errors") }.map(String.init)
        return WrkResult(requestsPerSecond: rate, p50: figure(after: "50%") ?? "?", p99: figure(after: "99%") ?? "?", errors: errors)
    }
}

enum Shell {
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
