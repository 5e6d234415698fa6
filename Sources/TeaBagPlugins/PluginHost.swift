/// The reducer host of a process: every reducer of the plugin directories
/// and of conf.d, by type, reloaded on demand (SIGHUP) and when a directory
/// changes, swapped atomically for new calls (docs/plugins.md#the-abi-in-one-minute).
import Foundation
import Logging
import Metrics
import Synchronization
import TeaBagCore

public final class PluginHost: Sendable {
    public let directories: [String]
    public let declared: [DeclaredReducer]
    private let logger: Logger
    private let metricsFactory: (any MetricsFactory)?
    private let shadows = ShadowCopies()
    private let state = Mutex(State())
    /// Held for a whole reload. A SIGHUP and the directory poll may ask at
    /// once: unserialized, both would load a new file (two dlopens, two
    /// constructor runs) and the one whose scan is older could publish last,
    /// serving a library that was already replaced.
    private let reloading = Mutex(())

    struct State {
        var reducers: [String: any Reducer] = [:]
        /// The last load of each file, reused while its signature holds.
        var loaded: [String: (signature: FileSignature, result: Result<[PluginReducer], PluginLoadError>)] = [:]
        var refusals: [PluginLoadError] = []
        var declarationErrors: [FFIDeclarationError] = []
        var declaredReducers: [FFIReducer] = []
        var declaredDone = false
        var skipped: [String: Int] = [:]
        var lastSkips: [SkipReport] = []
    }

    /// An op a reducer refused during a fold, as `teabag status` shows it.
    public struct SkipReport: Sendable, Equatable {
        public let type: String
        public let sha: String
        public let message: String
    }

    /// - Parameters:
    ///   - directories: plugin directories, in priority order.
    ///   - declared: libffi reducers from conf.d.
    public init(directories: [String], declared: [DeclaredReducer] = [], logger: Logger = Logger(label: "teabag.plugins"),
                metricsFactory: (any MetricsFactory)? = nil) {
        self.directories = directories
        self.declared = declared
        self.logger = logger
        self.metricsFactory = metricsFactory
        reload()
    }

    /// The reducer serving `type`, as loaded now.
    public func reducer(for type: String) -> (any Reducer)? {
        state.withLock { $0.reducers[type] }
    }

    /// Every type served, sorted.
    public var types: [String] { state.withLock { $0.reducers.keys.sorted() } }

    /// Every reducer served, by type.
    public var reducers: [String: any Reducer] { state.withLock { $0.reducers } }

    /// Libraries refused at the last load, with their reasons.
    public var refusals: [PluginLoadError] { state.withLock { $0.refusals } }

    /// conf.d declarations that could not be loaded.
    public var declarationErrors: [FFIDeclarationError] { state.withLock { $0.declarationErrors } }

    /// Ops skipped by reducers since start, by type.
    public var skippedCounts: [String: Int] { state.withLock { $0.skipped } }

    /// The most recent skipped ops (at most 100).
    public var recentSkips: [SkipReport] { state.withLock { $0.lastSkips } }

    /// Folds through the reducer of `type`, counting and logging refused
    /// ops; nil when no reducer serves the type.
    public func fold(type: String, state initial: JSON, ops: ArraySlice<Op>) -> FoldOutcome? {
        reducer(for: type).map { fold(with: $0, state: initial, ops: ops) }
    }

    /// Folds through a reducer the caller already holds (one lookup per op
    /// on a hot path), counting and logging refused ops all the same.
    public func fold(with reducer: any Reducer, state initial: JSON, ops: ArraySlice<Op>) -> FoldOutcome {
        let outcome = Fold.fold(reducer, state: initial, ops: ops)
        if !outcome.skipped.isEmpty { record(skipped: outcome.skipped, type: reducer.type) }
        return outcome
    }

    private func record(skipped: [FoldOutcome.SkippedOp], type: String) {
        if let metricsFactory {
            Counter(label: "teabag_fold_skipped_ops_total", dimensions: [("type", type)], factory: metricsFactory).increment(by: skipped.count)
        } else {
            Counter(label: "teabag_fold_skipped_ops_total", dimensions: [("type", type)]).increment(by: skipped.count)
        }
        for skip in skipped {
            logger.warning("reducer refused an op; skipped in the value", metadata: ["type": "\(type)", "sha": "\(skip.sha)", "reason": "\(skip.message)"])
        }
        state.withLock { s in
            s.skipped[type, default: 0] += skipped.count
            s.lastSkips.append(contentsOf: skipped.map { SkipReport(type: type, sha: $0.sha, message: $0.message) })
            if s.lastSkips.count > 100 { s.lastSkips.removeFirst(s.lastSkips.count - 100) }
        }
    }

    /// Rescans the directories now: new and replaced files are loaded,
    /// removed ones stop serving. Returns whether what is served changed.
    @discardableResult
    public func reload() -> Bool {
        reloading.withLock { _ in reloadSerialized() }
    }

    private func reloadSerialized() -> Bool {
        let files = PluginDirectory.scan(directories)
        // Load outside the lock: dlopen runs the library's constructors.
        let previous = state.withLock { $0.loaded }
        var loaded: [String: (signature: FileSignature, result: Result<[PluginReducer], PluginLoadError>)] = [:]
        for (path, signature) in files {
            if let known = previous[path], known.signature == signature {
                loaded[path] = known
                continue
            }
            let result: Result<[PluginReducer], PluginLoadError>
            do {
                result = .success(try shadows.withCopy(of: path) { copy in
                    try PluginLoader.load(file: path, loadPath: copy)
                })
            } catch let error as PluginLoadError {
                result = .failure(error)
            } catch {
                result = .failure(PluginLoadError(file: path, reason: "cannot copy for loading (\(error))"))
            }
            loaded[path] = (signature, result)
        }
        let declaredReducers = loadDeclaredOnce()

        // Assemble: the first library in file-name order wins a type.
        var reducers: [String: any Reducer] = [:]
        var owners: [String: String] = [:]
        var refusals: [PluginLoadError] = []
        for (path, _) in files {
            switch loaded[path]!.result {
            case .failure(let error):
                refusals.append(error)
            case .success(let provided):
                if let clash = provided.first(where: { owners[$0.type] != nil }) {
                    refusals.append(PluginLoadError(file: path, reason: "type \"\(clash.type)\" is already served by \(owners[clash.type]!) (the first in file-name order wins)"))
                    continue
                }
                for reducer in provided {
                    reducers[reducer.type] = reducer
                    owners[reducer.type] = path
                }
            }
        }
        for reducer in declaredReducers {
            if let owner = owners[reducer.type] {
                let error = PluginLoadError(file: reducer.declaration.origin, reason: "type \"\(reducer.type)\" is already served by \(owner)")
                refusals.append(error)
                continue
            }
            reducers[reducer.type] = reducer
            owners[reducer.type] = reducer.declaration.origin
        }
        // One log line per refusal, when it first appears (not again on every poll).
        let known = state.withLock { $0.refusals }
        for error in refusals where !known.contains(error) {
            logger.error("plugin refused: \(error.file): \(error.reason)")
        }
        return state.withLock { s in
            let changed = Set(s.reducers.keys) != Set(reducers.keys) || s.loaded.mapValues(\.signature) != loaded.mapValues(\.signature)
            s.reducers = reducers
            s.loaded = loaded
            s.refusals = refusals
            return changed
        }
    }

    private func loadDeclaredOnce() -> [FFIReducer] {
        if let done = state.withLock({ $0.declaredDone ? $0.declaredReducers : nil }) { return done }
        var reducers: [FFIReducer] = []
        var errors: [FFIDeclarationError] = []
        for declaration in declared {
            do { reducers.append(try FFIReducer(declaration)) } catch {
                logger.error("declared reducer refused: \(error.message)")
                errors.append(error)
            }
        }
        state.withLock { s in
            s.declaredReducers = reducers
            s.declarationErrors = errors
            s.declaredDone = true
        }
        return reducers
    }

    /// Watches the directories by polling their listing and file signatures,
    /// and reloads once a change has held still for one interval (so a file
    /// being copied is not loaded half-written). Runs until cancelled.
    public func watch(every interval: Duration = .milliseconds(500)) async {
        // Compare against what was loaded, not against the first poll: a
        // change made between the last load and the watcher's start counts.
        var settled = state.withLock { $0.loaded.mapValues(\.signature) }
        var pending: [String: FileSignature]? = nil
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let now = snapshot()
            if now == settled { pending = nil; continue }
            if now == pending {
                logger.info("plugin directory changed; reloading")
                reload()
                settled = now
                pending = nil
            } else {
                pending = now
            }
        }
    }

    private func snapshot() -> [String: FileSignature] {
        Dictionary(PluginDirectory.scan(directories).map { ($0.path, $0.signature) }, uniquingKeysWith: { a, _ in a })
    }
}
