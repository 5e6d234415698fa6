/// What a request hands the store's writer, and what it gets back.
import NIOCore
import TeaBagCore
import TeaBagServerKit

/// One op of a request, as admitted before the writer.
struct WriteEntry: Sendable {
    enum Item: Sendable {
        /// Passed every op-local check: merge it (docs/sync.md#oplog-rules).
        case merge(Op)
        /// Refused by an op-local check. The writer answers noop instead
        /// when the path already holds this sha (docs/protocol.md#store puts "already
        /// held" first), seeing the ops before it in the same request.
        case refused(sha: String?, APIError)
    }

    let type: String
    let path: String
    let item: Item
}

/// What merging one entry did.
enum WriteOutcome: Sendable, Equatable {
    /// Stored, and streamed with this id.
    case accepted(id: Int64)
    /// Already held, or covered, or a losing base: nothing changed.
    case noop
    case refused(APIError)

    static func == (a: WriteOutcome, b: WriteOutcome) -> Bool {
        switch (a, b) {
        case (.accepted(let x), .accepted(let y)): x == y
        case (.noop, .noop): true
        case (.refused(let x), .refused(let y)): x.name == y.name && x.message == y.message
        default: false
        }
    }
}

/// A request's entries, merged in order in one transaction; `completion`
/// runs once it committed (or failed), on `loop` when one is given —
/// the writer hands each event loop its completions in one task per commit.
struct WriteRequest: Sendable {
    let user: Int64
    let entries: [WriteEntry]
    let loop: (any EventLoop)?
    let completion: @Sendable (Result<[WriteOutcome], any Error>) -> Void
}

/// An op accepted and committed, for the streams.
struct AcceptedOp: Sendable {
    let user: Int64
    let id: Int64
    let type: String
    let path: String
    let op: Op
    /// `{"op":…,"path":…,"type":…}` as streamed, canonical.
    let entryText: [UInt8]
}
