/// What a plugin directory holds, cheaply comparable, so that a poll can
/// tell a new or replaced `.so` without reading it.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Identity of one file: a replaced file has another inode, size or mtime.
struct FileSignature: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: Int64  // ns

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}

enum PluginDirectory {
    /// The `*.so` files of the directories, each directory in the order
    /// given and its files in file-name order: the order in which a disputed
    /// type goes to the first. A directory named twice (`--plugins Plugins`
    /// on top of the default `[Plugins]`) is scanned once, else each of its
    /// libraries would be refused as a duplicate of itself.
    static func scan(_ directories: [String]) -> [(path: String, signature: FileSignature)] {
        var found: [(String, FileSignature)] = []
        var seen: Set<String> = []
        for directory in directories {
            guard seen.insert(URL(fileURLWithPath: directory).resolvingSymlinksInPath().path).inserted else { continue }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { continue }
            for name in names.sorted() where name.hasSuffix(".so") && !name.hasPrefix(".") {
                let path = (directory as NSString).appendingPathComponent(name)
                if let signature = FileSignature(path: path) { found.append((path, signature)) }
            }
        }
        return found
    }
}

/// Private copies of plugin files, so that dlopen maps a file nobody will
/// overwrite. Loading the watched file itself would let `cp new.so` rewrite
/// pages under running code, and glibc returns the old handle for a path it
/// already loaded, so a replaced file would never take effect.
final class ShadowCopies: Sendable {
    private let directory: String

    init() {
        let base = NSTemporaryDirectory()
        directory = (base as NSString).appendingPathComponent("teabag-plugins-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    }

    /// Copies `path` to a fresh private name, calls `body` with it, and removes
    /// the copy (a loaded library stays mapped after its file is unlinked).
    func withCopy<R>(of path: String, _ body: (String) throws -> R) throws -> R {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let copy = (directory as NSString).appendingPathComponent("\(UUID().uuidString)-\((path as NSString).lastPathComponent)")
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        return try body(copy)
    }
}
