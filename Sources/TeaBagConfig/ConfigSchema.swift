import Foundation

/// Every configuration key TeaBag knows, with its type, default and
/// environment variables (docs/configuration.md). conf.d/00-defaults.yaml documents the
/// same keys for people; `ConfigSchemaTests` keeps the two in step.
public struct ConfigKeySpec: Sendable {
    public enum Kind: String, Sendable {
        case string, int, double, bool, stringList
        /// Milliseconds as an integer, or a string with a unit: "300ms", "5s", "10m", "1h".
        case duration
    }
    public let key: String
    public let kind: Kind
    /// Allowed values, for enumerations.
    public let choices: [String]?
    /// Environment variables that set it, highest priority first.
    public let environment: [String]

    public init(_ key: String, _ kind: Kind, choices: [String]? = nil, environment: [String] = []) {
        self.key = key
        self.kind = kind
        self.choices = choices
        self.environment = environment
    }
}

public enum ConfigSchema {
    /// Keys whose children are free names (each reducer is its own section).
    public static let openSections: Set<String> = ["reducers"]

    public static let keys: [ConfigKeySpec] = [
        // table
        .init("table.host", .string),
        .init("table.port", .int, environment: ["TEABAG_TABLE_PORT"]),
        .init("table.data", .string, environment: ["TEABAG_TABLE_DATA", "TEABAG_DATA"]),
        .init("table.key", .string, environment: ["TEABAG_TABLE_KEY"]),
        .init("table.database", .string, environment: ["TEABAG_TABLE_DATABASE"]),
        .init("table.database_connections", .int),
        .init("table.database_timeout", .duration),
        .init("table.url", .string, environment: ["TEABAG_TABLE_URL"]),
        .init("table.body_limit", .int),
        .init("table.master_hash_rounds", .int),
        .init("table.confirm_timeout_ms", .int),
        .init("table.idle_timeout", .duration),
        .init("table.auth_failures", .int),
        .init("table.auth_failure_window", .duration),
        .init("table.log_level", .string, choices: ["trace", "debug", "info", "notice", "warning", "error", "critical"]),
        // store
        .init("store.host", .string),
        .init("store.port", .int, environment: ["TEABAG_STORE_PORT"]),
        .init("store.data", .string, environment: ["TEABAG_STORE_DATA", "TEABAG_DATA"]),
        .init("store.key", .string, environment: ["TEABAG_STORE_KEY"]),
        .init("store.durability", .string, choices: ["full", "normal"], environment: ["TEABAG_STORE_DURABILITY"]),
        .init("store.max_skew", .duration),
        .init("store.long_poll_delay", .duration),
        .init("store.unknown_types", .string, choices: ["accept", "reject"]),
        .init("store.body_limit", .int),
        .init("store.stream_retention", .int),
        .init("store.idle_timeout", .duration),
        .init("store.auth_failures", .int),
        .init("store.auth_failure_window", .duration),
        .init("store.log_level", .string, choices: ["trace", "debug", "info", "notice", "warning", "error", "critical"]),
        // agent
        .init("agent.table_url", .string, environment: ["TEABAG_AGENT_TABLE_URL"]),
        .init("agent.user", .int, environment: ["TEABAG_AGENT_USER"]),
        .init("agent.session_token", .string, environment: ["TEABAG_AGENT_SESSION_TOKEN"]),
        .init("agent.master", .string, environment: ["TEABAG_AGENT_MASTER"]),
        .init("agent.channels", .stringList),
        .init("agent.data", .string, environment: ["TEABAG_AGENT_DATA"]),
        .init("agent.socket", .string, environment: ["TEABAG_AGENT_SOCKET"]),
        .init("agent.host", .string),
        .init("agent.port", .int),
        .init("agent.dashboard_port", .int),
        .init("agent.durability", .string, choices: ["full", "normal"]),
        .init("agent.table_refresh", .duration),
        .init("agent.idle_timeout", .duration),
        .init("agent.clock_offset_ms", .int),
        .init("agent.log_level", .string, choices: ["trace", "debug", "info", "notice", "warning", "error", "critical"]),
        // prune (agent and library)
        .init("prune.min_ops", .int),
        // plugins (store and agent)
        .init("plugins.directories", .stringList),
        .init("plugins.poll_ms", .int),
    ]

    public static func spec(for key: String) -> ConfigKeySpec? {
        keys.first { $0.key == key }
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
