import Foundation

/// Every configuration key TeaBag knows (docs/configuration.md), in one list: a key is
/// added by adding one line to its section's file here (`TableKeys.swift`,
/// `StoreKeys.swift`, `AgentKeys.swift`, `SharedKeys.swift`), reading it in
/// its role's configuration struct with `ConfigSchema.default…` as the
/// default, and running `teabag config defaults > conf.d/00-defaults.yaml`
/// and `teabag config docs --update docs/configuration.md`
/// (`ConfigSchemaDocumentsTests` fails until both are done).
public enum ConfigSchema {
    /// Keys whose children are free names (each reducer is its own section).
    public static let openSections: Set<String> = ["reducers"]

    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// The sections in the order the files and the docs show them.
    public static let sections: [ConfigSection] = [table, store, agent, prune, plugins]

    public static let keys: [ConfigKeySpec] = sections.flatMap(\.keys)

    private static let byKey: [String: ConfigKeySpec] = Dictionary(uniqueKeysWithValues: keys.map { ($0.key, $0) })

    public static func spec(for key: String) -> ConfigKeySpec? {
        byKey[key]
    }
}

/// The defaults the configuration structs start from, typed. A key that is
/// not in the schema, or not of that type, is a programming error caught by
/// the first test that builds the struct.
extension ConfigSchema {
    public static func defaultString(_ key: String) -> String {
        guard case .string(let value) = defaultScalar(key) else { preconditionFailure("\(key) has no string default") }
        return value
    }

    public static func defaultInt(_ key: String) -> Int {
        guard case .int(let value) = defaultScalar(key) else { preconditionFailure("\(key) has no int default") }
        return value
    }

    public static func defaultList(_ key: String) -> [String] {
        guard case .list(let value) = defaultScalar(key) else { preconditionFailure("\(key) has no list default") }
        return value
    }

    /// A duration key's default in milliseconds.
    public static func defaultMilliseconds(_ key: String) -> Int {
        switch defaultScalar(key) {
        case .int(let ms): return ms
        case .string(let text):
            guard let ms = ConfigDuration.milliseconds(text) else { preconditionFailure("\(key): bad duration default \(text)") }
            return ms
        default: preconditionFailure("\(key) has no duration default")
        }
    }

    private static func defaultScalar(_ key: String) -> ConfValue.Scalar {
        guard let spec = spec(for: key) else { preconditionFailure("\(key) is not in ConfigSchema") }
        return spec.defaultValue
    }
}

public enum ConfigDuration {
    /// Milliseconds of "300ms", "5s", "10m", "1h" (or a plain integer of ms).
    public static func milliseconds(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        for (unit, factor) in [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)] where trimmed.hasSuffix(unit) {
            if let n = Int(trimmed.dropLast(unit.count)), n >= 0 { return n * factor }
        }
        return Int(trimmed)
    }
}
