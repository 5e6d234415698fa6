/// Options shared by the server roles, and running one until SIGTERM/SIGINT.
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TeaBagConfig

struct CommonRoleOptions: ParsableArguments {
    @Option(help: "conf.d directory (default ./conf.d, then /etc/teabag/conf.d).")
    var config: String?

    @Option(help: "Address to bind.")
    var host: String?

    @Option(help: "Port to bind; 0 picks a free one.")
    var port: Int?

    @Option(help: "Data directory.")
    var data: String?

    /// The flags as configuration keys of `section`.
    func flags(section: String) -> [String: ConfValue.Scalar] {
        var flags: [String: ConfValue.Scalar] = [:]
        if let host { flags["\(section).host"] = .string(host) }
        if let port { flags["\(section).port"] = .int(port) }
        if let data { flags["\(section).data"] = .string(data) }
        return flags
    }

    func settings(section: String, extra: [String: ConfValue.Scalar] = [:]) async throws -> Settings {
        do {
            return try await Settings.load(directory: config, flags: flags(section: section).merging(extra) { _, new in new })
        } catch {
            throw CLIFailure.usage("configuration: \(error.description)")
        }
    }
}

enum RoleRunner {
    /// Runs a step of a role's start: a configuration error is a usage error
    /// (exit 2, naming the file and key), anything else a runtime failure.
    static func starting<T>(_ role: String, _ step: () throws -> T) throws -> T {
        do {
            return try step()
        } catch let error as ConfigError {
            throw CLIFailure.usage("configuration: \(error.description)")
        } catch {
            throw CLIFailure.runtime("\(role): \(error)")
        }
    }

    /// Says where a key generated at first start was kept (docs/configuration.md).
    static func reportGeneratedKey(_ role: String, _ path: String?) {
        guard let path else { return }
        FileHandleOutput.stderr("teabag \(role): no key configured; generated one and kept it in \(path) (mode 0600)")
    }

    static func logger(_ label: String, level: Logger.Level) -> Logger {
        var logger = Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = level
        return logger
    }

    /// Runs a built application with graceful shutdown on SIGTERM/SIGINT;
    /// a port in use is a usage error (exit 2).
    static func run(_ service: some Service, logger: Logger, what: String) async throws {
        try await run([service], logger: logger, what: what)
    }

    static func run(_ services: [any Service], logger: Logger, what: String) async throws {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            let text = "\(error)"
            if text.contains("Address already in use") || text.contains("EADDRINUSE") || text.contains("errno: 98") {
                throw CLIFailure.usage("\(what): the port is already in use; pick another with --port (0 picks a free one)")
            }
            throw CLIFailure.runtime("\(what) stopped: \(text)")
        }
    }
}
