/// A reducer served by a C-ABI plugin (docs/plugins.md#the-abi-in-one-minute), called through its
/// `tb_reducer` descriptor.
import CTeaBagReducer
import TeaBagCore

public struct PluginReducer: Reducer, @unchecked Sendable {
    // Unsafe 1: `descriptor` points into a library that is never dlclosed, so
    // it stays valid for the life of the process. The ABI requires fold and
    // validate to be reentrant, which is what makes this type Sendable.
    let descriptor: UnsafePointer<tb_reducer>
    public let type: String
    public let version: String
    /// The file it was loaded from (the watched path, not the private copy).
    public let file: String

    /// Tells apart two loads of one file (a replaced library keeps its name
    /// and maybe its version). Built once: the store compares it for every op.
    public let identity: String

    init(descriptor: UnsafePointer<tb_reducer>, type: String, version: String, file: String) {
        self.descriptor = descriptor
        self.type = type
        self.version = version
        self.file = file
        self.identity = "\(file)@\(version)#\(UInt(bitPattern: descriptor))"
    }

    public func fold(state: JSON, ops: ArraySlice<Op>) throws(ReducerRefusal) -> JSON {
        try foldEncoded(state: state.canonicalBytes, ops: Self.encode(ops))
    }

    /// The JSON array a plugin's fold receives: each op's cached reducer
    /// entry, comma-separated. One allocation and one copy per op, since a
    /// replay of 100,000 ops spends its time here if anywhere.
    public static func encode(_ ops: ArraySlice<Op>) -> [UInt8] {
        var total = 2 + max(0, ops.count - 1)
        for op in ops { total += op.reducerEntry.count }
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            var cursor = buffer.baseAddress!
            cursor.pointee = UInt8(ascii: "[")
            cursor += 1
            var first = true
            for op in ops {
                if !first { cursor.pointee = UInt8(ascii: ","); cursor += 1 }
                first = false
                op.reducerEntry.withUnsafeBufferPointer { entry in
                    cursor.update(from: entry.baseAddress!, count: entry.count)
                    cursor += entry.count
                }
            }
            cursor.pointee = UInt8(ascii: "]")
            count = total
        }
    }

    /// Folds pre-encoded JSON (the state and an array of reducer entries).
    public func foldEncoded(state: [UInt8], ops: [UInt8]) throws(ReducerRefusal) -> JSON {
        let (status, output) = call { out in
            state.withUnsafeBufferPointer { s in
                ops.withUnsafeBufferPointer { o in
                    descriptor.pointee.fold(slice(s), slice(o), out)
                }
            }
        }
        guard status == 0 else { throw ReducerRefusal(message(output, fallback: "\(type): fold refused the ops")) }
        do {
            return try JSON.parse(output, maxDepth: 512)
        } catch {
            throw ReducerRefusal("\(type): fold returned invalid JSON (\(error.message))")
        }
    }

    public func validate(payload: JSON) throws(ReducerRefusal) {
        guard let validate = descriptor.pointee.validate else { return }
        let bytes = payload.canonicalBytes
        let (status, output) = call { out in
            bytes.withUnsafeBufferPointer { p in validate(slice(p), out) }
        }
        if status != 0 { throw ReducerRefusal(message(output, fallback: "\(type): payload refused")) }
    }

    /// Runs one plugin call and copies out its result, then hands the
    /// plugin's memory back to its own free_result (ownership rule of the ABI).
    private func call(_ body: (UnsafeMutablePointer<tb_result>) -> Int32) -> (Int32, [UInt8]) {
        var result = tb_result(data: nil, len: 0)
        let status = withUnsafeMutablePointer(to: &result) { body($0) }
        var copy: [UInt8] = []
        if let data = result.data {
            copy = Array(UnsafeRawBufferPointer(start: data, count: result.len))
            descriptor.pointee.free_result?(&result)
        }
        return (status, copy)
    }

    private func message(_ bytes: [UInt8], fallback: String) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.isEmpty ? fallback : text
    }
}

@inline(__always)
private func slice(_ buffer: UnsafeBufferPointer<UInt8>) -> tb_slice {
    // Unsafe 2: the slice borrows the buffer for the duration of the call
    // only, which is all the ABI lets a plugin keep it for. An empty buffer
    // may have a nil base; plugins get a valid pointer with len 0 instead.
    let base = buffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }
    let empty = UnsafeRawPointer(("" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self)
    return tb_slice(data: base ?? empty, len: buffer.count)
}
