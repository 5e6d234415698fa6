/// The configuration of one process: conf.d files, then the environment,
/// then command-line flags (docs/configuration.md), read through swift-configuration with
/// one provider per source. Every key is checked against `ConfigSchema`
/// first, so that an unknown key or a wrong value stops the start with the
/// file (or variable, or flag) and the key named.
import Configuration
import Foundation
import SystemPackage

public struct Settings: Sendable {
    /// The reader over every source, highest priority first.
    public let reader: ConfigReader
    /// The merged conf.d, for sections with free names (`reducers`).
    public let confD: ConfD
    /// The conf.d directory read, if any.
    public let directory: String?

    /// Reads configuration for a process.
    /// - Parameters:
    ///   - directory: `--config DIR`; nil looks for `./conf.d`, then `/etc/teabag/conf.d`.
    ///   - environment: the process environment.
    ///   - flags: values from command-line flags, by key (`table.port` …).
    public static func load(directory: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                            flags: [String: ConfValue.Scalar] = [:]) async throws(ConfigError) -> Settings {
        let resolved = try resolveDirectory(directory)
        var conf = ConfD()
        if let resolved { conf = try ConfD.load(directory: resolved) }
        try validate(conf)

        var providers: [any ConfigProvider] = []
        providers.append(InMemoryProvider(name: "flags", values: try configValues(flags, origin: { "flag for \($0)" })))
        providers.append(InMemoryProvider(name: "environment", values: try configValues(fromEnvironment: environment)))
        for file in conf.files.reversed() {
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file)))
            } catch {
                throw ConfigError(origin: file, key: "", problem: "cannot be read as configuration (\(error))")
            }
        }
        return Settings(reader: ConfigReader(providers: providers), confD: conf, directory: resolved)
    }

    static func resolveDirectory(_ directory: String?) throws(ConfigError) -> String? {
        var isDirectory: ObjCBool = false
        if let directory {
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ConfigError(origin: "--config", key: "", problem: "\(directory) is not a directory")
            }
            return directory
        }
        for candidate in ["conf.d", "/etc/teabag/conf.d"] where FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory) && isDirectory.boolValue {
            return candidate
        }
        return nil
    }

    /// Unknown keys and values of the wrong type or outside their choices.
    static func validate(_ conf: ConfD) throws(ConfigError) {
        for (key, value) in conf.values.sorted(by: { $0.key < $1.key }) {
            if ConfigSchema.openSections.contains(where: { key == $0 || key.hasPrefix($0 + ".") }) { continue }
            guard let spec = ConfigSchema.spec(for: key) else {
                throw ConfigError(origin: value.origin, key: key, problem: "unknown key (conf.d/00-defaults.yaml lists every key)")
            }
            if value.scalar == .null { continue }
            try check(value.scalar, against: spec, origin: value.origin)
        }
        _ = try conf.declaredReducers()
    }

    static func check(_ scalar: ConfValue.Scalar, against spec: ConfigKeySpec, origin: String) throws(ConfigError) {
        let ok: Bool
        switch (spec.kind, scalar) {
        case (.string, .string(let s)): ok = spec.choices.map { $0.contains(s) } ?? true
        case (.int, .int): ok = true
        case (.double, .int), (.double, .double): ok = true
        case (.bool, .bool): ok = true
        case (.stringList, .list): ok = true
        case (.duration, .int(let ms)): ok = ms >= 0
        case (.duration, .string(let text)): ok = ConfigDuration.milliseconds(text) != nil
        default: ok = false
        }
        if !ok {
            let expected = spec.choices.map { "one of " + $0.joined(separator: ", ") }
                ?? (spec.kind == .duration ? "a duration: milliseconds, or a number with ms, s, m or h (\"5s\")" : "a value of type \(spec.kind.rawValue)")
            throw ConfigError(origin: origin, key: spec.key, problem: "must be \(expected)")
        }
    }

    static func configValues(_ values: [String: ConfValue.Scalar], origin: (String) -> String) throws(ConfigError) -> [AbsoluteConfigKey: ConfigValue] {
        var out: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, scalar) in values {
            guard let spec = ConfigSchema.spec(for: key) else {
                throw ConfigError(origin: origin(key), key: key, problem: "unknown key")
            }
            try check(scalar, against: spec, origin: origin(key))
            out[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(content(scalar), isSecret: key.hasSuffix(".key") || key == "table.database")
        }
        return out
    }

    /// The environment variables of `ConfigSchema`, typed; the first
    /// variable named for a key wins.
    static func configValues(fromEnvironment environment: [String: String]) throws(ConfigError) -> [AbsoluteConfigKey: ConfigValue] {
        var scalars: [String: ConfValue.Scalar] = [:]
        var origins: [String: String] = [:]
        for spec in ConfigSchema.keys {
            guard let name = spec.environment.first(where: { environment[$0] != nil }), let text = environment[name] else { continue }
            let scalar: ConfValue.Scalar
            switch spec.kind {
            case .int:
                guard let i = Int(text) else { throw ConfigError(origin: "environment \(name)", key: spec.key, problem: "must be an integer, got \"\(text)\"") }
                scalar = .int(i)
            case .double:
                guard let d = Double(text) else { throw ConfigError(origin: "environment \(name)", key: spec.key, problem: "must be a number, got \"\(text)\"") }
                scalar = .double(d)
            case .bool:
                guard let b = Bool(text.lowercased()) else { throw ConfigError(origin: "environment \(name)", key: spec.key, problem: "must be true or false") }
                scalar = .bool(b)
            case .string, .duration: scalar = .string(text)
            case .stringList: scalar = .list(text.split(separator: ":").map(String.init))
            }
            scalars[spec.key] = scalar
            origins[spec.key] = "environment \(name)"
        }
        return try configValues(scalars, origin: { origins[$0] ?? "environment" })
    }

    static func content(_ scalar: ConfValue.Scalar) -> ConfigContent {
        switch scalar {
        case .string(let s): .string(s)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .bool(let b): .bool(b)
        case .list(let l): .stringArray(l)
        case .null: .string("")
        }
    }
}

extension ConfigReader {
    /// A `duration` key in milliseconds: an integer, or a string with a unit.
    public func milliseconds(forKey key: String, default defaultValue: Int) -> Int {
        if let ms = int(forKey: ConfigKey(key)) { return ms }
        if let text = string(forKey: ConfigKey(key)), let ms = ConfigDuration.milliseconds(text) { return ms }
        return defaultValue
    }
}
