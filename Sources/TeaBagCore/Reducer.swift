/// Reducers fold an oplog into a value (docs/sync.md#oplog-rules, docs/plugins.md). Plugins, libffi
/// declarations and Swift closures all present this one interface.
public protocol Reducer: Sendable {
    /// The op type it serves.
    var type: String { get }
    /// Folds payload ops, in oplog order, onto `state`.
    /// Throws when the reducer refuses the call; `Fold` then retries op by op.
    func fold(state: JSON, ops: ArraySlice<Op>) throws(ReducerRefusal) -> JSON
    /// Whether a payload is acceptable for this type (op-local).
    func validate(payload: JSON) throws(ReducerRefusal)
    /// The value of a path never written (the empty base's `null` by
    /// default); the original client's `test` type reads 0 there.
    var initial: JSON { get }
}

extension Reducer {
    public var initial: JSON { .null }
}

/// A reducer's refusal, with its own message.
public struct ReducerRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A reducer written as a Swift closure over one op at a time.
public struct ClosureReducer: Reducer {
    public let type: String
    private let step: @Sendable (JSON, Op) throws -> JSON
    private let check: (@Sendable (JSON) throws -> Void)?
    public let initial: JSON

    /// - Parameters:
    ///   - type: the op type.
    ///   - initial: the value of a path never written.
    ///   - validate: throws to refuse a payload; nil accepts every payload.
    ///   - step: the state after one op. A thrown error refuses that op.
    public init(type: String, initial: JSON = .null, validate: (@Sendable (JSON) throws -> Void)? = nil,
                step: @escaping @Sendable (_ state: JSON, _ op: Op) throws -> JSON) {
        self.type = type
        self.initial = initial
        self.step = step
        self.check = validate
    }

    public func fold(state: JSON, ops: ArraySlice<Op>) throws(ReducerRefusal) -> JSON {
        var state = state
        for op in ops {
            do { state = try step(state, op) } catch { throw ReducerRefusal(String(describing: error)) }
        }
        return state
    }

    public func validate(payload: JSON) throws(ReducerRefusal) {
        guard let check else { return }
        do { try check(payload) } catch { throw ReducerRefusal(String(describing: error)) }
    }
}

/// The value of a fold and the ops the reducer refused on the way.
public struct FoldOutcome: Sendable, Equatable {
    public var value: JSON
    /// Refused ops, skipped: (sha, the reducer's message).
    public var skipped: [SkippedOp]

    public struct SkippedOp: Sendable, Equatable {
        public let sha: String
        public let message: String
        public init(sha: String, message: String) {
            self.sha = sha
            self.message = message
        }
    }
}

public enum Fold {
    /// Folds `ops` onto `state` in one call; when the reducer refuses the
    /// call, folds them one by one and skips each op refused alone
    /// (docs/plugins.md#the-abi-in-one-minute: a refused op never stalls a channel).
    public static func fold(_ reducer: some Reducer, state: JSON, ops: ArraySlice<Op>) -> FoldOutcome {
        if ops.isEmpty { return FoldOutcome(value: state, skipped: []) }
        do {
            return FoldOutcome(value: try reducer.fold(state: state, ops: ops), skipped: [])
        } catch {
            if ops.count == 1 {
                return FoldOutcome(value: state, skipped: [.init(sha: ops.first!.sha, message: error.message)])
            }
        }
        var outcome = FoldOutcome(value: state, skipped: [])
        for index in ops.indices {
            do {
                outcome.value = try reducer.fold(state: outcome.value, ops: ops[index...index])
            } catch {
                outcome.skipped.append(.init(sha: ops[index].sha, message: error.message))
            }
        }
        return outcome
    }
}

extension Oplog {
    /// The value: the base's value folded over the payload ops in order.
    public func value(using reducer: some Reducer) -> FoldOutcome {
        let start = Bytewise.equal(base.sha, Op.emptySHA) ? reducer.initial : (base.value ?? .null)
        return Fold.fold(reducer, state: start, ops: ops[...])
    }
}
