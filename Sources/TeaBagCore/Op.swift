/// An operation of an oplog: a payload op (a change) or a value-op (a base).
///
/// Wire shape (docs/protocol.md#store, docs/sync.md#oplog-rules): `{date, sha, payload, node?, seq?}` or
/// `{date, sha, value, covers?}`. Members TeaBag does not know are kept in
/// `extra` and returned as given, because the original client pushes what it
/// read from one store to the others.
public struct Op: Sendable {
    public enum Body: Sendable, Hashable {
        case payload(JSON)
        case value(JSON)
    }

    public let date: Int64
    public let sha: String
    public let body: Body
    /// The node that created a payload op and its counter there (ext).
    public let node: String?
    public let seq: Int64?
    /// For a value-op (ext): the highest seq per node folded into its value.
    public let covers: [String: Int64]?
    public let extra: [String: JSON]

    /// `{"date":…,"payload":…,"sha":…}` in canonical form: what a reducer
    /// sees of a payload op. Computed once so that a replay is a copy.
    public let reducerEntry: [UInt8]

    public init(date: Int64, sha: String, body: Body, node: String? = nil, seq: Int64? = nil,
                covers: [String: Int64]? = nil, extra: [String: JSON] = [:]) {
        self.date = date
        self.sha = sha
        self.body = body
        self.node = node
        self.seq = seq
        self.covers = covers
        self.extra = extra
        if case .payload(let payload) = body {
            var entry: [UInt8] = []
            entry.reserveCapacity(96)
            entry.append(contentsOf: #"{"date":"#.utf8)
            JSONNumber(date).write(to: &entry)
            entry.append(contentsOf: #","payload":"#.utf8)
            payload.write(to: &entry)
            entry.append(contentsOf: #","sha":"#.utf8)
            JSON.writeString(sha, to: &entry)
            entry.append(UInt8(ascii: "}"))
            self.reducerEntry = entry
        } else {
            self.reducerEntry = []
        }
    }

    public var isValueOp: Bool {
        if case .value = body { return true }
        return false
    }

    public var payload: JSON? {
        if case .payload(let p) = body { return p }
        return nil
    }

    public var value: JSON? {
        if case .value(let v) = body { return v }
        return nil
    }

    /// The base of a path never written (docs/sync.md#oplog-rules).
    public static let empty = Op(date: 0, sha: emptySHA, body: .value(.null))

    /// The sha of the empty base: the one the original 0.1.3 package gives it
    /// (HMAC-SHA1 with an empty key over "0" and "null"), so that its clients'
    /// re-push of their empty base is recognised as already held.
    public static let emptySHA = "f86af73e2defec331e24eb9675a73a03a4013756"
}

/// Equality of everything the op says, identifiers as bytes (`Bytewise`):
/// a sha spelled in another Unicode form is another op.
extension Op: Hashable {
    public static func == (a: Op, b: Op) -> Bool {
        Bytewise.equal(a.sha, b.sha) && a.date == b.date && a.body == b.body && Bytewise.equal(a.node, b.node) && a.seq == b.seq
            && coversEqual(a.covers, b.covers) && JSON.object(a.extra) == JSON.object(b.extra)
    }

    public func hash(into hasher: inout Hasher) {
        Bytewise.hash(sha, into: &hasher)
        hasher.combine(date)
    }

    private static func coversEqual(_ a: [String: Int64]?, _ b: [String: Int64]?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (let x?, let y?):
            guard x.count == y.count else { return false }
            for (node, seq) in x {
                guard let index = y.index(forKey: node), Bytewise.equal(y[index].key, node), y[index].value == seq else { return false }
            }
            return true
        default: return false
        }
    }
}

/// Why an op's shape is refused: op-local, so a refusal for good (docs/sync.md#oplog-rules).
public struct OpShapeError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Op {
    /// Limits in bytes of UTF-8 (128 ASCII characters; fewer of other scripts).
    public static let maxSHALength = 128
    public static let maxNodeLength = 64

    /// Reads an op from its wire JSON, checking every rule of docs/protocol.md#store and docs/sync.md#oplog-rules.
    public init(json: JSON) throws(OpShapeError) {
        guard case .object(var members) = json else { throw OpShapeError("an op must be a JSON object, got \(json.kindName)") }
        guard let dateJSON = members.removeValue(forKey: "date") else { throw OpShapeError("op.date is missing") }
        guard let date = dateJSON.int64Value, date >= 0 else {
            throw OpShapeError("op.date must be a non-negative integer of milliseconds since 1970")
        }
        guard let shaJSON = members.removeValue(forKey: "sha") else { throw OpShapeError("op.sha is missing") }
        guard let sha = shaJSON.stringValue, !sha.isEmpty, sha.utf8.count <= Op.maxSHALength else {
            throw OpShapeError("op.sha must be a non-empty string of at most \(Op.maxSHALength) bytes of UTF-8")
        }
        let payload = members.removeValue(forKey: "payload")
        let value = members.removeValue(forKey: "value")
        let body: Body
        switch (payload, value) {
        case (let p?, nil): body = .payload(p)
        case (nil, let v?): body = .value(v)
        case (nil, nil): throw OpShapeError("an op needs one of payload and value")
        case (_?, _?): throw OpShapeError("an op holds exactly one of payload and value, not both")
        }
        let nodeJSON = members.removeValue(forKey: "node")
        let seqJSON = members.removeValue(forKey: "seq")
        let coversJSON = members.removeValue(forKey: "covers")
        var node: String? = nil
        var seq: Int64? = nil
        var covers: [String: Int64]? = nil
        switch body {
        case .payload:
            if date == 0 { throw OpShapeError("op.date must be positive (0 is only for the empty base)") }
            if coversJSON != nil { throw OpShapeError("op.covers belongs to value-ops only") }
            switch (nodeJSON, seqJSON) {
            case (nil, nil): break
            case (let n?, let s?):
                guard let n = n.stringValue, !n.isEmpty, n.utf8.count <= Op.maxNodeLength else {
                    throw OpShapeError("op.node must be a non-empty string of at most \(Op.maxNodeLength) bytes of UTF-8")
                }
                guard let s = s.int64Value, s >= 1 else { throw OpShapeError("op.seq must be a positive integer") }
                node = n
                seq = s
            default: throw OpShapeError("op.node and op.seq go together")
            }
        case .value(let value):
            // The empty base is the one value-op of date 0: any other would
            // tie with it on date and win or lose on its sha alone.
            if date == 0 && !(Bytewise.equal(sha, Op.emptySHA) && value == .null) {
                throw OpShapeError("op.date must be positive (0 is only for the empty base)")
            }
            if nodeJSON != nil || seqJSON != nil { throw OpShapeError("op.node and op.seq belong to payload ops only") }
            if let coversJSON {
                guard case .object(let entries) = coversJSON else { throw OpShapeError("op.covers must be an object {node: seq}") }
                var vector: [String: Int64] = [:]
                for (key, entry) in entries {
                    guard !key.isEmpty, key.utf8.count <= Op.maxNodeLength, let s = entry.int64Value, s >= 0 else {
                        throw OpShapeError("op.covers must map node ids to non-negative integers")
                    }
                    vector[key] = s
                }
                covers = vector
            }
        }
        self.init(date: date, sha: sha, body: body, node: node, seq: seq, covers: covers, extra: members)
    }

    /// Parses an op from wire bytes.
    public init<Bytes: Collection>(jsonBytes: Bytes, maxDepth: Int = JSON.defaultMaxDepth) throws(OpShapeError) where Bytes.Element == UInt8 {
        let json: JSON
        do { json = try JSON.parse(jsonBytes, maxDepth: maxDepth) } catch { throw OpShapeError("invalid JSON: \(error.message)") }
        try self.init(json: json)
    }

    /// The op's wire JSON, with every member it was accepted with.
    public var json: JSON {
        var members = extra
        members["date"] = .number(JSONNumber(date))
        members["sha"] = .string(sha)
        switch body {
        case .payload(let p): members["payload"] = p
        case .value(let v): members["value"] = v
        }
        if let node { members["node"] = .string(node) }
        if let seq { members["seq"] = .number(JSONNumber(seq)) }
        if let covers { members["covers"] = .object(covers.mapValues { .number(JSONNumber($0)) }) }
        return .object(members)
    }
}
