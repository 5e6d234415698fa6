/// The `store` section: `teabag store` (`StoreConfiguration`).
extension ConfigSchema {
    static let store = ConfigSection("store", title: "Store", keys: [
        .init("store.host", .string, default: .string("127.0.0.1"), flag: "--host", "address to bind"),
        .init("store.port", .int, default: .int(4001), environment: ["TEABAG_STORE_PORT"], flag: "--port", "0 picks a free port"),
        .init("store.data", .string, default: .string("data/store"), environment: ["TEABAG_STORE_DATA", "TEABAG_DATA"], flag: "--data",
              "oplogs, generated key"),
        .init("store.key", .string, default: .null, environment: ["TEABAG_STORE_KEY"], flag: "--key",
              "admin key, >= 16 chars; unset: generated into <data>/store.key",
              details: "admin key, at least 16 characters; unset: generated into `<data>/store.key` (0600). Secret"),
        .init("store.durability", .string, default: .string("full"), choices: ["full", "normal"], environment: ["TEABAG_STORE_DURABILITY"],
              "full: fsync every commit; normal: fsync at checkpoints"),
        .init("store.max_skew", .duration, default: .string("10m"), "ops dated further ahead than this are 503 StoreError:FutureDate"),
        .init("store.long_poll_delay", .duration, default: .string("5s"), "an empty long poll answers after this"),
        .init("store.unknown_types", .string, default: .string("accept"), choices: ["accept", "reject"],
              "accept or reject ops of types no plugin serves"),
        .init("store.body_limit", .int, default: .int(1 << 20), "bytes; larger request bodies get 413"),
        .init("store.stream_retention", .int, default: .int(100_000), "no effect: every held op can be resumed (kept so old files load)",
              details: "**no effect** since the log became the stream's history (every held op can be resumed); accepted so that existing conf.d files still load"),
        .init("store.idle_timeout", .duration, default: .string("75s"), "as table.idle_timeout; must be longer than long_poll_delay"),
        .init("store.auth_failures", .int, default: .int(20), "as table.auth_failures",
              details: "as `table.auth_failures` (the store's one guessable secret is its admin key; store tokens are checked by signature at the table)"),
        .init("store.auth_failure_window", .duration, default: .string("60s"), "as table.auth_failure_window"),
        .init("store.log_level", .string, default: .string("info"), choices: ConfigSchema.logLevels, "the least severe log message written"),
    ])
}
