import Synchronization
import TeaBagCore

/// The values a client can answer from memory, readable from any thread.
///
/// The agent answers `GET /v1/value` from here on its event loop, without
/// a hop to the client actor (issue 15: the hop, not the lookup, was most
/// of a read's time). The engines write it (on the actor) whenever a held
/// path's value changes, before the write or stream event that changed it
/// is answered, so a read after an acknowledged push sees that push. A
/// path missing here — not loaded yet, waiting for a slow type's fold, of
/// a channel not (or no longer) in the mount table, or any path once the
/// client is closed or its session refused — is read through the actor,
/// which has every rule of a read.
public final class HeldValues: Sendable {
    private struct State {
        var open = true
        var channels: [String: [PathKey: PathValue]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// The value as a read would answer it now, if it can be answered from memory.
    public func value(_ channel: String, _ key: PathKey) -> PathValue? {
        state.withLock { $0.open ? $0.channels[channel]?[key] : nil }
    }

    /// Whether writes to `channel` can be taken without waiting for the mount table.
    public func knows(_ channel: String) -> Bool {
        state.withLock { $0.open && $0.channels[channel] != nil }
    }

    /// A channel of the mount table, held from now on (its paths come as they load).
    func open(channel: String) {
        state.withLock { state in
            if state.channels[channel] == nil { state.channels[channel] = [:] }
        }
    }

    /// `value` nil: the path is no longer answered from memory (its fold is pending).
    func set(_ channel: String, _ key: PathKey, _ value: PathValue?) {
        state.withLock { $0.channels[channel]?[key] = value }
    }

    func drop(channel: String) {
        _ = state.withLock { $0.channels.removeValue(forKey: channel) }
    }

    /// Closed, or the session refused: every read goes to the actor (which says why).
    func close() {
        state.withLock { state in
            state.open = false
            state.channels = [:]
        }
    }
}
