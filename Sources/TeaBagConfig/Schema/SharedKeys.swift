/// The sections more than one role reads: `prune` (the agent and the
/// library) and `plugins` (the store and the agent).
extension ConfigSchema {
    static let prune = ConfigSection("prune", title: "Prune", keys: [
        .init("prune.min_ops", .int, default: .int(32), "payload ops a path holds before the agent prunes it",
              details: "at least 1: payload ops a path must hold before the agent prunes it, i.e. pushes a value-op to every store of the channel once all of them hold exactly the local set ([sync.md](sync.md)). Lower keeps oplogs shorter at the cost of more value-ops; the library's equivalent is `ClientConfiguration.policy.pruneMinOps`"),
    ])

    static let plugins = ConfigSection("plugins", title: "Plugins", introduction: """
        Read by the store and the agent. Reducers declared in conf.d (`reducers.<type>.library`,
        `.symbol`, `.signature`, `.initial`) are described in
        [plugins.md](plugins.md#reducers-declared-in-confd-libffi) and `conf.d/50-reducers.yaml`.
        """, keys: [
        .init("plugins.directories", .stringList, default: .list(["Plugins"]), flag: "--plugins",
              "reducer plugin directories, in priority order",
              details: "reducer plugin directories, in priority order; each `--plugins DIR` (repeatable) is added after them"),
        .init("plugins.poll_ms", .int, default: .int(500), "how often the directories are checked for new or replaced .so files (>= 10)"),
    ])
}
