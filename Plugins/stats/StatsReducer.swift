// The `stats` reducer, written in Swift: any language that can export C
// functions can serve TeaBag (docs/plugins.md#shipped-reducers). `make plugins` builds it with
// `swift build --product TeaBagStatsReducer` and copies the .so to Plugins/stats.so.
//
// Type `stats`: each payload a number; the value
// `{"count":n,"max":x,"mean":m,"min":y,"sum":s}` (null while empty).
import CTeaBagReducer
import Foundation

/// Running figures of the numbers seen; also the value's JSON shape.
struct Stats: Codable {
    var count = 0
    var max = -Double.infinity
    var mean = 0.0
    var min = Double.infinity
    var sum = 0.0

    mutating func add(_ x: Double) {
        count += 1
        sum += x
        min = Swift.min(min, x)
        max = Swift.max(max, x)
        mean = sum / Double(count)
    }
}

/// What the reducer reads of an op; JSONDecoder refuses a payload that is
/// not a number (booleans and strings included).
struct Entry: Decodable { let payload: Double }

func decode<T: Decodable>(_ type: T.Type, _ slice: tb_slice) -> T? {
    guard let base = slice.data else { return nil }
    return try? JSONDecoder().decode(T.self, from: Data(bytes: base, count: slice.len))
}

func encode(_ stats: Stats?) -> String {
    guard let stats, stats.count > 0 else { return "null" }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: (try? encoder.encode(stats)) ?? Data("null".utf8), as: UTF8.self)
}

/// Writes `text` into a result the host frees with `statsFree`.
func write(_ text: String, _ out: UnsafeMutablePointer<tb_result>?) {
    guard let out else { return }
    let bytes = Array(text.utf8)
    let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
    bytes.withUnsafeBufferPointer { source in
        source.withMemoryRebound(to: CChar.self) { buffer.update(from: $0.baseAddress!, count: bytes.count) }
    }
    out.pointee = tb_result(data: buffer, len: bytes.count)
}

func statsFold(_ state: tb_slice, _ ops: tb_slice, _ out: UnsafeMutablePointer<tb_result>?) -> Int32 {
    guard let previous = decode(Stats?.self, state) else {
        write("stats: the state is not a stats object", out); return 1
    }
    guard let entries = decode([Entry].self, ops) else { write("stats: every payload must be a number", out); return 1 }
    var stats = previous ?? Stats()
    for entry in entries where entry.payload.isFinite { stats.add(entry.payload) }
    write(encode(stats), out)
    return 0
}

func statsValidate(_ payload: tb_slice, _ out: UnsafeMutablePointer<tb_result>?) -> Int32 {
    if decode(Double.self, payload) == nil { write("stats: payload must be a number", out); return 1 }
    return 0
}

func statsFree(_ result: UnsafeMutablePointer<tb_result>?) {
    guard let result, let data = result.pointee.data else { return }
    data.deallocate()
    result.pointee = tb_result(data: nil, len: 0)
}

// The descriptor lives for the life of the library, as the ABI requires.
nonisolated(unsafe) let descriptors: UnsafeMutablePointer<tb_reducer> = {
    let p = UnsafeMutablePointer<tb_reducer>.allocate(capacity: 1)
    p.initialize(to: tb_reducer(
        abi_version: UInt32(TEABAG_ABI_VERSION),
        struct_size: UInt32(MemoryLayout<tb_reducer>.size),
        type: UnsafePointer(strdup("stats")),
        version: UnsafePointer(strdup("1.0.0")),
        fold: statsFold,
        validate: statsValidate,
        free_result: statsFree))
    return p
}()

@_cdecl("teabag_reducers")
public func teabagReducers(_ count: UnsafeMutablePointer<Int>?) -> UnsafePointer<tb_reducer>? {
    count?.pointee = 1
    return UnsafePointer(descriptors)
}
