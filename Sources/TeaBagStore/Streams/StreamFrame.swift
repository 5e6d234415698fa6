/// One streamed op, encoded once: the same bytes go to every listener.
import NIOCore
import TeaBagCore

struct StreamFrame: Sendable {
    let id: Int64
    let user: Int64
    /// `id: N\ndata: {"op":…,"path":…,"type":…}\n\n`; canonical JSON has no
    /// raw CR or LF, so the entry is one `data:` line.
    let sse: ByteBuffer

    init(_ accepted: AcceptedOp) {
        id = accepted.id
        user = accepted.user
        sse = Self.encode(id: accepted.id, entry: accepted.entryText)
    }

    init(id: Int64, user: Int64, entryText: [UInt8]) {
        self.id = id
        self.user = user
        sse = Self.encode(id: id, entry: entryText)
    }

    private static func encode(id: Int64, entry: [UInt8]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(entry.count + 32)
        buffer.writeString("id: ")
        buffer.writeString(String(id))
        buffer.writeString("\ndata: ")
        buffer.writeBytes(entry)
        buffer.writeString("\n\n")
        return buffer
    }

    static let opening = ByteBuffer(string: ": teabag\n\n")
    static let resync = ByteBuffer(string: "event: resync\ndata: {}\n\n")
    static let keepAlive = ByteBuffer(string: ": keep-alive\n\n")
}
