import Logging
import ServiceLifecycle
import TeaBagPlugins
import UnixSignals

/// Reloads plugins when their directories change and on SIGHUP (docs/plugins.md#the-abi-in-one-minute).
public struct PluginWatcher: Service {
    let plugins: PluginHost
    let interval: Duration
    let logger: Logger

    public init(plugins: PluginHost, interval: Duration, logger: Logger) {
        self.plugins = plugins
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await plugins.watch(every: interval) }
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    logger.notice("SIGHUP: reloading plugins")
                    plugins.reload()
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}
