// swift-tools-version:6.1
// TeaBag: per-user oplogs kept in sync across devices and stores, folded by
// reducer plugins. One target per role over a core with no I/O (SPEC §8).
import PackageDescription

let package = Package(
    name: "TeaBag",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "teabag", targets: ["TeaBagCLI"]),
        .executable(name: "teabag-bench", targets: ["TeaBagBench"]),
        // examples/bookmarks: a program using the library (`swift run teabag-example-bookmarks`).
        .executable(name: "teabag-example-bookmarks", targets: ["TeaBagExampleBookmarks"]),
        .library(name: "TeaBag", targets: ["TeaBag"]),
        // A reducer written in Swift with @_cdecl, built as a C-ABI shared
        // library and copied into Plugins/ by `make plugins`.
        .library(name: "TeaBagStatsReducer", type: .dynamic, targets: ["StatsReducer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML", "Reloading"]),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // The plugin ABI header, kept once under Plugins/include (SPEC §4.1).
        .systemLibrary(name: "CTeaBagReducer", path: "Plugins/include"),
        // libffi, for reducers declared in conf.d (SPEC §4.2).
        .systemLibrary(name: "CFFI", path: "Sources/CFFI", pkgConfig: "libffi", providers: [.apt(["libffi-dev"])]),

        // Pure rules: JSON, canonical form, ops, oplog merge and fold. No I/O.
        .target(name: "TeaBagCore", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Loads reducer plugins (.so via dlopen, libffi declarations) and folds through them.
        .target(name: "TeaBagPlugins", dependencies: [
            "TeaBagCore", "CTeaBagReducer", "CFFI",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        // conf.d + environment + flags, with file and key named in every error.
        .target(name: "TeaBagConfig", dependencies: [
            "TeaBagPlugins",
            .product(name: "Configuration", package: "swift-configuration"),
            .product(name: "Yams", package: "Yams"),
        ]),
        // Shared by the servers: HTTP errors, credentials, limits, metrics, SQLite.
        .target(name: "TeaBagServerKit", dependencies: [
            "TeaBagCore", "TeaBagPlugins",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        // What the table and the store share on PostgreSQL: the URL, migrations, 503 on an unreachable database.
        .target(name: "TeaBagPostgres", dependencies: [
            "TeaBagCore", "TeaBagServerKit",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "TeaBagTable", dependencies: [
            "TeaBagCore", "TeaBagServerKit", "TeaBagConfig", "TeaBagPostgres",
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        .target(name: "TeaBagStore", dependencies: [
            "TeaBagCore", "TeaBagPlugins", "TeaBagServerKit", "TeaBagConfig", "TeaBagPostgres",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        // The client runtime: `import TeaBag`.
        // No server framework here: a client library must not pull one in.
        .target(name: "TeaBag", dependencies: [
            "TeaBagCore", "TeaBagPlugins",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .target(name: "TeaBagAgent", dependencies: [
            "TeaBag", "TeaBagCore", "TeaBagPlugins", "TeaBagServerKit", "TeaBagConfig",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "TeaBagCLI", dependencies: [
            "TeaBagCore", "TeaBagPlugins", "TeaBagConfig", "TeaBagTable", "TeaBagStore", "TeaBagAgent", "TeaBag", "TeaBagServerKit",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "TeaBagBench", dependencies: [
            "TeaBagCore", "TeaBagPlugins", "TeaBagServerKit", "TeaBagTable", "TeaBagStore", "TeaBag",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // examples/bookmarks: bookmarks synced between devices with the TeaBag library.
        .executableTarget(name: "TeaBagExampleBookmarks", dependencies: ["TeaBag"], path: "examples/bookmarks", exclude: ["README.md"]),
        // Shipped reducer written in Swift (SPEC §4.3); depends on nothing but the ABI.
        .target(name: "StatsReducer", dependencies: ["CTeaBagReducer"], path: "Plugins/stats"),

        // Shared by the integration tests: servers on loopback, HTTP, clocks.
        .target(name: "TeaBagTestSupport", dependencies: [
            "TeaBagCore", "TeaBagServerKit", "TeaBagTable", "TeaBagStore", "TeaBag",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ], path: "Tests/TeaBagTestSupport"),
        .testTarget(name: "TeaBagTableTests", dependencies: [
            "TeaBagTestSupport", "TeaBagTable", "TeaBagServerKit", "TeaBagConfig",
            .product(name: "InMemoryLogging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "TeaBagStoreTests", dependencies: [
            "TeaBagTestSupport", "TeaBagStore", "TeaBagTable", "TeaBagServerKit", "TeaBagCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "InMemoryLogging", package: "swift-log"),
        ]),
        .testTarget(name: "TeaBagClientTests", dependencies: [
            "TeaBag", "TeaBagTestSupport", "TeaBagCore", "TeaBagStore", "TeaBagServerKit",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        // The agent, the CLI and `teabag dev` as real processes.
        .testTarget(name: "TeaBagAgentTests", dependencies: [
            "TeaBag", "TeaBagTestSupport", "TeaBagCore", "TeaBagServerKit", "TeaBagStore", "TeaBagTable",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        // Fault scenarios (issue 8 parts 1, 2 and 4): a table, three stores and
        // three agents as real processes under a workload, faults injected and
        // healed, and a checker of the recorded history (lost, doubled, diverged).
        .testTarget(name: "TeaBagFaultTests", dependencies: [
            "TeaBagTestSupport", "TeaBagCore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // Bad input and attacks against the table, store and agent APIs (issue 8
        // part 3): each refused with a 4xx JSON error and the database unchanged;
        // the OpenAPI descriptions kept true, and schemathesis run against them.
        .testTarget(name: "TeaBagSecurityTests", dependencies: [
            "TeaBagTestSupport", "TeaBagCore", "TeaBagServerKit", "TeaBagTable", "TeaBagStore", "TeaBagAgent", "TeaBag",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "TeaBagCoreTests", dependencies: [
            "TeaBagCore", "TeaBagTestSupport",
        ]),
        // A deterministic simulation of client engines, stores and a faulty
        // network over virtual time (SPEC §3: the three promises, every step).
        .testTarget(name: "TeaBagSimulationTests", dependencies: [
            "TeaBag", "TeaBagCore", "TeaBagTestSupport",
        ]),
        .testTarget(name: "TeaBagPluginsTests", dependencies: [
            "TeaBagPlugins", "TeaBagConfig", "TeaBagTestSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "InMemoryLogging", package: "swift-log"),
        ]),
    ]
)
