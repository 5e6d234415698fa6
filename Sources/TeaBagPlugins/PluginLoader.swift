/// Loads one plugin library and checks every rule of docs/plugins.md#the-abi-in-one-minute before any
/// of its reducers is used.
import CTeaBagReducer
import TeaBagCore
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Why a library was refused: safe to print on one log line.
public struct PluginLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let reason: String
    public var description: String { "\(file): \(reason)" }
}

public enum PluginLoader {
    /// The name of the one entry point.
    public static let entryPoint = "teabag_reducers"

    /// Opens `file` and returns its reducers, or throws with the reason it is refused.
    /// - Parameters:
    ///   - file: the path to report.
    ///   - loadPath: the path to dlopen (a private copy of `file`; see `ShadowCopies`).
    public static func load(file: String, loadPath: String? = nil) throws(PluginLoadError) -> [PluginReducer] {
        func refuse(_ reason: String) -> PluginLoadError { PluginLoadError(file: file, reason: reason) }
        // Unsafe 3: the handle is never closed: a reducer of this library may
        // be running on another thread, and the descriptors live inside it.
        _ = dlerror()
        guard let handle = dlopen(loadPath ?? file, RTLD_NOW | RTLD_LOCAL) else {
            let detail = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw refuse("not a loadable shared library (\(detail))")
        }
        guard let symbol = dlsym(handle, entryPoint) else {
            throw refuse("no entry point \(entryPoint)() (build it with teabag_reducer.h and export that function)")
        }
        typealias Entry = @convention(c) (UnsafeMutablePointer<Int>) -> UnsafePointer<tb_reducer>?
        let entry = unsafeBitCast(symbol, to: Entry.self)
        var count = 0
        guard let array = entry(&count) else { throw refuse("\(entryPoint)() returned NULL") }
        guard count > 0 else { throw refuse("\(entryPoint)() declares no reducer (count 0)") }
        guard count <= 1024 else { throw refuse("\(entryPoint)() declares \(count) reducers; at most 1024") }

        var reducers: [PluginReducer] = []
        var seen: Set<String> = []
        // Unsafe 4: the array's stride is the plugin's sizeof(tb_reducer), which
        // may be larger than ours (fields appended by a newer header). Step by
        // the first descriptor's struct_size once it is known to cover ours;
        // abi_version and struct_size are the first 8 bytes of every version.
        var stride = MemoryLayout<tb_reducer>.size
        for index in 0..<count {
            let descriptor = UnsafeRawPointer(array).advanced(by: index * stride).assumingMemoryBound(to: tb_reducer.self)
            let abi = descriptor.pointee.abi_version
            guard abi == UInt32(TEABAG_ABI_VERSION) else {
                throw refuse("reducer #\(index) has abi_version \(abi); this host speaks \(TEABAG_ABI_VERSION)")
            }
            let size = Int(descriptor.pointee.struct_size)
            guard size >= MemoryLayout<tb_reducer>.size else {
                throw refuse("reducer #\(index) has struct_size \(size), smaller than this host's \(MemoryLayout<tb_reducer>.size) (built against an older teabag_reducer.h?)")
            }
            if index == 0 {
                stride = size
            } else if size != stride {
                throw refuse("reducer #\(index) has struct_size \(size) but reducer #0 has \(stride); one array holds one size")
            }
            guard let typePointer = descriptor.pointee.type else { throw refuse("reducer #\(index) has a NULL type") }
            let type = String(cString: typePointer)
            guard OplogKey.isValidType(type) else {
                throw refuse("reducer #\(index) has a bad type name \"\(type)\" (1-64 of [A-Za-z0-9_-])")
            }
            guard descriptor.pointee.fold != nil else { throw refuse("reducer \"\(type)\" has a NULL fold") }
            guard descriptor.pointee.free_result != nil else { throw refuse("reducer \"\(type)\" has a NULL free_result") }
            guard seen.insert(type).inserted else { throw refuse("declares type \"\(type)\" twice") }
            let version = descriptor.pointee.version.map { String(cString: $0) } ?? ""
            reducers.append(PluginReducer(descriptor: descriptor, type: type, version: version, file: file))
        }
        return reducers
    }
}

/// The ABI version this host speaks, for display.
public let TEABAG_ABI_VERSION_VALUE = Int(TEABAG_ABI_VERSION)
