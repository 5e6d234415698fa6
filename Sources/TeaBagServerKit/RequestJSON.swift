/// Reading a JSON request body under the limits of docs/protocol.md#common-rules: over the
/// size limit is 413 before any parsing (Content-Length is checked first,
/// then the bytes as they stream in), a wrong content type is 415, and JSON
/// nested deeper than 64 is 400.
import Hummingbird
import NIOCore
import TeaBagCore

public struct BodyLimits: Sendable {
    public var maxBytes: Int
    public var maxDepth: Int
    public init(maxBytes: Int = 1 << 20, maxDepth: Int = JSON.defaultMaxDepth) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
    }
}

extension Request {
    /// The body as raw bytes, refused with 413 past `limit` without reading more.
    public func bodyBytes(limit: Int, errorKind: String) async throws -> ByteBuffer {
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(.bodyTooLarge.in(errorKind), "the body is \(length) bytes; the limit is \(limit)")
        }
        do {
            return try await body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError(.bodyTooLarge.in(errorKind), "the body is over the limit of \(limit) bytes")
        } catch {
            // The parser broke off (a bad chunk, the connection closed before
            // Content-Length bytes): the client's fault, never a 500. The
            // connection is gone by now; this names it in the log and metrics.
            throw APIError(.incompleteBody.in(errorKind), "the body could not be read to its end (\(error))")
        }
    }

    /// The body parsed as JSON, after the content-type, size and depth checks.
    /// - Parameter errorKind: the `Kind` of the error names (`UserError`, `TableError`…).
    public func jsonBody(_ limits: BodyLimits, errorKind: String) async throws -> JSON {
        if let type = headers[.contentType]?.lowercased(), !type.hasPrefix("application/json") {
            throw APIError(.invalidContentType.in(errorKind), "send the body as application/json, not \(type)")
        }
        let buffer = try await bodyBytes(limit: limits.maxBytes, errorKind: errorKind)
        do {
            return try buffer.withUnsafeReadableBytes { raw in
                try JSON.parse(raw.bindMemory(to: UInt8.self), maxDepth: limits.maxDepth)
            }
        } catch let error as JSONParseError {
            switch error.reason {
            case .tooDeep: throw APIError(.tooDeep.in(errorKind), "the JSON is nested deeper than \(limits.maxDepth)")
            case .invalidUTF8: throw APIError(.invalidJSON.in(errorKind), "the body is not valid UTF-8 JSON: \(error.message)")
            case .syntax: throw APIError(.invalidJSON.in(errorKind), "the body is not valid JSON: \(error.message)")
            }
        }
    }
}
