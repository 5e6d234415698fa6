/// Validation of the `type` and `path` that key an oplog (SPEC §2.3).
public enum OplogKey {
    /// 1–64 of `[A-Za-z0-9_-]`.
    public static func isValidType(_ type: String) -> Bool {
        let bytes = type.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
    }

    /// A path normalized as a POSIX absolute path (`foo//bar/./` → `/foo/bar`),
    /// or nil when it is empty, holds a NUL, or a `..` leaves the root.
    public static func normalizePath(_ path: String) -> String? {
        guard !path.isEmpty, !path.utf8.contains(0) else { return nil }
        var parts: [Substring] = []
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..":
                if parts.isEmpty { return nil }
                parts.removeLast()
            default: parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
