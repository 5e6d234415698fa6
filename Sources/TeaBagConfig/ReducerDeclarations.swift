/// The `reducers:` section of conf.d: number reducers called through libffi (docs/plugins.md#reducers-declared-in-confd-libffi).
///
/// ```yaml
/// reducers:
///   max:
///     library: libm.so.6        # required: a path or a name dlopen finds
///     symbol: fmax              # required: an exported C function
///     signature: "double(double,double)"   # required: state, payload -> new state
///     initial: 0                # optional, default 0: the state of a null base
/// ```
import TeaBagPlugins

extension ConfD {
    static let reducerKeys: Set<String> = ["library", "symbol", "signature", "initial"]

    /// The declared reducers, each checked for unknown, missing and mistyped keys.
    public func declaredReducers() throws(ConfigError) -> [DeclaredReducer] {
        if let value = values["reducers"], value.scalar != .null {
            throw ConfigError(origin: value.origin, key: "reducers", problem: "must be a mapping of type names to declarations")
        }
        var declarations: [DeclaredReducer] = []
        for name in children(of: "reducers") {
            let prefix = "reducers.\(name)"
            for key in values.keys where key.hasPrefix(prefix + ".") {
                let field = String(key.dropFirst(prefix.count + 1))
                if !Self.reducerKeys.contains(field) {
                    throw ConfigError(origin: values[key]!.origin, key: key, problem: "unknown key (expected library, symbol, signature, initial)")
                }
            }
            func string(_ field: String) throws(ConfigError) -> (String, String) {
                guard let value = values["\(prefix).\(field)"] else {
                    let origin = values.first { $0.key.hasPrefix(prefix + ".") }?.value.origin ?? "conf.d"
                    throw ConfigError(origin: origin, key: "\(prefix).\(field)", problem: "missing (required)")
                }
                guard case .string(let s) = value.scalar, !s.isEmpty else {
                    throw ConfigError(origin: value.origin, key: "\(prefix).\(field)", problem: "must be a non-empty string")
                }
                return (s, value.origin)
            }
            let (library, origin) = try string("library")
            let (symbol, _) = try string("symbol")
            let (signature, _) = try string("signature")
            var initial = 0.0
            if let value = values["\(prefix).initial"] {
                switch value.scalar {
                case .int(let i): initial = Double(i)
                case .double(let d): initial = d
                default: throw ConfigError(origin: value.origin, key: "\(prefix).initial", problem: "must be a number")
                }
            }
            declarations.append(DeclaredReducer(type: name, library: library, symbol: symbol, signature: signature,
                                                initial: initial, origin: "\(origin): \(prefix)"))
        }
        return declarations
    }
}

/// The `plugins:` section and the `reducers:` declarations, as the store and
/// the agent both read them.
public struct PluginSettings: Sendable {
    public var directories: [String]
    public var pollMs: Int
    public var declared: [DeclaredReducer]

    /// `extra` directories (from `--plugins`) come after the configured ones.
    public init(settings: Settings, defaultDirectories: [String], defaultPollMs: Int, extra: [String]) throws(ConfigError) {
        let plugins = settings.reader.scoped(to: "plugins")
        directories = (plugins.stringArray(forKey: "directories") ?? defaultDirectories) + extra
        pollMs = plugins.int(forKey: "poll_ms", default: defaultPollMs)
        declared = try settings.confD.declaredReducers()
    }
}
