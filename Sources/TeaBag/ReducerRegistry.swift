import Synchronization
import TeaBagCore
import TeaBagPlugins

/// Where a client finds the reducer of a type: Swift closures registered by
/// the program first, then the plugin host (whose reloads take effect at
/// once, so a new `.so` serves its type without a restart).
public final class ReducerRegistry: Sendable {
    private let registered = Mutex<[String: any Reducer]>([:])
    private let host = Mutex<PluginHost?>(nil)

    public init(plugins: PluginHost? = nil) {
        host.withLock { $0 = plugins }
    }

    /// A reducer written in Swift, one op at a time.
    public func register(type: String, initial: JSON = .null, validate: (@Sendable (JSON) throws -> Void)? = nil,
                         step: @escaping @Sendable (_ state: JSON, _ op: Op) throws -> JSON) {
        register(ClosureReducer(type: type, initial: initial, validate: validate, step: step))
    }

    public func register(_ reducer: any Reducer) {
        registered.withLock { $0[reducer.type] = reducer }
    }

    /// Serves every type the host loads (plugins and conf.d declarations).
    public func use(_ plugins: PluginHost) {
        host.withLock { $0 = plugins }
    }

    public func reducer(for type: String) -> (any Reducer)? {
        if let reducer = registered.withLock({ $0[type] }) { return reducer }
        return host.withLock { $0 }?.reducer(for: type)
    }

    public var types: [String] {
        let own = registered.withLock { Array($0.keys) }
        let loaded = host.withLock { $0 }?.types ?? []
        return Array(Set(own + loaded)).sorted()
    }
}
