import Foundation
import TeaBagTestSupport

/// Reducer libraries built from C at test time, as variants of the
/// `max` example (examples/reducer-c/max.c): each test gets exactly the
/// reducer it needs, in a directory of its own.
enum ReducerBuilds {
    static var maxSource: String {
        get throws { try String(contentsOfFile: "\(Repository.root)/examples/reducer-c/max.c", encoding: .utf8) }
    }

    /// Compiles `source` into `directory/name`; the library's path.
    static func build(_ source: String, into directory: String, as name: String) throws -> String {
        let sourceFile = (directory as NSString).appendingPathComponent(name + ".c")
        try source.write(toFile: sourceFile, atomically: true, encoding: .utf8)
        let output = (directory as NSString).appendingPathComponent(name)
        let log = (directory as NSString).appendingPathComponent(name + ".log")
        let status = try ChildProcess("/usr/bin/env", ["cc", "-shared", "-fPIC", "-O2", "-I", "\(Repository.root)/Plugins/include",
                                                       sourceFile, "-o", output], stderr: .file(log)).waitUntilExit()
        try FileManager.default.removeItem(atPath: sourceFile)
        guard status == 0 else { throw TestFailure("cc \(name) failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")") }
        return output
    }

    /// `max` as shipped in the example.
    static func max(into directory: String, as name: String = "max.so") throws -> String {
        try build(try maxSource, into: directory, as: name)
    }

    /// `max` version 2: values clamped at 10, and negative payloads refused
    /// by fold (so they are skipped) — an upgrade that changes some values.
    static func clampedMax(into directory: String, as name: String = "max-v2.so") throws -> String {
        var source = try maxSource
        source = try replacing(source, "  char buf[32];\n  format_number(max, buf);", "  char buf[32];\n  if (max > 10) max = 10;\n  format_number(max, buf);")
        source = try replacing(source, "if (read_number(&c, &v)) return reply(out, 1, \"max: payload must be a finite number\");",
                               "if (read_number(&c, &v)) return reply(out, 1, \"max: payload must be a finite number\");\n"
                               + "            if (v < 0) return reply(out, 1, \"max v2: negative payloads are no longer accepted\");")
        source = try replacing(source, ".version = \"1.0.0\"", ".version = \"2.0.0\"")
        return try build(source, into: directory, as: name)
    }

    /// `max` whose value is a 100-character JSON string ending in the number:
    /// a change too long to print whole.
    static func wordyMax(into directory: String) throws -> String {
        let source = try replacing(try maxSource, "  return reply(out, 0, buf);\n}",
                                   "  char big[160];\n  snprintf(big, sizeof big, \"\\\"%097d-%s\\\"\", 0, buf);\n  return reply(out, 0, big);\n}")
        return try build(source, into: directory, as: "max-wordy.so")
    }

    /// Type `level`: `max` under another name. `strict` keeps its validate
    /// (a store with it refuses a non-number); without, any payload is accepted.
    static func level(strict: Bool, into directory: String) throws -> String {
        var source = try replacing(try maxSource, ".type = \"max\"", ".type = \"level\"")
        source = source.replacingOccurrences(of: "\"max: payload must be a finite number\"", with: "\"level must be a number\"")
        if !strict { source = try replacing(source, ".validate = max_validate,", ".validate = NULL,") }
        return try build(source, into: directory, as: "level.so")
    }

    private static func replacing(_ source: String, _ old: String, _ new: String) throws -> String {
        guard source.contains(old) else { throw TestFailure("examples/reducer-c/max.c no longer contains \(old)") }
        return source.replacingOccurrences(of: old, with: new)
    }
}
