/// The library's HTTP: its own client, and the one place where an HTTP
/// answer becomes either JSON or a `TeaBagError` (docs/protocol.md#common-rules).
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TeaBagCore

public enum ClientHTTP {
    /// A store or table that is down must be an error within seconds, not a
    /// request parked until its deadline, which is what AsyncHTTPClient's
    /// default (retrying connection establishment) does. Never shut down.
    public static let shared: HTTPClient = makeClient()

    public static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(3)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Far above any body the protocol produces (a store refuses requests
    /// over 1 MiB, but an oplog read back can be larger), yet bounded.
    public static let maxBodyBytes = 64 << 20
    /// The protocol refuses request bodies nested deeper than 64; answers wrap
    /// those bodies in a few more levels (`{results}`, `[ops]`, `{op}`).
    static let maxAnswerDepth = 512
}

/// A 2xx answer, its body parsed.
struct HTTPReply {
    let status: Int
    let headers: HTTPHeaders
    let json: JSON
    /// The server's `Date`, in ms since 1970.
    var serverDate: Int64? { headers.first(name: "Date").flatMap(ClientHTTP.parseHTTPDate) }
}

extension ClientHTTP {
    /// Sends one request and reads its whole answer. A 2xx answer must carry
    /// JSON; anything else becomes the server's `TeaBagError`.
    /// - Parameter what: names the request in errors, e.g. "store http://…/user/1/ (GET oplog)".
    static func send(_ request: HTTPClientRequest, http: HTTPClient, timeout: Duration, what: String) async throws(TeaBagError) -> HTTPReply {
        let status: Int
        let headers: HTTPHeaders
        let body: ByteBuffer
        do {
            let deadline = ContinuousClock.now + timeout
            let response = try await http.execute(request, timeout: timeAmount(timeout))
            status = Int(response.status.code)
            headers = response.headers
            body = try await collect(response.body, before: deadline)
        } catch {
            throw transportError(what, error)
        }
        return try reply(status: status, headers: headers, body: body.readableBytesView, what: what)
    }

    /// AsyncHTTPClient's deadline ends with the response head; a body that
    /// trickles in must not stretch a request past its timeout either.
    private static func collect(_ body: HTTPClientResponse.Body, before deadline: ContinuousClock.Instant) async throws -> ByteBuffer {
        try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: maxBodyBytes) }
            group.addTask {
                try await Task.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let bytes = first else { throw HTTPClientError.deadlineExceeded }
            return bytes
        }
    }

    static func reply<Bytes: Collection>(status: Int, headers: HTTPHeaders, body: Bytes, what: String) throws(TeaBagError) -> HTTPReply
    where Bytes.Element == UInt8 {
        let json = try? JSON.parse(body, maxDepth: maxAnswerDepth)
        guard (200..<300).contains(status) else {
            throw answerError(status: status, headers: headers, json: json, body: body, what: what)
        }
        guard let json else {
            throw TeaBagError(.protocolBadAnswer, "\(what) answered \(status) with a body that is not JSON: \(excerpt(body))", status: status)
        }
        return HTTPReply(status: status, headers: headers, json: json)
    }

    /// The protocol's `{"error":{"name","message"}}`, with the status and
    /// `Retry-After`; an error answer without that body (a proxy's HTML page,
    /// say) still keeps its status so callers can tell retry from refusal.
    static func answerError<Bytes: Collection>(status: Int, headers: HTTPHeaders, json: JSON?, body: Bytes, what: String) -> TeaBagError
    where Bytes.Element == UInt8 {
        let retryAfter = headers.first(name: "Retry-After").flatMap {
            retryAfterMs($0, serverDate: headers.first(name: "Date").flatMap(parseHTTPDate))
        }
        if let error = json?["error"], let name = error["name"]?.stringValue {
            let message = error["message"]?.stringValue ?? ""
            return TeaBagError(name, message, status: status, retryAfterMs: retryAfter)
        }
        return TeaBagError(.serverUnexpectedStatus,
                           "\(what) answered \(status) without a protocol error: \(excerpt(body))",
                           status: status, retryAfterMs: retryAfter)
    }

    /// A request that got no answer: refused, timed out, reset, cancelled.
    static func transportError(_ what: String, _ error: any Error) -> TeaBagError {
        if let error = error as? TeaBagError { return error }
        if error is NIOTooManyBytesError {
            return TeaBagError(.protocolBadAnswer, "\(what): the answer is larger than \(maxBodyBytes >> 20) MiB")
        }
        if Task.isCancelled || error is CancellationError {
            return TeaBagError(.clientCancelled, "\(what): the request was cancelled")
        }
        return .network(what, error)
    }

    static func excerpt<Bytes: Collection>(_ body: Bytes) -> String where Bytes.Element == UInt8 {
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return text.isEmpty ? "(empty body)" : text
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

// MARK: - Request building

extension ClientHTTP {
    /// A query value or path segment percent-encoded down to the unreserved
    /// characters of RFC 3986, so that `/`, `&`, `+`, `#` and non-ASCII in a
    /// path all reach the server as written.
    static func encode(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0xF)]))
            }
        }
        return out
    }

    static func query(_ items: [(String, String)]) -> String {
        items.isEmpty ? "" : "?" + items.map { "\($0.0)=\(encode($0.1))" }.joined(separator: "&")
    }

    static func bearer(_ token: String) -> String { "Bearer \(token)" }

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    static func jsonBody(_ json: JSON, into request: inout HTTPClientRequest) {
        request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: json.canonicalBytes))
    }
}

// MARK: - Dates

extension ClientHTTP {
    /// An HTTP `Date` (IMF-fixdate, RFC 9110 §5.6.7: `Sun, 06 Nov 1994 08:49:37 GMT`)
    /// in ms since 1970; nil when it is not one. Hand-parsed rather than with a
    /// DateFormatter, whose locale and thread rules are easy to get wrong.
    public static func parseHTTPDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
              let day = Int(parts[1]), (1...31).contains(day),
              let month = months.firstIndex(of: String(parts[2])),
              let year = Int(parts[3]), parts[3].count == 4 else { return nil }
        let clock = parts[4].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, clock.allSatisfy({ $0.count == 2 }),
              let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2]),
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second) else { return nil }
        let days = daysFromCivil(year: year, month: month + 1, day: day)
        return (Int64(days) * 86_400 + Int64(hour * 3_600 + minute * 60 + second)) * 1_000
    }

    /// `Retry-After` in ms: delta-seconds, or an HTTP date measured against
    /// the same answer's `Date` (both on the server's clock).
    static func retryAfterMs(_ text: String, serverDate: Int64?) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int64(trimmed), seconds >= 0 { return seconds * 1_000 }
        guard let at = parseHTTPDate(trimmed), let serverDate else { return nil }
        return max(0, at - serverDate)
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
