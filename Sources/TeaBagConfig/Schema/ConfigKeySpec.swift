/// One configuration key: everything TeaBag knows about it, in one place.
/// The checks at start, the configuration structs' defaults,
/// `conf.d/00-defaults.yaml` and the key tables of `docs/configuration.md`
/// are all read from these (`teabag config defaults|docs` writes the last two).
public struct ConfigKeySpec: Sendable {
    public enum Kind: String, Sendable {
        case string, int, double, bool
        case stringList = "list of strings"
        /// Milliseconds as an integer, or a string with a unit: "300ms", "5s", "10m", "1h".
        case duration
    }
    /// The dotted key, `section.name`.
    public let key: String
    public let kind: Kind
    /// The value when no file, variable or flag sets it, as YAML writes it;
    /// `.null` when unset means something of its own (`summary` says what).
    public let defaultValue: ConfValue.Scalar
    /// Allowed values, for enumerations.
    public let choices: [String]?
    /// Environment variables that set it, highest priority first.
    public let environment: [String]
    /// The command-line flag that sets it, as help shows it (`--port`).
    public let flag: String?
    /// One line: the comment beside the key in conf.d/00-defaults.yaml.
    public let summary: String
    /// Markdown for the docs table, when there is more to say than `summary`.
    public let details: String?

    public init(_ key: String, _ kind: Kind, default defaultValue: ConfValue.Scalar, choices: [String]? = nil,
                environment: [String] = [], flag: String? = nil, _ summary: String, details: String? = nil) {
        self.key = key
        self.kind = kind
        self.defaultValue = defaultValue
        self.choices = choices
        self.environment = environment
        self.flag = flag
        self.summary = summary
        self.details = details
    }

    /// The section (`table`) and the name within it (`port`).
    public var section: Substring { key.prefix { $0 != "." } }
    public var name: Substring { key.drop { $0 != "." }.dropFirst() }

    /// Secrets are never logged (swift-configuration redacts them): keys,
    /// database URLs (they may hold a password), sessions and masters.
    public var isSecret: Bool { ["key", "database", "session_token", "master"].contains(String(name)) }
}

/// A group of keys under one name, with what docs/configuration.md says above its table.
public struct ConfigSection: Sendable {
    public let name: String
    public let title: String
    /// Markdown above the section's table in docs/configuration.md, if any.
    public let introduction: String?
    public let keys: [ConfigKeySpec]

    public init(_ name: String, title: String, introduction: String? = nil, keys: [ConfigKeySpec]) {
        self.name = name
        self.title = title
        self.introduction = introduction
        self.keys = keys
    }
}
