/// conf.d: YAML fragments read in file-name order, a later file overriding
/// an earlier one key by key (docs/configuration.md). Every value remembers the file it
/// came from, so that an error names the file and the key.
import Foundation
import Yams

/// A configuration error, printed as one line: `FILE: KEY: problem`.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let origin: String
    public let key: String
    public let problem: String
    public init(origin: String, key: String, problem: String) {
        self.origin = origin
        self.key = key
        self.problem = problem
    }
    public var description: String {
        [origin, key, problem].filter { !$0.isEmpty }.joined(separator: ": ")
    }
}

/// A leaf value of the merged configuration and where it came from.
public struct ConfValue: Sendable, Equatable {
    public enum Scalar: Sendable, Equatable {
        case string(String)
        case int(Int)
        case double(Double)
        case bool(Bool)
        case list([String])
        case null
    }
    public let scalar: Scalar
    public let origin: String
}

/// The merged fragments of one conf.d directory, as dotted keys.
public struct ConfD: Sendable {
    public private(set) var values: [String: ConfValue] = [:]
    /// The files that set anything, in the order read.
    public private(set) var files: [String] = []

    public init() {}

    /// Reads every `*.yaml` / `*.yml` of `directory` in file-name order.
    /// A missing directory is an empty configuration.
    public static func load(directory: String) throws(ConfigError) -> ConfD {
        var conf = ConfD()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names.sorted() where (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && !name.hasPrefix(".") {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigError(origin: path, key: "", problem: "cannot read the file (is it UTF-8 and readable?)")
            }
            try conf.merge(yaml: text, origin: path)
        }
        return conf
    }

    /// Merges one fragment over what is there, key by key.
    public mutating func merge(yaml: String, origin: String) throws(ConfigError) {
        let node: Node?
        do { node = try Yams.compose(yaml: yaml) } catch {
            // One line: Yams's message spans several, with a caret diagram.
            let lines = "\(error)".split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "^" }
            throw ConfigError(origin: origin, key: "", problem: "invalid YAML (\(lines.prefix(2).joined(separator: " ")))")
        }
        guard let node else { return }  // an empty or all-comments file sets nothing
        files.append(origin)
        guard case .mapping = node else { throw ConfigError(origin: origin, key: "", problem: "the top level must be a mapping of keys") }
        try flatten(node, prefix: "", origin: origin)
    }

    private mutating func flatten(_ node: Node, prefix: String, origin: String) throws(ConfigError) {
        switch node {
        case .mapping(let mapping):
            // A section replacing a plain value replaces it; sections merge key by key.
            if !prefix.isEmpty { values.removeValue(forKey: prefix) }
            for (keyNode, valueNode) in mapping {
                guard let key = keyNode.string, !key.isEmpty, !key.contains(".") else {
                    throw ConfigError(origin: origin, key: prefix, problem: "keys must be plain non-empty names")
                }
                let full = prefix.isEmpty ? key : "\(prefix).\(key)"
                try flatten(valueNode, prefix: full, origin: origin)
            }
        case .sequence(let sequence):
            removeSection(prefix)
            var items: [String] = []
            for item in sequence {
                guard case .scalar(let scalar) = item else {
                    throw ConfigError(origin: origin, key: prefix, problem: "a list here holds plain values only")
                }
                items.append(scalar.string)
            }
            values[prefix] = ConfValue(scalar: .list(items), origin: origin)
        case .scalar(let scalar):
            removeSection(prefix)
            values[prefix] = ConfValue(scalar: Self.typed(scalar), origin: origin)
        case .alias:
            throw ConfigError(origin: origin, key: prefix, problem: "YAML anchors and aliases are not supported here")
        }
    }

    /// A plain value replacing a whole section (in a later file) replaces it whole.
    private mutating func removeSection(_ prefix: String) {
        let start = prefix + "."
        if values.keys.contains(where: { $0.hasPrefix(start) }) {
            values = values.filter { !$0.key.hasPrefix(start) }
        }
    }

    private static func typed(_ scalar: Node.Scalar) -> ConfValue.Scalar {
        if scalar.style != .plain { return .string(scalar.string) }
        let text = scalar.string
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default: break
        }
        if let i = Int(text) { return .int(i) }
        if let d = Double(text), d.isFinite { return .double(d) }
        return .string(text)
    }

    /// Sets a value from outside the files (environment, flags).
    public mutating func set(_ key: String, _ scalar: ConfValue.Scalar, origin: String) {
        values[key] = ConfValue(scalar: scalar, origin: origin)
    }

    /// The keys directly under `prefix` (e.g. the reducer names under `reducers`).
    public func children(of prefix: String) -> [String] {
        let start = prefix + "."
        var names: Set<String> = []
        for key in values.keys where key.hasPrefix(start) {
            names.insert(String(key.dropFirst(start.count).prefix { $0 != "." }))
        }
        return names.sorted()
    }
}
