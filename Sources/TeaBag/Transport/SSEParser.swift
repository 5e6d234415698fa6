/// Server-Sent Events read incrementally (WHATWG HTML §9.2.6): bytes go in
/// as the network delivers them, split anywhere; whole events come out.
public struct SSEParser: Sendable {
    public struct Event: Equatable, Sendable {
        public var id: String?
        public var event: String?
        public var data: String?
    }

    /// One line longer than this ends the stream: a server that never sends
    /// a newline must not grow our memory without bound.
    public let maxLineBytes: Int
    private var line: [UInt8] = []
    /// A `\r` ended the last line; a `\n` right after it (maybe in the next chunk) is the same line end.
    private var afterCR = false
    private var pending = Event()
    private var dataLines: [String] = []
    private var hasFields = false

    public init(maxLineBytes: Int = ClientHTTP.maxBodyBytes) {
        self.maxLineBytes = maxLineBytes
    }

    public struct LineTooLong: Error, CustomStringConvertible {
        public let limit: Int
        public var description: String { "an event line longer than \(limit) bytes" }
    }

    /// The events completed by `bytes`. Comment-only blocks (`: keep-alive`) yield nothing.
    public mutating func feed<Bytes: Sequence>(_ bytes: Bytes) throws(LineTooLong) -> [Event] where Bytes.Element == UInt8 {
        var events: [Event] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\n") where afterCR:
                afterCR = false
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                afterCR = byte == UInt8(ascii: "\r")
                if let event = endLine() { events.append(event) }
            default:
                afterCR = false
                guard line.count < maxLineBytes else { throw LineTooLong(limit: maxLineBytes) }
                line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine() -> Event? {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else { return dispatch() }
        if line[0] == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        let field = String(decoding: line[..<(colon ?? line.endIndex)], as: UTF8.self)
        var valueStart = colon.map { $0 + 1 } ?? line.endIndex
        if valueStart < line.endIndex, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = String(decoding: line[valueStart...], as: UTF8.self)
        switch field {
        case "id": pending.id = value
        case "event": pending.event = value
        case "data": dataLines.append(value)
        default: return nil
        }
        hasFields = true
        return nil
    }

    private mutating func dispatch() -> Event? {
        defer {
            pending = Event()
            dataLines = []
            hasFields = false
        }
        guard hasFields else { return nil }
        var event = pending
        if !dataLines.isEmpty { event.data = dataLines.joined(separator: "\n") }
        return event
    }
}
